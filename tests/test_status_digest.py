"""`csac status` and `csac digest` for regional teams (issue 11, point 7).

`status` filters by region, SIRET, free text, state and first day, and reads in 80 columns, in French.
Region names are typed as people type them. The digest speaks French (no codes, no ISO dates), has a
version for the triage mailbox, and, sent without a relay, lands in the outbox intake delivers to.

The journal holds real deposits taken in by intake; the commands run in this process (typer's
CliRunner) with the terminal's width in COLUMNS; the digests sent are read back from their Maildir.
"""

from __future__ import annotations

import datetime as dt
import email
import json
import mailbox
import re
import shutil
import sqlite3
from dataclasses import dataclass, replace
from decimal import Decimal
from email import policy
from pathlib import Path

import pytest

from pipeline.dates import long_date, parse_day
from pipeline.deliver import new_message
from pipeline.errors import ArgumentError, ExitCode
from pipeline.intake import take_in
from pipeline.mailqueue import MailQueue
from pipeline.problems import CODES
from pipeline.resources import Workspace
from tests import builders as b
from tests.test_cli_options import SOURCES, csac, folder_given, fresh_folder, ok  # noqa: F401 (autouse)

BETHUNE = b.Entity("Communauté d’Agglomération de Béthune-Bruay, Artois-Lys Romane", b.make_siret(3030),
                   postal_code="62411", city="BETHUNE CEDEX")  # fmt: skip
ARRAS = b.Entity()  # Commune de Test-sur-Mer, Arras: Hauts-de-France
AJACCIO = b.Entity("Commune d'Ajaccio", b.make_siret(2020), postal_code="20000", city="AJACCIO")
ABROAD = b.Entity(postal_code="98000", city="MONACO")  # no French region: triage
RENNES = b.Entity("Commune de Rennes", b.make_siret(3535), postal_code="35000", city="RENNES")
CANCELLED = "l'EJ joint est annulé, merci d'utiliser l'EJ 1300099999"  # puts the deposit under review
DUE = Decimal("1000")  # a commune of 60,000 on lot 2
NARROW = {"COLUMNS": "80"}
WIDE = {"COLUMNS": "1000"}
FRENCH_TIME = re.compile(r"\b\d{2}/\d{2}/\d{4} \d{2}:\d{2}\b")
ISO_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


@dataclass(frozen=True)
class Journal:
    """The state folder holding the deposits below, and their numbers by name."""

    state: Path
    ids: dict[str, str]  # bethune, arras, ajaccio, damaged, abroad
    dossiers: dict[str, str]  # the dossier each of the first three opened


def _triage_zip(renderer, resources) -> bytes:
    """A deposit whose every postal code is abroad, from a signatory csac never rendered."""
    docs = b.rendered(renderer, resources, ARRAS, "2021-063-002")
    return b.zip_of([("c.pdf", b.convention_pdf(docs["convention"])), ("a.pdf", b.annex_pdf(ABROAD, "Autres")),
                     ("o.pdf", b.order_pdf(ABROAD, Decimal("500"), market="2021-063-002"))])  # fmt: skip


def _deposit(renderer, resources, entity: b.Entity, order: bool) -> bytes:
    docs = b.rendered(renderer, resources, entity, "2021-045-lot2")
    members = [("convention.pdf", b.convention_pdf(docs["convention"])), ("annexe.xlsx", docs["annex"])]
    return b.zip_of(members + ([("EJ.pdf", b.order_pdf(entity, DUE))] if order else []))


@pytest.fixture(scope="module")
def journal(tmp_path_factory, loaded_intake, renderer, resources) -> Journal:
    """Five deposits taken in by intake: Béthune complete and Arras incomplete (Hauts-de-France),
    Ajaccio incomplete (Corse), a damaged ZIP (refused) and one whose region is unknown (triage)."""
    root = tmp_path_factory.mktemp("journal")
    ws = Workspace(root / "depots", root / "courrier", root / "etat")
    ctx = replace(loaded_intake, workspace=ws, config=replace(loaded_intake.config, workspace=ws))
    drops = {
        "bethune": (_deposit(renderer, resources, BETHUNE, order=True), b.form(BETHUNE)),
        "arras": (_deposit(renderer, resources, ARRAS, order=False), b.form(ARRAS)),
        "ajaccio": (_deposit(renderer, resources, AJACCIO, order=False), b.form(AJACCIO)),
        "damaged": (_deposit(renderer, resources, ARRAS, order=False)[:300], None),
        "abroad": (_triage_zip(renderer, resources), b.form(ABROAD, market="2021-063-002")),
        "rennes": (_deposit(renderer, resources, RENNES, order=True), b.form(RENNES, message=CANCELLED)),
    }
    ws.inbox.mkdir()
    reports = {}
    for name, (data, form) in drops.items():
        path = ws.inbox / f"depot-{name}.zip"
        path.write_bytes(data)
        if form:
            b.write_form(path, form)
        reports[name] = take_in(path, ctx)
    dossiers = {n: reports[n].dossiers[0].dossier_id for n in ("bethune", "arras", "ajaccio")}
    return Journal(ws.state, {n: r.deposit_id for n, r in reports.items()}, dossiers)


@pytest.fixture
def state(journal, tmp_path) -> Path:
    """A copy of the journal's state folder: a command may write there (delivered messages)."""
    return Path(shutil.copytree(journal.state, tmp_path / "etat"))


def listed(state: Path, *args: str) -> set[str]:
    """The deposit numbers `csac status --json` lists."""
    return {r["id"] for r in json.loads(ok("status", "--state", state, "--json", *args).stdout)}


def named(journal: Journal, *names: str) -> set[str]:
    return {journal.ids[n] for n in names}


def messages(folder: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(m.as_bytes(), policy=policy.default)
        for m in mailbox.Maildir(folder, create=False)
    ]


def body(msg) -> str:
    return msg.get_body(("plain",)).get_content()


# -- status: 80 columns, in French ----------------------------------------------------------------


def test_status_fits_80_columns(state):
    lines = ok("status", "--state", state, env=NARROW).stdout.splitlines()
    assert len(lines) > 5 and max(len(line) for line in lines) <= 80


def test_status_shows_date_number_organisation_region_and_state_in_french_in_80_columns(journal, state):
    table = ok("status", "--state", state, env=NARROW).stdout
    assert all(head in table for head in ("reçu le", "n° de dépôt", "organisation", "région", "état"))
    [row] = [line for line in table.splitlines() if journal.ids["ajaccio"] in line]
    assert FRENCH_TIME.search(row) and "Commune d" in row and "Corse" in row and "incomplet" in row


@pytest.mark.parametrize(
    ("name", "state_fr"), [("bethune", "complet"), ("damaged", "refusé"), ("rennes", "à vérifier")]
)
def test_status_says_each_state_in_french(name, state_fr, journal, state):
    [row] = [line for line in ok("status", "--state", state).stdout.splitlines() if journal.ids[name] in line]
    assert row.rstrip().endswith(state_fr)


def test_a_long_organisation_name_is_cut_with_an_ellipsis_on_its_own_line(journal, state):
    table = ok("status", "--state", state, env=NARROW).stdout
    [row] = [line for line in table.splitlines() if journal.ids["bethune"] in line]
    assert "Communauté" in row and "…" in row and row.rstrip().endswith("complet")
    assert "Romane" not in table  # the rest of the name is not wrapped onto lines of its own


def test_status_lists_the_journal_as_json_with_english_keys_and_values(journal, state):
    rows = json.loads(ok("status", "--state", state, "--json").stdout)
    ajaccio = next(r for r in rows if r["id"] == journal.ids["ajaccio"])
    assert ajaccio["status"] == "incomplete" and ajaccio["mailbox"] == "Corse@resah.fr"
    assert ajaccio["signatory"] == AJACCIO.name and "purchase_order_missing" in ajaccio["problems"]


def test_status_json_says_which_deposit_is_under_review(journal, state):
    rows = {r["id"]: r for r in json.loads(ok("status", "--state", state, "--json").stdout)}
    assert rows[journal.ids["rennes"]]["review"] is True and rows[journal.ids["bethune"]]["review"] is False
    assert rows[journal.ids["rennes"]]["status"] == "complete"  # the verdict keeps its enum


def test_status_says_in_french_which_messages_wait_for_the_relay(journal, state):
    deposit = journal.ids["ajaccio"]
    msg = new_message(
        "Corse@resah.fr", "[CSAC] Dépôt", "Bonjour,\n", deposit, "region", "2026-12-01T10:00:00+01:00"
    )
    MailQueue(state).enqueue(
        msg, deposit, "Corse@resah.fr", ["Corse@resah.fr"]
    )  # as intake does with a relay
    lines = ok("status", "--state", state, env=NARROW).stdout.splitlines()
    assert "Courriels par le relais SMTP — en attente d'envoi : 1" in lines
    assert f"{deposit} — courriel à Corse@resah.fr : en attente d'envoi" in lines


def test_status_says_when_no_deposit_matches(state):
    assert "Aucun dépôt ne correspond" in ok("status", "--state", state, "--siret", b.make_siret(9999)).stdout


# -- status: filters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "region",
    ["Hauts-de-France", "hauts de france", "HAUTS DE FRANCE", "Hauts-de-France@resah.fr", "hauts-de-france"],
)
def test_status_region_keeps_the_deposits_of_the_region_named(region, journal, state):
    assert listed(state, "--region", region) == named(journal, "bethune", "arras")


def test_status_region_triage_keeps_the_deposits_whose_region_is_unknown(journal, state):
    assert listed(state, "--region", "triage") == named(journal, "abroad")


def test_status_of_one_region_leaves_its_name_out_of_the_table(journal, state):
    table = ok("status", "--state", state, "--region", "corse", env=NARROW).stdout
    assert journal.ids["ajaccio"] in table and "région" not in table and "Corse" not in table


@pytest.mark.parametrize("siret", [AJACCIO.siret, b.spaced(AJACCIO.siret)])
def test_status_siret_keeps_the_signatorys_deposits_whatever_the_spaces(siret, journal, state):
    assert listed(state, "--siret", siret) == named(journal, "ajaccio")


@pytest.mark.parametrize(
    ("search", "found"),
    [
        ("bethune bruay", "bethune"),  # the organisation, without its accent and hyphen
        ("AJACCIO", "ajaccio"),  # the organisation, in capitals
        ("depot-arras.zip", "arras"),  # the file name
        ("abime", None),  # nothing: "damaged" is the file's name, not "abîmé"
    ],
)
def test_status_search_looks_in_the_organisation_and_the_file_name(search, found, journal, state):
    assert listed(state, "--search", search) == (named(journal, found) if found else set())


@pytest.mark.parametrize(
    ("search", "file"),
    [("oeuvre hospitaliere", "Œuvre hospitalière"), ("ŒUVRE", "Œuvre hospitalière"), ("coeur", "Cœur de ville"),
     ("cœur de ville", "Cœur de ville"), ("laetitia", "Lætitia")],
)  # fmt: skip
def test_status_search_finds_oe_and_ae_typed_as_french_keyboards_do(search, file, loaded_intake, tmp_path):
    """The same folding as the desk's search: œ and æ are typed oe and ae (and found either way)."""
    ws = Workspace(tmp_path / "depots", tmp_path / "courrier", tmp_path / "etat")
    ctx = replace(loaded_intake, workspace=ws, config=replace(loaded_intake.config, workspace=ws))
    ws.inbox.mkdir()
    ids = {}
    for name in ("Œuvre hospitalière", "Cœur de ville", "Lætitia", "Autre"):
        (ws.inbox / f"{name}.zip").write_bytes(f"pas une archive : {name}".encode())
        ids[name] = take_in(ws.inbox / f"{name}.zip", ctx).deposit_id
    assert listed(ws.state, "--search", search) == {ids[file]}


@pytest.mark.parametrize("search", ["%", "_", "'", ""])
def test_status_search_without_a_letter_or_a_digit_exits_1_instead_of_listing_everything(search, state):
    result = csac("status", "--state", state, "--search", search)
    assert isinstance(result.exception, ArgumentError) and result.exception.exit_code == ExitCode.bad_args
    assert "ne contient ni lettre ni chiffre" in str(result.exception)


def test_status_search_finds_a_deposit_by_its_number(journal, state):
    assert listed(state, "--search", journal.ids["damaged"]) == named(journal, "damaged")


def test_status_search_finds_the_deposits_of_a_dossier_by_its_number(journal, state):
    assert listed(state, "--search", journal.dossiers["arras"]) == named(journal, "arras")


@pytest.mark.parametrize(
    ("status", "names"),
    [
        ("complet", ("bethune",)),
        ("complete", ("bethune",)),
        ("incomplet", ("arras", "ajaccio", "abroad")),
        ("INCOMPLETE", ("arras", "ajaccio", "abroad")),
        ("refusé", ("damaged",)),
        ("refuse", ("damaged",)),
        ("rejected", ("damaged",)),
        ("à vérifier", ("rennes",)),
        ("A VERIFIER", ("rennes",)),
        ("review", ("rennes",)),
    ],
)
def test_status_status_keeps_the_deposits_in_that_state_named_in_french_or_english(
    status, names, journal, state
):
    assert listed(state, "--status", status) == named(journal, *names)


def test_status_with_an_unknown_state_exits_1_naming_the_states_in_french(state):
    result = csac("status", "--state", state, "--status", "perdu")
    assert isinstance(result.exception, ArgumentError) and result.exception.exit_code == ExitCode.bad_args
    assert "état inconnu : perdu" in str(result.exception) and "incomplet" in str(result.exception)


@pytest.mark.parametrize(
    ("since", "days_after_today", "all_listed"),
    [("{iso}", 0, True), ("{fr}", 0, True), ("{fr}", 1, False), ("{iso}", 1, False)],
)
def test_status_since_keeps_the_deposits_received_from_that_day(
    since, days_after_today, all_listed, journal, state
):
    day = dt.date.today() + dt.timedelta(days=days_after_today)
    text = since.format(iso=day.isoformat(), fr=day.strftime("%d/%m/%Y"))
    assert listed(state, "--since", text) == (set(journal.ids.values()) if all_listed else set())


def received_days_ago(state: Path, deposit_id: str, days: int) -> None:
    """The deposit as the journal would hold it had it come `days` days ago."""
    at = (dt.datetime.now().astimezone() - dt.timedelta(days=days)).isoformat(timespec="seconds")
    with sqlite3.connect(state / "journal.sqlite") as conn:
        conn.execute("UPDATE deposits SET received_at = ? WHERE id = ?", (at, deposit_id))


@pytest.mark.parametrize("since", ["7j", "7 jours", "1 semaine"])
def test_status_since_a_number_of_days_leaves_out_what_came_before(since, journal, state):
    received_days_ago(state, journal.ids["arras"], 10)
    assert listed(state, "--since", since) == set(journal.ids.values()) - named(journal, "arras")


def test_status_since_that_is_not_a_date_exits_1_saying_how_to_write_one(state):
    result = csac("status", "--state", state, "--since", "hier")
    assert isinstance(result.exception, ArgumentError) and result.exception.exit_code == ExitCode.bad_args
    assert "« hier » n'est pas une date" in str(result.exception) and "01/11/2026" in str(result.exception)


# -- the days people write ------------------------------------------------------------------------

TODAY = dt.date(2026, 11, 8)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026-11-01", dt.date(2026, 11, 1)),  # ISO
        ("01/11/2026", dt.date(2026, 11, 1)),  # as French writes it
        ("7j", dt.date(2026, 11, 1)),
        ("7 J", dt.date(2026, 11, 1)),
        ("7 jours", dt.date(2026, 11, 1)),
        ("1 jour", dt.date(2026, 11, 7)),
        ("0j", TODAY),
        ("2 semaines", dt.date(2026, 10, 25)),
    ],
)
def test_a_first_day_is_a_date_or_a_number_of_days_or_weeks_back(text, day):
    assert parse_day(text, TODAY) == day


@pytest.mark.parametrize("text", ["hier", "7", "32/01/2026", "2026-13-01", "11/01/26", "sept jours"])
def test_anything_else_is_not_a_first_day(text):
    with pytest.raises(ValueError, match="n'est pas une date"):
        parse_day(text, TODAY)


# -- region names, wherever a person types one ----------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "region_id"),
    [
        ("hauts de france", "hauts-de-france"),
        ("Hauts-de-France", "hauts-de-france"),
        ("HAUTS DE FRANCE", "hauts-de-france"),
        ("Hauts-de-France@resah.fr", "hauts-de-france"),
        ("hauts-defrance@resah.fr", "hauts-de-france"),  # the bulletin's broken spelling
        ("ile de france", "ile-de-france"),
        ("Île-de-France", "ile-de-france"),
        ("provence alpes cote d'azur", "provence-alpes-cote-d-azur"),
        ("Provence-Alpes-Côte d’Azur", "provence-alpes-cote-d-azur"),
        ("centre val de loire", "centre-val-de-loire"),
        ("Réunion", "la-reunion-mayotte"),  # a part only one region's name holds
        ("triage", "triage"),
    ],
)
def test_a_region_is_found_whatever_the_case_accents_hyphens_or_apostrophes(typed, region_id, regions):
    assert regions.find(typed).id == region_id


@pytest.mark.parametrize(
    ("typed", "offered"),
    [("bretagen", ["Bretagne"]), ("france", ["Hauts-de-France", "Île-de-France"])],
)
def test_a_region_mistyped_or_ambiguous_is_refused_with_the_closest_names(typed, offered, regions):
    with pytest.raises(ArgumentError, match=f"région inconnue : {typed} — vouliez-vous dire") as refused:
        regions.find(typed)
    assert all(name in str(refused.value) for name in offered) and "Corse" not in str(refused.value)


def test_a_region_nobody_knows_is_refused_with_every_name(regions):
    with pytest.raises(ArgumentError, match="région inconnue : Atlantide — régions : ") as refused:
        regions.find("Atlantide")
    assert all(r.name in str(refused.value) for r in regions.regions)


def test_dossier_list_region_is_named_as_people_type_it(journal, state):
    listed = json.loads(
        ok("dossier", "list", "--region", "hauts de france", "--state", state, "--json").stdout
    )
    assert {d["dossier_id"] for d in listed} == {journal.dossiers["bethune"], journal.dossiers["arras"]}


def test_dossier_export_region_is_named_as_people_type_it(state):
    result = ok("dossier", "export", "--region", "HAUTS DE FRANCE", "--format", "csv", "--state", state)
    assert "2 dossier(s) de Hauts-de-France" in result.stdout


# -- the regional digest --------------------------------------------------------------------------


@pytest.mark.parametrize("region", ["hauts de france", "HAUTS DE FRANCE", "Hauts-de-France@resah.fr"])
def test_digest_region_is_named_as_people_type_it(region, state):
    result = ok("digest", "--region", region, "--since", "7j", "--state", state)
    assert "Synthèse des dépôts — Hauts-de-France —" in result.stdout and "Dépôts reçus : 2 " in result.stdout


@pytest.mark.parametrize(
    ("since", "said"),
    [
        ("01/11/2026", "depuis le 1er novembre 2026"),
        ("7 jours", f"depuis le {long_date(dt.date.today() - dt.timedelta(days=7))}"),
    ],
)
def test_digest_since_is_a_date_or_a_number_of_days_back(since, said, state):
    assert said in ok("digest", "--region", "Corse", "--since", since, "--state", state).stdout


def sent_digest(state: Path, region: str, outbox: Path, *before: str | Path) -> email.message.EmailMessage:
    """`csac digest --send` without a relay, and the digest read back from the region's Maildir."""
    args = ("digest", "--region", region, "--since", "7j", "--state", state, "--outbox", outbox, "--send")
    result = ok(*before, *args)
    mailbox_name = result.stdout.rsplit("synthèse envoyée à ", 1)[1].strip()
    [digest] = [
        m for m in messages(outbox / mailbox_name) if "Synthèse" in m["Subject"] or "orienter" in m["Subject"]
    ]
    return digest


@pytest.mark.parametrize("how", SOURCES)
def test_digest_sent_without_a_relay_lands_in_the_outbox_intake_uses(how, state, tmp_path):
    before, after, env = folder_given(how, "outbox", tmp_path / "courrier")
    result = ok(
        *before, "digest", "--region", "corse", "--since", "7j", "--state", state, "--send", *after, env=env
    )
    assert "synthèse envoyée à Corse@resah.fr" in result.stdout
    [digest] = messages(tmp_path / "courrier" / "Corse@resah.fr")
    assert digest["Subject"].startswith("[CSAC] Synthèse des dépôts — Corse — depuis le ")
    assert not Path("outbox").exists()


def test_the_digest_says_what_a_dossier_waits_for_in_french_words(state, tmp_path):
    text = body(sent_digest(state, "corse", tmp_path / "courrier"))
    assert "en attente du déposant (bon de commande absent)" in text
    assert "Commune d'Ajaccio" in text and "accord-cadre 2021-045 lot 2" in text


@pytest.mark.parametrize("region", ["hauts de france", "corse", "triage"])
def test_no_digest_shows_a_code_an_iso_date_or_none(region, state, tmp_path):
    text = body(sent_digest(state, region, tmp_path / "courrier"))
    words = set(re.findall(r"[a-z_]+", text))
    assert not words & set(CODES) and not ISO_DAY.search(text) and "None" not in text
    assert "lot2" not in text and "[" not in text


# -- the triage digest ----------------------------------------------------------------------------


def test_the_triage_digest_lists_each_deposit_whose_region_is_unknown_with_what_was_read(
    journal, state, tmp_path
):
    digest = sent_digest(state, "triage", tmp_path / "courrier")
    assert digest["To"] == "triage@resah.fr"
    assert digest["Subject"].startswith("[CSAC] Dépôts à orienter — Triage (région indéterminée) — depuis le")
    text = body(digest)
    assert "Dépôts à orienter vers leur région : 1" in text
    assert re.search(rf"- Dépôt n° {journal.ids['abroad']}, reçu le \d\d/\d\d/\d{{4}} à \d\d:\d\d", text)
    assert "fichier : depot-abroad.zip" in text and "Déposant : achats@test-sur-mer.example" in text


def test_the_triage_digest_says_what_a_clerk_does_with_each_deposit(state, tmp_path):
    text = body(sent_digest(state, "triage", tmp_path / "courrier"))
    assert "retrouver la région du signataire" in text
    assert (
        "transférer le message du dépôt reçu dans cette boîte, avec le ZIP joint, à la boîte de la région"
        in text
    )
    assert "répondre au déposant" in text


def test_the_triage_digests_html_lists_the_deposit_and_what_to_do(journal, state, tmp_path):
    page = sent_digest(state, "triage", tmp_path / "courrier").get_body(("html",)).get_content()
    assert f"Dépôt n° {journal.ids['abroad']}" in page and "<ol><li>retrouver la région du signataire" in page


def test_the_triage_digest_holds_no_deposit_of_a_known_region(journal, state, tmp_path):
    text = body(sent_digest(state, "triage", tmp_path / "courrier"))
    assert not any(journal.ids[n] in text for n in ("bethune", "arras", "ajaccio", "damaged"))


def test_the_triage_digest_goes_to_the_triage_mailbox_the_configuration_sets(state, tmp_path):
    config = tmp_path / "csac.yaml"
    config.write_text("mailboxes: {triage: tri@resah.fr}\n", encoding="utf-8")
    digest = sent_digest(state, "triage", tmp_path / "courrier", "--config", config)  # before the command
    assert digest["To"] == "tri@resah.fr"
