"""The regional teams' commands on dossiers: list, show, accept, refuse, set, export.

The dossiers come from real deposits taken in once per module (signed conventions, annexes, orders):
a complete one, one whose wrong order was replaced by a corrected one sent alone, and one in Corsica
still waiting for its order. Each test works on its own copy of that journal and outbox, through
`csac` run in this process (typer's CliRunner); a refusal goes through the Maildirs, and once through
a real SMTP relay on loopback.
"""

from __future__ import annotations

import csv
import datetime as dt
import email
import io
import json
import mailbox
import os
import shutil
import sys
from dataclasses import dataclass, replace
from decimal import Decimal
from email import policy
from pathlib import Path

import pytest
from openpyxl import load_workbook

from pipeline import api
from pipeline.casefile import age_days
from pipeline.cli import main
from pipeline.config import Config
from pipeline.decide import UnknownDossier, refusal_message
from pipeline.deliver import DEPOSITORS, Courier, Outgoing
from pipeline.dossiers import DossierBook, DossierStatus
from pipeline.errors import ArgumentError, ExitCode
from pipeline.intake import take_in
from pipeline.money import format_eur
from pipeline.resources import Workspace
from tests import builders as b
from tests.relays import Behaviour, LoopbackRelay, write_config
from tests.test_cli_options import csac, ok  # `csac` run in this process, in a wide terminal

HDF, CORSE = "Hauts-de-France@resah.fr", "Corse@resah.fr"
AGGLO = b.Entity("Communauté d'agglomération de Béthune-Bruay", b.make_siret(5151), "communaute_agglomeration",
                 address="100 avenue de Londres", postal_code="62400", city="BETHUNE")  # fmt: skip
COMMUNE = b.Entity()  # Test-sur-Mer, 62000 Arras: Hauts-de-France
AJACCIO = b.Entity("Commune d'Ajaccio", b.make_siret(2020), "commune", 70000, "Avenue Antoine Serafini",
                   "20000", "AJACCIO")  # fmt: skip
EMAILS = {AGGLO.siret: "achats@agglo.example", COMMUNE.siret: "achats@test-sur-mer.example",
          AJACCIO.siret: "marches@ajaccio.example"}  # fmt: skip
DUE = Decimal("1000")  # each of them, on 2021-045 lot 2
REASON = "La convention a été signée par une personne qui n'a pas délégation de signature."
# On one xdist worker: the deposits are then taken in once (`desk`), not once on each worker.
pytestmark = pytest.mark.xdist_group("dossier-commands")


def dossier_of(entity: b.Entity) -> str:
    return f"{entity.siret}-2021-045-lot2"


AGGLO_ID, COMMUNE_ID, AJACCIO_ID = (dossier_of(e) for e in (AGGLO, COMMUNE, AJACCIO))


@dataclass(frozen=True)
class Desk:
    """A state folder and an outbox after the deposits, and the deposits' ids."""

    state: Path
    outbox: Path
    wrong_order: str  # the commune's first deposit, with an order of 900 €
    corrected_order: str  # its order of 1 000 € sent alone, days later


def _deposit(folder: Path, name: str, entity: b.Entity, members: list[tuple[str, bytes]], **fields) -> Path:
    path = folder / name
    path.write_bytes(b.zip_of(members))
    b.write_form(path, b.form(entity, email=EMAILS[entity.siret], **fields))
    return path


@pytest.fixture(scope="module")
def desk(tmp_path_factory, renderer, resources, loaded_intake) -> Desk:
    """The deposits, taken in once: the agglomeration's complete, the commune's wrong order then its
    corrected order alone, Ajaccio's without its order."""
    root = tmp_path_factory.mktemp("desk")
    ws = Workspace(root / "inbox", root / "courrier", root / "etat")
    ctx = replace(loaded_intake, workspace=ws, config=replace(loaded_intake.config, workspace=ws))
    drops = root / "drops"
    drops.mkdir()

    def signed(entity):
        docs = b.rendered(renderer, resources, entity, "2021-045-lot2")
        return [
            ("Convention signée.pdf", b.convention_pdf(docs["convention"])),
            ("Annexe.xlsx", docs["annex"]),
        ]

    take_in(_deposit(drops, "agglo.zip", AGGLO, [*signed(AGGLO), ("EJ.pdf", b.order_pdf(AGGLO, DUE))]), ctx)
    wrong = take_in(
        _deposit(
            drops, "commune.zip", COMMUNE, [*signed(COMMUNE), ("EJ.pdf", b.order_pdf(COMMUNE, Decimal(900)))]
        ),
        ctx,
    )
    corrected = take_in(
        _deposit(
            drops,
            "commune-bc.zip",
            COMMUNE,
            [("EJ corrigé.pdf", b.order_pdf(COMMUNE, DUE, ej="1300054321"))],
            reference_commande="1300054321",  # the form gives the corrected order's EJ
        ),
        ctx,
    )
    take_in(_deposit(drops, "ajaccio.zip", AJACCIO, signed(AJACCIO)), ctx)
    return Desk(ws.state, ws.outbox, wrong.deposit_id, corrected.deposit_id)


@pytest.fixture(autouse=True)
def at_the_desk(desk, tmp_path, monkeypatch):
    """Each test in an empty folder holding its own copy of the journal (etat/) and outbox (courrier/),
    which CSAC_STATE and CSAC_OUTBOX name; no other CSAC_* setting from the environment."""
    monkeypatch.chdir(tmp_path)
    for var in [v for v in os.environ if v.startswith("CSAC_") and v != "CSAC_HOME"]:
        monkeypatch.delenv(var)
    shutil.copytree(desk.state, "etat")
    shutil.copytree(desk.outbox, "courrier")
    monkeypatch.setenv("CSAC_STATE", "etat")
    monkeypatch.setenv("CSAC_OUTBOX", "courrier")


@pytest.fixture
def elsewhere(monkeypatch) -> Path:
    """The journal moved to ailleurs/, which nothing names: only the option given finds it."""
    shutil.move("etat", "ailleurs")
    monkeypatch.delenv("CSAC_STATE")
    return Path("ailleurs")


def listed(*options: str, env: dict | None = None) -> list[dict]:
    return json.loads(ok("dossier", "list", "--json", *options, env=env).stdout)


def shown(dossier: str) -> dict:
    return json.loads(ok("dossier", "show", dossier, "--json").stdout)


def refused_with_an_error(result, *words: str) -> bool:
    """Exit 1 (pipeline/errors.py's bad_args), with a French message holding `words`."""
    text = str(result.exception)
    return (
        isinstance(result.exception, ArgumentError)
        and result.exception.exit_code == ExitCode.bad_args
        and all(w in text for w in words)
    )


def today_iso(at: str) -> bool:
    return dt.datetime.fromisoformat(at).date() == dt.date.today()


def maildir(folder: Path) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(m.as_bytes(), policy=policy.default) for m in mailbox.Maildir(folder)]


def refusals(folder: Path) -> list[email.message.EmailMessage]:
    return [m for m in maildir(folder) if m["X-CSAC-Dossier-Id"]]


def body(msg) -> str:
    return msg.get_body(("plain",)).get_content()


# -- list -----------------------------------------------------------------------------------------


def test_list_shows_each_dossier_with_its_state_in_french_and_what_is_missing():
    lines = ok("dossier", "list").stdout.splitlines()
    ajaccio = next(line for line in lines if AJACCIO_ID in line)
    assert "incomplet" in ajaccio and "bon de commande absent" in ajaccio and "Corse" in ajaccio
    agglo = next(line for line in lines if AGGLO_ID in line)
    assert "complet" in agglo and "incomplet" not in agglo and AGGLO.siret in agglo


def test_list_in_80_columns_gives_each_dossier_lines_of_its_own_none_wrapped():
    lines = ok("dossier", "list", env={"COLUMNS": "80"}).stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    at = lines.index(next(line for line in lines if line.startswith(AJACCIO_ID)))
    head, who, what, lacks = lines[at : at + 4]
    assert head == f"{AJACCIO_ID} — incomplet — 0 j" and AJACCIO.siret in who
    assert (
        what == "  accord-cadre 2021-045 lot 2 — Corse"
        and lacks == "  à régulariser : bon de commande absent"
    )


def test_list_without_json_is_a_table_for_people():
    result = ok("dossier", "list")
    assert "à régulariser" in result.stdout and "3 dossier(s)" in result.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stdout)


def test_list_json_gives_each_dossier_with_english_keys():
    found = {d["dossier_id"]: d for d in listed()}
    assert set(found) == {AGGLO_ID, COMMUNE_ID, AJACCIO_ID}
    ajaccio = found[AJACCIO_ID]
    assert (ajaccio["status"], ajaccio["region"], ajaccio["age_days"]) == ("incomplete", "Corse", 0)
    assert [p["code"] for p in ajaccio["problems"]] == ["purchase_order_missing"]
    assert (ajaccio["due"], ajaccio["email"], ajaccio["follow_up"]) == (
        "1000.00",
        "marches@ajaccio.example",
        None,
    )


def test_the_age_is_counted_in_days_from_the_first_deposit():
    [ajaccio] = api.list_dossiers(api.DossierQuery(search="Ajaccio"))
    opened = dt.datetime.fromisoformat(ajaccio.opened_at).date()
    assert age_days(ajaccio, opened + dt.timedelta(days=12)) == 12


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("Corse", {AJACCIO_ID}),
        ("corse@resah.fr", {AJACCIO_ID}),
        ("hauts-de-france", {AGGLO_ID, COMMUNE_ID}),
        ("Bretagne", set()),
    ],
)
def test_list_region_keeps_the_dossiers_of_the_region_named(region, expected):
    assert {d["dossier_id"] for d in listed("--region", region)} == expected


def test_list_for_an_unknown_region_exits_1_naming_the_regions():
    result = csac("dossier", "list", "--region", "Atlantide")
    assert refused_with_an_error(result, "région inconnue : Atlantide", "Hauts-de-France")


@pytest.mark.parametrize(
    ("status", "expected"),
    [("incomplete", {AJACCIO_ID}), ("complete", {AGGLO_ID, COMMUNE_ID}), ("refused", set())],
)
def test_list_status_keeps_the_dossiers_in_that_state(status, expected):
    assert {d["dossier_id"] for d in listed("--status", status)} == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [("incomplet", {AJACCIO_ID}), ("COMPLET", {AGGLO_ID, COMMUNE_ID}), ("Refusé", set()), ("refuse", set())],
)
def test_list_status_is_understood_in_french_whatever_the_case_and_accents(status, expected):
    assert {d["dossier_id"] for d in listed("--status", status)} == expected


@pytest.mark.parametrize("accepted", ["accepté", "ACCEPTE"])
def test_list_status_accepte_keeps_the_dossiers_a_person_accepted(accepted):
    ok("dossier", "accept", AJACCIO_ID, *BY, "--note", "EJ reçu par courrier")
    assert [d["dossier_id"] for d in listed("--status", accepted)] == [AJACCIO_ID]


def test_list_status_a_verifier_keeps_the_dossiers_under_review_and_complet_no_longer_does(
    renderer, resources
):
    entity = b.Entity("Commune de Lens", b.make_siret(6262))
    docs = b.rendered(renderer, resources, entity, "2021-045-lot2")
    path = Path("lens.zip")
    path.write_bytes(
        b.zip_of(
            [
                ("Convention.pdf", b.convention_pdf(docs["convention"])),
                ("Annexe.xlsx", docs["annex"]),
                ("EJ.pdf", b.order_pdf(entity, DUE)),
            ]
        )
    )
    b.write_form(path, b.form(entity, message="L'EJ joint est annulé, merci d'utiliser l'EJ 1300099999."))
    ok("intake", str(path))
    review = dossier_of(entity)
    assert [d["dossier_id"] for d in listed("--status", "À vérifier")] == [review]
    assert [d["dossier_id"] for d in listed("--status", "review")] == [review]
    assert review not in {d["dossier_id"] for d in listed("--status", "complet")}


def test_list_with_an_unknown_status_exits_1_naming_the_states_in_french():
    result = csac("dossier", "list", "--status", "en cours")
    assert refused_with_an_error(
        result, "état inconnu : en cours", "complet", "incomplet", "accepté", "refusé", "à vérifier"
    )


@pytest.mark.parametrize("siret", [AJACCIO.siret, b.spaced(AJACCIO.siret)])
def test_list_siret_keeps_the_signatorys_dossiers_whatever_the_spaces(siret):
    assert [d["dossier_id"] for d in listed("--siret", siret)] == [AJACCIO_ID]


@pytest.mark.parametrize("text", ["ajaccio", "Béthune", COMMUNE.siret[:9]])
def test_list_search_finds_a_dossier_by_part_of_its_signatorys_name_or_siret(text):
    expected = {"ajaccio": AJACCIO_ID, "Béthune": AGGLO_ID}.get(text, COMMUNE_ID)
    assert [d["dossier_id"] for d in listed("--search", text)] == [expected]


def test_list_with_nothing_matching_says_so():
    assert "Aucun dossier ne correspond" in ok("dossier", "list", "--search", "Lutèce").stdout


@pytest.mark.parametrize("how", ["option", "--config", "environment"])
def test_list_reads_the_journal_of_the_state_folder_given(how, elsewhere):
    before, after, env = {
        "option": ([], ["--state", "ailleurs"], {}),
        "--config": (["--config", "conf.yaml"], [], {}),
        "environment": ([], [], {"CSAC_STATE": "ailleurs"}),
    }[how]
    Path("conf.yaml").write_text("paths: {state: ailleurs}\n", encoding="utf-8")
    assert len(json.loads(ok(*before, "dossier", "list", "--json", *after, env=env).stdout)) == 3


# -- show -----------------------------------------------------------------------------------------


def test_show_lists_the_current_documents_and_the_replaced_order_marked_as_such(desk):
    docs = shown(COMMUNE_ID)["documents"]
    orders = [(d["name"], d["deposit_id"], d["replaced"]) for d in docs if d["role"] == "purchase_order"]
    assert orders == [("EJ.pdf", desk.wrong_order, True), ("EJ corrigé.pdf", desk.corrected_order, False)]
    assert {d["role"] for d in docs if not d["replaced"]} == {"convention", "annex", "purchase_order"}


def test_show_names_the_deposits_that_fed_the_dossier(desk):
    deposits = shown(COMMUNE_ID)["deposits"]
    assert [(d["deposit_id"], d["file"]) for d in deposits] == [
        (desk.wrong_order, "commune.zip"),
        (desk.corrected_order, "commune-bc.zip"),
    ]


def test_show_gives_the_problems_still_to_regularise():
    problems = shown(AJACCIO_ID)["problems"]
    assert [p["code"] for p in problems] == ["purchase_order_missing"] and "bon de commande" in problems[0][
        "message"
    ]


def test_show_history_tells_what_the_deposits_did():
    kinds = [e["kind"] for e in shown(COMMUNE_ID)["events"]]
    assert kinds[:2] == ["opened", "deposit"] and {"replaced", "completed"} <= set(kinds)


def test_show_lists_the_messages_sent_about_the_dossiers_deposits(desk):
    messages = shown(COMMUNE_ID)["messages"]
    sent = {(m["kind"], m["to"], m["via"], m["deposit_id"]) for m in messages}
    for deposit in (desk.wrong_order, desk.corrected_order):
        assert {("notice", "depositors", "maildir", deposit), ("region", HDF, "maildir", deposit)} <= sent
    assert all(m["state"] == "delivered" for m in messages)


def test_show_lists_the_reminders_sent_about_the_dossier():
    later = dt.datetime.now().astimezone() + dt.timedelta(days=11)
    api.send_reminders(api.RemindOptions(now=later, outbox=Path("courrier"), state=Path("etat")))
    [sent] = [m for m in shown(AJACCIO_ID)["messages"] if m["kind"] == "reminder"]
    assert (sent["to"], sent["via"], sent["state"]) == ("depositors", "maildir", "delivered")
    assert "relance au déposant" in ok("dossier", "show", AJACCIO_ID).stdout


def test_show_without_json_prints_the_dossier_in_french(desk):
    out = ok("dossier", "show", COMMUNE_ID).stdout
    assert f"Dossier {COMMUNE_ID} — complet" in out
    replaced = next(line for line in out.splitlines() if "EJ.pdf" in line and desk.wrong_order in line)
    assert "remplacé" in replaced and "EJ / bon de commande" in replaced
    assert (
        "document remplacé" in out
        and "avis au déposant" in out
        and f"contribution due : {format_eur(DUE)}" in out
    )


def test_show_reads_the_journal_of_the_state_folder_given(elsewhere):
    result = ok("dossier", "show", AGGLO_ID, "--json", "--state", "ailleurs")
    assert json.loads(result.stdout)["dossier_id"] == AGGLO_ID


@pytest.mark.parametrize(
    "command",
    [
        ["show"],
        ["accept", "--by", "Marie Durand", "--note", "vu"],
        ["refuse", "--by", "Marie Durand", "--reason", "non"],
        ["set", "--state", "traite", "--by", "Marie Durand"],
    ],
    ids=lambda c: c[0],
)
def test_an_unknown_dossier_exits_1_and_says_how_to_find_it(command):
    result = csac("dossier", command[0], "20007246000013-2021-045-lot9", *command[1:])
    assert isinstance(result.exception, UnknownDossier) and result.exit_code == ExitCode.bad_args
    assert "dossier inconnu" in str(result.exception) and "csac dossier list --search" in str(
        result.exception
    )


def test_an_unknown_dossier_names_those_that_contain_what_was_typed():
    result = csac("dossier", "show", AJACCIO.siret)
    assert refused_with_an_error(result, "dossiers proches", AJACCIO_ID)


def test_what_was_typed_is_quoted_in_the_error_as_it_was_typed(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["csac", "dossier", "show", "[/x]"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == ExitCode.bad_args and "dossier inconnu : [/x]" in capsys.readouterr().err


# -- accept ---------------------------------------------------------------------------------------

BY = ["--by", "Marie Durand"]


def test_accept_is_journalled_with_who_when_and_the_note():
    ok("dossier", "accept", AJACCIO_ID, *BY, "--note", "EJ reçu par courrier, vérifié")
    found = shown(AJACCIO_ID)
    event = found["events"][-1]
    assert (event["kind"], event["by"], event["detail"]) == (
        "accepted",
        "Marie Durand",
        "EJ reçu par courrier, vérifié",
    )
    assert today_iso(event["at"]) and found["status"] == "accepted"


def test_an_accepted_dossier_is_listed_as_accepted():
    ok("dossier", "accept", AJACCIO_ID, *BY, "--note", "EJ reçu par courrier")
    assert [d["dossier_id"] for d in listed("--status", "accepted")] == [AJACCIO_ID]
    assert "accepté" in ok("dossier", "show", AJACCIO_ID).stdout


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--by", "  ", "--note", "vu"], "le nom de la personne qui décide (--by) est vide"),
        ([*BY, "--note", ""], "la note (--note) est vide"),
    ],
    ids=["by", "note"],
)
def test_accept_with_an_empty_by_or_note_exits_1_and_changes_nothing(options, words):
    result = csac("dossier", "accept", AJACCIO_ID, *options)
    assert refused_with_an_error(result, words) and shown(AJACCIO_ID)["status"] == "incomplete"


def test_accepting_an_accepted_dossier_exits_1_and_journals_nothing_more():
    ok("dossier", "accept", AJACCIO_ID, *BY, "--note", "vu")
    result = csac("dossier", "accept", AJACCIO_ID, "--by", "Paul Martin", "--note", "revu")
    assert refused_with_an_error(result, "déjà accepté")
    assert [e["by"] for e in shown(AJACCIO_ID)["events"] if e["kind"] == "accepted"] == ["Marie Durand"]


def test_accept_writes_to_the_journal_of_the_state_folder_given(elsewhere):
    ok("dossier", "accept", AJACCIO_ID, *BY, "--note", "vu", "--state", "ailleurs")
    assert DossierBook(Path("ailleurs/journal.sqlite")).get(AJACCIO_ID).status == DossierStatus.ACCEPTED


# -- refuse ---------------------------------------------------------------------------------------


def refuse(dossier: str = AJACCIO_ID, *more: str):
    return ok("dossier", "refuse", dossier, *BY, "--reason", REASON, *more)


def test_refuse_tells_the_depositor_why_in_french():
    refuse()
    [msg] = refusals(Path("courrier/depositors"))
    assert msg["To"] == "marches@ajaccio.example" and "dossier non retenu" in msg["Subject"]
    text = body(msg)
    assert f"Motif : {REASON}" in text and "n'a pas retenu votre dossier" in text and AJACCIO.siret in text


def test_the_refusal_answers_to_the_region_and_is_copied_to_it():
    refuse()
    [msg] = refusals(Path("courrier/depositors"))
    assert (msg["Reply-To"], msg["Cc"]) == (CORSE, CORSE)
    [copy] = refusals(Path("courrier") / CORSE)
    assert copy["Message-ID"] == msg["Message-ID"] and f"Motif : {REASON}" in body(copy)


def test_refuse_is_journalled_with_who_when_why_and_the_message_sent():
    refuse()
    found = shown(AJACCIO_ID)
    refusal, message = found["events"][-2:]
    assert (refusal["kind"], refusal["by"], refusal["detail"]) == ("refused", "Marie Durand", REASON)
    assert today_iso(refusal["at"]) and found["status"] == "refused"
    assert message["kind"] == "message" and "marches@ajaccio.example" in message["detail"]
    sent = [m for m in found["messages"] if m["kind"] == "refusal"]
    assert {(m["to"], m["state"]) for m in sent} == {("depositors", "delivered"), (CORSE, "delivered")}


def test_refusing_a_refused_dossier_exits_1_and_sends_nothing_more():
    refuse()
    result = csac("dossier", "refuse", AJACCIO_ID, "--by", "Paul Martin", "--reason", "autre motif")
    assert refused_with_an_error(result, "déjà refusé", "rien n'a été envoyé")
    assert len(refusals(Path("courrier/depositors"))) == 1


def test_a_refusal_whose_message_never_went_is_sent_once_by_running_the_command_again():
    """A crash between the decision and the message leaves the dossier refused, its message unsent."""
    book = DossierBook(Path("etat/journal.sqlite"))
    book.decide(AJACCIO_ID, DossierStatus.REFUSED, "Marie Durand", REASON)
    result = ok("dossier", "refuse", AJACCIO_ID, "--by", "Marie Durand", "--reason", "autre motif")
    assert "n'avait pas été envoyé" in result.stdout
    [msg] = refusals(Path("courrier/depositors"))
    assert f"Motif : {REASON}" in body(msg)
    again = csac("dossier", "refuse", AJACCIO_ID, *BY, "--reason", REASON)
    assert refused_with_an_error(again, "déjà refusé") and len(refusals(Path("courrier/depositors"))) == 1


def test_a_refusal_delivered_but_not_journalled_is_not_delivered_twice_when_run_again():
    """A crash after the message was put in the depositors' Maildir, before the journal said so."""
    book = DossierBook(Path("etat/journal.sqlite"))
    dossier = book.decide(AJACCIO_ID, DossierStatus.REFUSED, "Marie Durand", REASON)
    message = refusal_message(dossier, book.events(AJACCIO_ID)[-1], book.deposits(AJACCIO_ID))
    config = Config(Workspace(outbox=Path("courrier"), state=Path("etat")))
    Courier(config).send(Outgoing(DEPOSITORS, message), None)
    ok("dossier", "refuse", AJACCIO_ID, *BY, "--reason", REASON)
    assert len(refusals(Path("courrier/depositors"))) == 1 and len(refusals(Path("courrier") / CORSE)) == 1


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--by", "", "--reason", REASON], "(--by) est vide"),
        ([*BY, "--reason", " \n "], "le motif du refus (--reason) est vide"),
    ],
    ids=["by", "reason"],
)
def test_refuse_with_an_empty_by_or_reason_exits_1_and_tells_nobody(options, words):
    result = csac("dossier", "refuse", AJACCIO_ID, *options)
    assert refused_with_an_error(result, words) and refusals(Path("courrier/depositors")) == []
    assert shown(AJACCIO_ID)["status"] == "incomplete"


def test_refuse_delivers_into_the_outbox_given():
    refuse(AJACCIO_ID, "--outbox", "autre-courrier")
    assert (
        len(refusals(Path("autre-courrier/depositors"))) == 1 and refusals(Path("courrier/depositors")) == []
    )


def test_refuse_writes_to_the_journal_of_the_state_folder_given(elsewhere):
    refuse(AJACCIO_ID, "--state", "ailleurs")
    assert DossierBook(Path("ailleurs/journal.sqlite")).get(AJACCIO_ID).status == DossierStatus.REFUSED


# -- resend ---------------------------------------------------------------------------------------


def notices(folder: Path) -> list[email.message.EmailMessage]:
    return [m for m in maildir(folder) if ".notice" in m["Message-ID"]]


def test_resend_sends_the_depositor_the_latest_notice_again_word_for_word():
    before = {m["Message-ID"]: m for m in notices(Path("courrier/depositors"))}
    result = ok("dossier", "resend", AJACCIO_ID, *BY)
    again = [m for m in notices(Path("courrier/depositors")) if m["Message-ID"] not in before]
    [original] = [m for m in before.values() if m["To"] == "marches@ajaccio.example"]
    assert len(again) == 1 and again[0]["To"] == "marches@ajaccio.example"
    assert body(again[0]) == body(original) and again[0]["Subject"] == original["Subject"]
    assert "renvoyé à marches@ajaccio.example" in result.stdout


def test_resend_is_journalled_with_by_and_each_resend_is_a_message_of_its_own():
    ok("dossier", "resend", AJACCIO_ID, *BY)
    ok("dossier", "resend", AJACCIO_ID, "--by", "Paul Martin")
    found = shown(AJACCIO_ID)
    asked = [e for e in found["events"] if e["kind"] == "message"]
    assert [e["by"] for e in asked] == ["Marie Durand", "Paul Martin"]
    sent = {m["message_id"] for m in found["messages"] if m["kind"] == "notice"}
    assert len(sent) == 3  # the deposit's notice, then two resends


def test_resend_with_an_empty_by_exits_1_and_sends_nothing():
    before = len(notices(Path("courrier/depositors")))
    result = csac("dossier", "resend", AJACCIO_ID, "--by", " ")
    assert (
        refused_with_an_error(result, "(--by) est vide")
        and len(notices(Path("courrier/depositors"))) == before
    )


def test_resend_delivers_into_the_outbox_given():
    ok("dossier", "resend", AJACCIO_ID, *BY, "--outbox", "autre-courrier")
    assert len(notices(Path("autre-courrier/depositors"))) == 1


def test_resend_writes_to_the_journal_of_the_state_folder_given(elsewhere):
    ok("dossier", "resend", AJACCIO_ID, *BY, "--state", "ailleurs")
    kinds = [e.kind for e in DossierBook(Path("ailleurs/journal.sqlite")).events(AJACCIO_ID)]
    assert kinds[-1] == "message"


@pytest.fixture
def relay():
    started = LoopbackRelay(Behaviour())
    yield started
    started.stop()


def test_refuse_through_the_relay_reaches_the_depositor_and_the_region_once(relay):
    config = write_config(Path.cwd(), relay, state=Path("etat").resolve(), outbox=Path("courrier").resolve())
    ok("--config", config, "dossier", "refuse", AJACCIO_ID, *BY, "--reason", REASON)
    [accepted] = relay.accepted
    assert sorted(accepted.rcpt_tos) == sorted(["marches@ajaccio.example", CORSE])
    assert f"Motif : {REASON}" in body(accepted.message) and accepted.message["Reply-To"] == CORSE
    sent = [m for m in shown(AJACCIO_ID)["messages"] if m["kind"] == "refusal"]
    assert [(m["via"], m["state"]) for m in sent] == [("relay", "sent")]
    assert refusals(Path("courrier/depositors")) == []


# -- set ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "french"),
    [("traite", "traité"), ("contre-signe", "contre-signé"), ("titre-emis", "titre émis")],
)
def test_set_records_the_teams_follow_up_with_who_and_when(state, french):
    result = ok("dossier", "set", AGGLO_ID, "--state", state, *BY)
    assert french in result.stdout
    found = shown(AGGLO_ID)
    event = found["events"][-1]
    assert (found["follow_up"], event["kind"], event["by"]) == (state, "follow_up", "Marie Durand")
    assert today_iso(event["at"]) and f"suivi : {french}" in ok("dossier", "show", AGGLO_ID).stdout


def test_the_follow_up_is_listed_in_french():
    ok("dossier", "set", AGGLO_ID, "--state", "contre-signe", *BY)
    line = next(x for x in ok("dossier", "list").stdout.splitlines() if AGGLO_ID in x)
    assert "contre-signé" in line


def test_set_on_an_incomplete_dossier_exits_1_saying_it_must_be_complete_or_accepted():
    result = csac("dossier", "set", AJACCIO_ID, "--state", "traite", *BY)
    assert refused_with_an_error(result, "est incomplet", "complet ou accepté", "csac dossier accept")
    assert shown(AJACCIO_ID)["follow_up"] is None


def test_set_on_an_accepted_dossier_is_allowed():
    ok("dossier", "accept", AJACCIO_ID, *BY, "--note", "EJ reçu par courrier")
    ok("dossier", "set", AJACCIO_ID, "--state", "traite", *BY)
    assert shown(AJACCIO_ID)["follow_up"] == "traite"


def test_set_with_an_unknown_state_exits_1_naming_the_states():
    result = csac("dossier", "set", AGGLO_ID, "--state", "payé", *BY)
    assert refused_with_an_error(result, "suivi inconnu : payé", "contre-signe")


def test_set_with_an_empty_by_exits_1():
    result = csac("dossier", "set", AGGLO_ID, "--state", "traite", "--by", "")
    assert refused_with_an_error(result, "(--by) est vide") and shown(AGGLO_ID)["follow_up"] is None


def test_setting_the_same_follow_up_twice_exits_1():
    ok("dossier", "set", AGGLO_ID, "--state", "traite", *BY)
    result = csac("dossier", "set", AGGLO_ID, "--state", "traite", *BY)
    assert refused_with_an_error(result, "déjà « traité »")


# -- export ---------------------------------------------------------------------------------------


def test_export_xlsx_has_french_headers_and_amounts_as_numbers():
    ok("dossier", "export", "--region", "Hauts-de-France", "--format", "xlsx", "--out", "suivi.xlsx")
    rows = list(load_workbook("suivi.xlsx").active.iter_rows(values_only=True))
    header, lines = rows[0], {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert header[:3] == ("Dossier", "Signataire", "SIRET") and "À régulariser" in header
    agglo = lines[AGGLO_ID]
    assert agglo["Contribution due (€)"] == 1000 and agglo["Montant commandé (€)"] == 1000
    assert agglo["État"] == "complet" and isinstance(agglo["Ouvert le"], dt.datetime)


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_export_is_readable_only_by_its_owner_like_everything_csac_writes(fmt):
    """It holds the depositors' addresses."""
    ok("dossier", "export", "--region", "Hauts-de-France", "--format", fmt, "--out", f"suivi.{fmt}")
    assert Path(f"suivi.{fmt}").stat().st_mode & 0o777 == 0o600


def test_export_csv_is_utf8_with_bom_and_semicolons_for_french_excel():
    ok("dossier", "export", "--region", "Hauts-de-France", "--format", "csv", "--out", "suivi.csv")
    data = Path("suivi.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    commune = next(r for r in rows if r["Dossier"] == COMMUNE_ID)
    assert commune["Contribution due (€)"] == "1000,00" and commune["État"] == "complet"
    assert commune["Signataire"] == COMMUNE.name


@pytest.mark.parametrize(
    ("region", "expected"), [("Corse", [AJACCIO_ID]), ("hauts-de-france@resah.fr", [AGGLO_ID, COMMUNE_ID])]
)
def test_export_keeps_the_dossiers_of_the_region_named(region, expected):
    ok("dossier", "export", "--region", region, "--format", "csv", "--out", "suivi.csv")
    rows = list(csv.DictReader(io.StringIO(Path("suivi.csv").read_text(encoding="utf-8-sig")), delimiter=";"))
    assert sorted(r["Dossier"] for r in rows) == sorted(expected)


def test_export_shows_what_is_missing_and_the_follow_up():
    ok("dossier", "set", AGGLO_ID, "--state", "titre-emis", *BY)
    ok("dossier", "export", "--region", "Hauts-de-France", "--out", "suivi.xlsx")
    rows = list(load_workbook("suivi.xlsx").active.iter_rows(values_only=True))
    lines = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert lines[AGGLO_ID]["Suivi"] == "titre émis"
    ok("dossier", "export", "--region", "Corse", "--out", "corse.xlsx")
    rows = list(load_workbook("corse.xlsx").active.iter_rows(values_only=True))
    assert dict(zip(rows[0], rows[1], strict=True))["À régulariser"] == "bon de commande absent"


@pytest.mark.parametrize(("fmt", "suffix"), [("csv", "csv"), (None, "xlsx")])
def test_export_without_out_writes_a_file_named_after_the_region_and_the_day(fmt, suffix):
    ok("dossier", "export", "--region", "Corse", *(["--format", fmt] if fmt else []))
    assert Path(f"dossiers-corse-{dt.date.today():%Y-%m-%d}.{suffix}").is_file()


def test_export_with_an_unknown_format_exits_1_and_writes_nothing():
    result = csac("dossier", "export", "--region", "Corse", "--format", "ods", "--out", "suivi.ods")
    assert refused_with_an_error(result, "format inconnu : ods", "xlsx") and not Path("suivi.ods").exists()


def test_export_reads_the_journal_of_the_state_folder_given(elsewhere):
    ok(
        "dossier",
        "export",
        "--region",
        "Corse",
        "--format",
        "csv",
        "--out",
        "suivi.csv",
        "--state",
        "ailleurs",
    )
    assert AJACCIO_ID in Path("suivi.csv").read_text(encoding="utf-8-sig")
