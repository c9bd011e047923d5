"""What the depositor reads (issue 11, points 1 to 4), read as they would: the messages intake put in the
depositors' Maildir, their subject and their text.

1. every outcome is told, refusals included, in csac's own French and with the deposit's number;
2. subjects say which convention, which organisation, which state, which number;
3. the notice asks once for exactly what is missing, as things to send, and the form's problems in the
   portal's words;
4. the form's EJ number is noted, and the configuration says whether it stands for the order.
"""

from __future__ import annotations

import email
import itertools
import mailbox
import re
from dataclasses import replace
from decimal import Decimal
from email import policy
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.errors import ConfigError
from pipeline.intake import set_aside, take_in
from pipeline.request import contribution_due
from tests import builders as b

ENTITY = b.Entity()  # a commune of 60,000 in Arras: 1 000 € on lot 2, 500 € on lot 4, Hauts-de-France
ORG = ENTITY.name
LOT2, LOT4, AC047, AC063 = "2021-045-lot2", "2021-045-lot4", "2021-047-001", "2021-063-002"
MARKET = {LOT2: "2021-045 lot 2", LOT4: "2021-045 lot 4", AC047: "2021-047-001", AC063: "2021-063-002"}
PDF = b"%PDF-1.4\n% a document\n"
LIBRARY = (  # what libraries say, never what a person reads
    "File is not a zip file", "Bad magic number", "BadZipFile", "Error -3", "zlib", "Errno", "Traceback",
    "while decompressing", "incorrect header", "invalid stored block", "Exception", "RuntimeError",
    "is too long", "is not of type", "does not match", "required property", "None",
)  # fmt: skip
CODE_IN_BRACKETS = re.compile(r"\[[a-z_]+\]")
SCHEMA_KEYS = ("raison_sociale", "numero_marche", "telephone", "reference_commande", "code_service_chorus")


# -- reading the Maildir as a person would ---------------------------------------------------------


def mails(ctx, folder: str = "depositors") -> list[email.message.EmailMessage]:
    box = ctx.workspace.outbox / folder
    if not box.exists():
        return []
    return [email.message_from_bytes(m.as_bytes(), policy=policy.default) for m in mailbox.Maildir(box)]


def text(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def told(ctx) -> email.message.EmailMessage:
    """The one message the depositor received."""
    [msg] = mails(ctx)
    return msg


def listed(msg) -> list[str]:
    """The pieces asked for, one a line."""
    return [line[4:] for line in text(msg).splitlines() if line.startswith("  – ")]


# -- deposits --------------------------------------------------------------------------------------


@pytest.fixture
def package(renderer, resources, variants):
    """(convention PDF, annex XLSX, due) of a variant for ENTITY."""

    def _package(variant: str) -> tuple[bytes, bytes, Decimal]:
        r = b.rendered(renderer, resources, ENTITY, variant)
        return (
            b.convention_pdf(r["convention"]),
            r["annex"],
            contribution_due(variants[variant], r["request"]).amount,
        )

    return _package


@pytest.fixture
def deposit(drop, intake_ctx):
    """Take in a ZIP (members, or raw bytes) with the depositor's form (None: no form)."""
    count = itertools.count(1)

    def _deposit(members, ctx=None, market: str = MARKET[LOT2], form: dict | None = None, **fields):
        data = members if isinstance(members, bytes) else b.zip_of(members)
        path = drop(data, f"depot-{next(count)}.zip")
        if form is not False:
            b.write_form(path, form if form is not None else b.form(ENTITY, market, **fields))
        return take_in(path, ctx or intake_ctx)

    return _deposit


def suffices(ctx):
    """The intake context under `order_document: form_reference_suffices`."""
    return replace(ctx, config=replace(ctx.config, order_document="form_reference_suffices"))


# -- 1. every outcome is told ----------------------------------------------------------------------


def truncated() -> bytes:
    data = b.zip_of([("Convention.pdf", PDF * 1000)])
    return data[: len(data) // 2]


def damaged_member() -> bytes:
    data = bytearray(b.zip_of([("Convention.pdf", PDF * 1000)]))
    data[40:60] = b"\xff" * 20  # inside the deflated stream
    return bytes(data)


def nested_too_deep() -> bytes:
    data = b.zip_of([("Convention.pdf", PDF)])
    for level in range(5):
        data = b.zip_of([(f"niveau{level}.zip", data)])
    return data


REFUSED = {  # a refused deposit, and what the depositor is told happened
    "truncated ZIP": (truncated, "Le fichier ZIP est incomplet ou endommagé"),
    "random bytes named .zip": (
        lambda: bytes(range(256)) * 40,
        "Le fichier déposé n'est pas une archive ZIP",
    ),
    "damaged member": (damaged_member, "Le fichier ZIP est incomplet ou endommagé"),
    "encrypted member": (
        lambda: b.raw_zip([b.Raw(b"Convention.pdf", PDF, flags=0x1)]),
        "un fichier protégé par mot de passe (« Convention.pdf »)",
    ),
    "path traversal": (
        lambda: b.raw_zip([b.Raw(b"../../etc/passwd", PDF)]),
        "un fichier dont le chemin sort de l'archive (« ../../etc/passwd »)",
    ),
    "zip bomb": (
        lambda: b.raw_zip([b.bomb_member("bombe.pdf", 200 << 20)]),
        "un fichier anormalement compressé",
    ),
    "too many members": (lambda: b.zip_of([(f"{i}.pdf", PDF) for i in range(600)]), "trop de fichiers"),
    "link member": (
        lambda: b.raw_zip([b.Raw(b"lien.pdf", b"/etc/passwd", method=0, external_attr=0o120777 << 16)]),
        "un lien (« lien.pdf »)",
    ),
    "nested too deep": (nested_too_deep, "archives ZIP imbriquées"),
    "document bomb": (
        lambda: b.zip_of([("Convention.docx", b.ooxml_bomb("docx", 200 << 20))]),
        "Un document de votre archive ZIP (« Convention.docx ») a été refusé par mesure de sécurité",
    ),
}


@pytest.mark.parametrize("case", REFUSED, ids=REFUSED)
def test_a_refused_deposit_tells_the_depositor_what_happened_and_its_number(deposit, intake_ctx, case):
    build, happened = REFUSED[case]
    report = deposit(build())
    msg = told(intake_ctx)
    assert report.status == "rejected" and happened in text(msg)
    assert f"enregistré sous le n° {report.deposit_id}" in text(msg)
    assert msg["Subject"] == f"Convention — {ORG} — dépôt refusé (n° {report.deposit_id})"


@pytest.mark.parametrize("case", REFUSED, ids=REFUSED)
def test_a_refused_deposit_says_what_to_do_in_csacs_own_words(deposit, intake_ctx, case):
    deposit(REFUSED[case][0]())
    body = text(told(intake_ctx))
    assert "Merci de" in body and "à nouveau" in body and "avec le formulaire de dépôt" in body
    assert not [s for s in LIBRARY if s in body] and not CODE_IN_BRACKETS.search(body)


def test_a_duplicate_tells_the_depositor_when_and_under_which_number_it_was_first_received(
    deposit, intake_ctx, package
):
    conv, annex, due = package(LOT2)
    data = b.zip_of([("Convention.pdf", conv), ("Annexe.xlsx", annex), ("EJ.pdf", b.order_pdf(ENTITY, due))])
    first = deposit(data)  # the same bytes twice: two ZIPs built apart may differ by their members' times
    again = deposit(data)
    msg = next(m for m in mails(intake_ctx) if "déjà reçu" in m["Subject"])
    assert msg["Subject"].startswith(f"Convention 2021-045 lot 2 — {ORG} — dépôt déjà reçu le ")
    assert msg["Subject"].endswith(f"(n° {first.deposit_id})")
    assert f"(dépôt n° {first.deposit_id}) : il n'est pas traité une seconde fois" in text(msg)
    assert f"enregistré sous le n° {again.deposit_id}" in text(msg)
    assert "déposez uniquement les documents manquants ou corrigés" in text(msg)


def test_a_duplicate_gives_as_contact_the_region_its_reply_goes_to(deposit, intake_ctx, package):
    conv, annex, due = package(LOT2)
    data = b.zip_of([("Convention.pdf", conv), ("Annexe.xlsx", annex), ("EJ.pdf", b.order_pdf(ENTITY, due))])
    deposit(data)  # the same bytes twice: two ZIPs built apart may differ by their members' times
    deposit(data)
    msg = next(m for m in mails(intake_ctx) if "déjà reçu" in m["Subject"])
    assert msg["Reply-To"] == "Hauts-de-France@resah.fr"
    assert "Pour toute question : Hauts-de-France@resah.fr" in text(msg)


def test_a_deposit_of_nothing_usable_is_not_told_that_its_documents_were_kept(deposit, intake_ctx):
    """A ZIP holding only a photo: nothing was received that it need not send again."""
    deposit([("photo.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64)])
    [msg] = mails(intake_ctx)
    assert "Inutile de renvoyer" not in text(msg) and "Déposez ces pièces" in text(msg)


def test_a_deposit_set_aside_after_repeated_failures_tells_the_depositor_a_person_will_examine_it(
    intake_ctx, drop
):
    path = drop(b.zip_of([("Convention.pdf", PDF)]), "poison.zip", form=b.form(ENTITY))
    why = "3 essais en échec, dernière erreur : RuntimeError: boom"
    report = set_aside(path, intake_ctx, why, path.with_suffix(".json"))
    msg = told(intake_ctx)
    assert msg["Subject"] == f"Convention — {ORG} — dépôt mis de côté pour examen (n° {report.deposit_id})"
    assert "une personne du Resah va l'examiner" in text(msg) and report.deposit_id in text(msg)
    assert "RuntimeError" not in text(msg) and "boom" not in text(msg)


def test_the_quarantine_mailbox_reads_the_problem_code_in_a_header_never_in_brackets(deposit, intake_ctx):
    ctx = replace(intake_ctx, config=replace(intake_ctx.config, quarantine="securite@resah.fr"))
    report = deposit(b.raw_zip([b.Raw(b"../evil.pdf", PDF)]), ctx)
    [alert] = mails(ctx, "securite@resah.fr")
    assert alert["X-CSAC-Problems"] == "archive_unsafe" and not CODE_IN_BRACKETS.search(text(alert))
    assert f"n° {report.deposit_id}" in alert["Subject"] and "a été prévenu" in text(alert)


def test_a_refused_deposit_without_a_form_tells_no_depositor(deposit, intake_ctx):
    report = deposit(truncated(), form=False)
    assert report.status == "rejected" and mails(intake_ctx) == []


# -- 2. subjects that say what it is about ---------------------------------------------------------


def test_the_acknowledgement_subject_names_the_convention_its_lot_the_organisation_the_state_and_number(
    deposit, intake_ctx, package
):
    conv, annex, due = package(LOT4)
    members = [
        ("Convention.pdf", conv),
        ("Annexe.xlsx", annex),
        ("EJ.pdf", b.order_pdf(ENTITY, due, market="2021-045 lot 4")),
    ]
    report = deposit(members, market=MARKET[LOT4])
    assert report.status == "complete"
    assert (
        told(intake_ctx)["Subject"]
        == f"Convention 2021-045 lot 4 — {ORG} — dossier complet (n° {report.deposit_id})"
    )


def test_four_conventions_returned_one_by_one_get_four_subjects_each_naming_its_own(
    deposit, intake_ctx, package
):
    for variant in (LOT2, LOT4, AC047, AC063):
        conv, annex, due = package(variant)
        order = b.order_pdf(ENTITY, due, market=MARKET[variant])
        deposit([("Convention.pdf", conv), ("Annexe.xlsx", annex), ("EJ.pdf", order)], market=MARKET[variant])
    subjects = sorted(m["Subject"].split(" — ")[0] for m in mails(intake_ctx))
    assert subjects == [
        "Convention 2021-045 lot 2", "Convention 2021-045 lot 4", "Convention 2021-047-001", "Convention 2021-063-002"
    ]  # fmt: skip


def test_a_deposit_of_several_conventions_says_how_many_in_its_subject(deposit, intake_ctx, package):
    members = []
    for variant in (LOT2, LOT4, AC047):
        conv, annex, _ = package(variant)
        members += [(f"{variant}/Convention.pdf", conv), (f"{variant}/Annexe.xlsx", annex)]
    report = deposit(members, market="2021-045 et 2021-047")
    assert (
        told(intake_ctx)["Subject"]
        == f"3 conventions — {ORG} — dossiers à compléter (n° {report.deposit_id})"
    )


def test_an_incomplete_dossier_says_so_in_its_subject(deposit, intake_ctx, package):
    conv, annex, _ = package(LOT2)
    report = deposit([("Convention.pdf", conv), ("Annexe.xlsx", annex)])
    assert (
        told(intake_ctx)["Subject"]
        == f"Convention 2021-045 lot 2 — {ORG} — dossier incomplet (n° {report.deposit_id})"
    )


def test_without_documents_naming_it_the_organisation_is_the_forms_raison_sociale_on_one_line_capped(
    deposit, intake_ctx
):
    name = "Syndicat intercommunal à vocation multiple " * 5
    report = deposit(truncated(), raison_sociale=name)
    who = told(intake_ctx)["Subject"].split(" — ")[1]
    assert who.startswith("Syndicat intercommunal à vocation multiple Syndicat") and who.endswith("…")
    assert len(who) <= 80 and report.deposit_id in told(intake_ctx)["Subject"]


# -- 3. ask once, coherently, for exactly what is missing ------------------------------------------

NOT_A_REFERENCE = "voir bon de commande joint"  # free text, no EJ number: the plain ask for the order


def test_the_incomplete_notice_lists_the_missing_order_as_the_thing_to_send_with_its_amount(
    deposit, intake_ctx, package
):
    conv, annex, _ = package(LOT2)
    deposit([("Convention.pdf", conv), ("Annexe.xlsx", annex)], reference_commande=NOT_A_REFERENCE)
    assert listed(told(intake_ctx)) == [
        "l'EJ ou le bon de commande de 1\u00a0000,00\u00a0€ (montant de votre contribution)"
    ]


def test_the_incomplete_notice_lists_each_missing_document_as_a_thing(deposit, intake_ctx, package):
    conv, _, due = package(LOT2)
    deposit([("Convention.pdf", conv), ("EJ.pdf", b.order_pdf(ENTITY, due))])
    assert listed(told(intake_ctx)) == [
        "l'annexe « Vos besoins » complétée (liste des bénéficiaires et de leurs montants contractuels maximum)"
    ]


def test_the_notice_never_gives_a_diagnosis_in_place_of_the_thing_to_send(deposit, intake_ctx, package):
    conv, annex, _ = package(LOT2)
    deposit([("Convention.pdf", conv), ("Annexe.xlsx", annex)], reference_commande=NOT_A_REFERENCE)
    body = text(told(intake_ctx))
    assert "Aucun engagement juridique" not in body and "n'a été trouvé" not in body


def test_the_regional_summary_keeps_the_diagnosis(deposit, intake_ctx, package):
    conv, annex, _ = package(LOT2)
    deposit([("Convention.pdf", conv), ("Annexe.xlsx", annex)], reference_commande=NOT_A_REFERENCE)
    [summary] = mails(intake_ctx, "Hauts-de-France@resah.fr")
    assert "Aucun engagement juridique (EJ) ni bon de commande n'a été trouvé" in text(summary)


def test_the_notice_asks_to_send_only_the_missing_pieces_never_everything_again(deposit, intake_ctx, package):
    conv, annex, _ = package(LOT2)
    deposit([("Convention.pdf", conv), ("Annexe.xlsx", annex)], reference_commande=NOT_A_REFERENCE)
    body = text(told(intake_ctx))
    assert "merci de nous envoyer uniquement :" in body and "déposez uniquement ces pièces" in body
    assert "l'ensemble des documents" not in body and "à nouveau" not in body


FORM_PROBLEMS = {  # a field the portal's form got wrong, its label, and what was received
    "missing": ({"code_service_chorus": None}, "« Code service Chorus » : non renseigné"),
    "too long": (
        {"raison_sociale": "Commune " + "x" * 300},
        "« Raison sociale de votre établissement » : la valeur reçue dans le formulaire est trop longue (308 "
        "caractères, 300 au plus) : « Commune xxx",
    ),
    "not the telephone format": (
        {"telephone": "abc"},
        "« Numéro de téléphone » : la valeur reçue dans le formulaire, « abc », n'est pas au format attendu "
        "(par exemple 01231415)",
    ),
    "an empty telephone": ({"telephone": ""}, "« Numéro de téléphone » : vide"),
    "a list for text": (
        {"numero_marche": ["2021-045", "lot 2"]},
        "« Numéro de marché » : un texte est attendu",
    ),
    "a line break": (
        {"reference_commande": "130\n0012345"},
        "« Votre référence de commande (EJ ou N° bon de commande) » : la valeur reçue dans le formulaire "
        "contient un retour à la ligne",
    ),
    "an invoice address that is none": (
        {"code_service_chorus": "factures@"},
        "« Code service Chorus » : l'adresse reçue dans le formulaire, « factures@ », n'est pas valide",
    ),
}


def form_with(changes: dict) -> dict:
    form = b.form(ENTITY) | changes
    return {k: v for k, v in form.items() if v is not None}


@pytest.mark.parametrize("case", FORM_PROBLEMS, ids=FORM_PROBLEMS)
def test_a_form_problem_is_told_by_the_portals_label_with_what_was_received(
    deposit, intake_ctx, package, case
):
    changes, said = FORM_PROBLEMS[case]
    conv, annex, due = package(LOT2)
    deposit(
        [("Convention.pdf", conv), ("Annexe.xlsx", annex), ("EJ.pdf", b.order_pdf(ENTITY, due))],
        form=form_with(changes),
    )
    assert any(line.startswith(said) for line in listed(told(intake_ctx))), listed(told(intake_ctx))


@pytest.mark.parametrize("case", FORM_PROBLEMS, ids=FORM_PROBLEMS)
def test_a_form_problem_shows_no_schema_key_and_no_english(deposit, intake_ctx, package, case):
    conv, annex, due = package(LOT2)
    deposit(
        [("Convention.pdf", conv), ("Annexe.xlsx", annex), ("EJ.pdf", b.order_pdf(ENTITY, due))],
        form=form_with(FORM_PROBLEMS[case][0]),
    )
    body = text(told(intake_ctx))
    assert not [k for k in SCHEMA_KEYS if k in body] and not [s for s in LIBRARY if s in body]
    assert "raccourcissez" not in body and "ajoutez" not in body


def test_a_form_problem_is_asked_in_a_reply_since_a_submitted_form_cannot_be_edited(
    deposit, intake_ctx, package
):
    conv, annex, due = package(LOT2)
    members = [("Convention.pdf", conv), ("Annexe.xlsx", annex), ("EJ.pdf", b.order_pdf(ENTITY, due))]
    deposit(members, telephone="abc")
    msg = told(intake_ctx)
    assert "ne peut plus être modifié. Répondez simplement à ce message" in text(msg)
    assert msg["Reply-To"] == "Hauts-de-France@resah.fr"
    assert "corrigez le formulaire" not in text(msg) and "merci de nous envoyer" not in text(msg)


def test_every_problem_a_depositor_can_be_asked_to_complete_has_a_thing_to_send(loaded_intake):
    entries = loaded_intake.catalogue.entries
    scopes = [
        (code, scope)
        for code, entry in entries.items()
        for scope in [None, *(k for k, v in entry.items() if isinstance(v, dict))]
    ]
    asks = {
        (c, s): loaded_intake.catalogue.finding(
            c, "« x »", s, due="de 1,00 €", reference="l'EJ n° 1", name="« x »", fields="x"
        )
        for c, s in scopes
    }
    assert [k for k, f in asks.items() if not f.ask and k != ("region_unknown", None)] == []


# -- 4. the form's EJ reference --------------------------------------------------------------------


def test_under_the_default_policy_the_notice_says_the_forms_ej_was_noted_and_asks_for_the_document(
    deposit, intake_ctx, package
):
    conv, annex, _ = package(LOT2)
    report = deposit([("Convention.pdf", conv), ("Annexe.xlsx", annex)], reference_commande="1300012345")
    [asked] = listed(told(intake_ctx))
    assert report.codes == ["purchase_order_missing"]
    assert "nous avons bien noté l'EJ n° 1300012345 indiqué dans le formulaire" in asked
    assert asked.startswith("le document de l'EJ ou du bon de commande de 1\u00a0000,00\u00a0€")


def test_when_the_forms_reference_suffices_a_plausible_ej_completes_the_dossier(deposit, intake_ctx, package):
    conv, annex, _ = package(LOT2)
    report = deposit([("Convention.pdf", conv), ("Annexe.xlsx", annex)], suffices(intake_ctx))
    assert (report.status, report.codes) == ("complete", [])
    assert "annexe « Vos besoins » et l'EJ n° 1300012345 indiqué dans le formulaire" in text(told(intake_ctx))


@pytest.mark.parametrize("reference", ["1300012345", "BC-2024-0042", "4500 0123 45", "BC/2024/00042"])
def test_a_plausible_reference_is_an_ej_or_a_bon_de_commande_number(deposit, intake_ctx, package, reference):
    conv, annex, _ = package(LOT2)
    report = deposit(
        [("Convention.pdf", conv), ("Annexe.xlsx", annex)], suffices(intake_ctx), reference_commande=reference
    )
    assert report.status == "complete"


@pytest.mark.parametrize(
    "reference", ["", "   ", "en cours", "voir pièce jointe", "N/A", "0000000000", "12", "EJ"]
)
def test_an_implausible_reference_never_stands_for_the_order(deposit, intake_ctx, package, reference):
    conv, annex, _ = package(LOT2)
    report = deposit(
        [("Convention.pdf", conv), ("Annexe.xlsx", annex)], suffices(intake_ctx), reference_commande=reference
    )
    assert "purchase_order_missing" in report.codes
    assert (
        listed(told(intake_ctx))[0]
        == "l'EJ ou le bon de commande de 1\u00a0000,00\u00a0€ (montant de votre contribution)"
    )


def test_the_policy_applies_to_every_dossier_of_a_deposit_of_several_conventions(
    deposit, intake_ctx, package
):
    members = []
    for variant in (LOT2, AC047):
        conv, annex, _ = package(variant)
        members += [(f"{variant}/Convention.pdf", conv), (f"{variant}/Annexe.xlsx", annex)]
    report = deposit(members, suffices(intake_ctx), market="2021-045 et 2021-047")
    assert [(d.variant, d.status) for d in report.dossiers] == [(LOT2, "complete"), (AC047, "complete")]


def test_the_configuration_reads_the_order_document_policy_required_by_default(tmp_path, resources):
    path = tmp_path / "csac.yaml"
    path.write_text("order_document: form_reference_suffices\n", encoding="utf-8")
    assert load_config(path, resources, env={}).order_document == "form_reference_suffices"
    path.write_text("reminder_days: 10\n", encoding="utf-8")
    assert load_config(path, resources, env={}).order_document == "required"


def test_the_configuration_refuses_an_unknown_order_document_policy(tmp_path, resources):
    path = tmp_path / "csac.yaml"
    path.write_text("order_document: parfois\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="order_document"):
        load_config(path, resources, env={})


def test_the_example_configuration_shows_the_order_document_policy(resources):
    example = Path(__file__).parent.parent / "examples" / "csac.yaml"
    assert load_config(example, resources, env={"CSAC_SMTP_PASSWORD": "x"}).order_document == "required"
