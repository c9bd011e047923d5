"""The regional team's message lets it act without opening the ZIP (issue 11, points 5 and 6).

Each test takes in a real deposit (a convention rendered by csac, laid out as PDF and signed; its annex;
a Chorus-style EJ) with its form, then reads the message the regional mailbox received, in the Maildir
intake wrote or from a real SMTP relay on loopback (aiosmtpd), as a person would: subject, text,
attachments.
"""

from __future__ import annotations

import datetime as dt
import email
import json
import mailbox
import re
from decimal import Decimal
from email import policy

import jsonschema
import pytest

from pipeline import decide, remind, sample
from pipeline.dossiers import DossierBook, DossierStatus
from pipeline.intake import IntakeContext, take_in
from pipeline.request import parse_request
from tests import builders as b
from tests.test_cli_options import ok  # `csac` run in this process
from tests.test_smtp import relay_config, smtp  # noqa: F401  (the aiosmtpd fixture)

COMMUNE = b.Entity(postal_code="20000", city="AJACCIO")  # Corse
REGION = "Corse@resah.fr"
EMAIL = "achats@test-sur-mer.example"  # builders.form's
DUE = Decimal("1000")  # a commune of 60,000 on 2021-045 lot 2
ISSUE_MESSAGE = "l'EJ joint est annulé, merci d'utiliser l'EJ 1300099999"
STRANGER = "Communauté de communes du Cap Corse"  # another organisation than the documents'


# -- deposits and what the region received ----------------------------------------------------------


@pytest.fixture
def documents(renderer, resources):
    """The signed convention, the annex and the order of COMMUNE, as members of a ZIP."""

    def _documents(order: bool = True, convention: bytes | None = None, ej: str = "1300012345") -> list:
        docs = b.rendered(renderer, resources, COMMUNE, "2021-045-lot2")
        members = [
            ("Convention.pdf", convention or b.convention_pdf(docs["convention"])),
            ("Annexe.xlsx", docs["annex"]),
        ]
        return members + ([("EJ.pdf", b.order_pdf(COMMUNE, DUE, ej=ej))] if order else [])

    return _documents


@pytest.fixture
def deposit(intake_ctx, drop, documents):
    """Take in a deposit of COMMUNE with its form (builders.form, changed by `fields`)."""
    names = iter(f"depot-{n}.zip" for n in range(100))

    def _deposit(
        members: list | None = None, form: dict | None = None, ctx: IntakeContext | None = None, **fields
    ):
        data = b.zip_of(documents() if members is None else members)
        said = b.form(COMMUNE, **fields) if form is None else form
        return take_in(drop(data, next(names), form=said), ctx or intake_ctx)

    return _deposit


def read(folder) -> list[email.message.EmailMessage]:
    if not folder.exists():
        return []
    return [
        email.message_from_bytes(m.as_bytes(), policy=policy.default)
        for m in mailbox.Maildir(folder, create=False)
    ]


def region_mail(ctx) -> email.message.EmailMessage:
    [msg] = read(ctx.workspace.outbox / REGION)
    return msg


def text(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def head(body: str) -> str:
    """The message up to "Un dépôt de convention a été reçu": what the team reads first."""
    return body.split("Un dépôt de convention a été reçu", 1)[0]


def signed_by(identity: sample.Identity, docx: bytes) -> bytes:
    return sample.sign_pdf(b.convention_pdf(docx, "none"), identity)


# -- the issue's example --------------------------------------------------------------------------


def test_the_issues_example_gives_both_warnings_and_puts_the_deposit_under_review(deposit):
    report = deposit(message=ISSUE_MESSAGE, raison_sociale=STRANGER)
    assert [w.code for w in report.warnings] == ["depositor_message", "form_conflict"]
    assert report.review is True and report.status == "complete" and report.dossiers[0].review is True


def test_the_issues_example_shows_both_warnings_at_the_top_of_the_regional_message(deposit, intake_ctx):
    report = deposit(message=ISSUE_MESSAGE, raison_sociale=STRANGER)
    top = head(text(region_mail(intake_ctx)))
    assert top.startswith("Bonjour,\n\nÀ VÉRIFIER AVANT TOUT TRAITEMENT :")
    assert all(w.message in top for w in report.warnings)
    assert "1300099999" in top and STRANGER in top and COMMUNE.name in top


def test_the_issues_example_is_never_announced_complete_to_the_region(deposit, intake_ctx):
    report = deposit(message=ISSUE_MESSAGE, raison_sociale=STRANGER)
    msg = region_mail(intake_ctx)
    assert msg["Subject"] == (
        f"[CSAC] {COMMUNE.name} — accord-cadre 2021-045 lot 2 — à vérifier — dépôt n° {report.deposit_id}"
    )
    assert re.search(r"\bcomplet\b", text(msg), re.I) is None and "Verdict : À VÉRIFIER" in text(msg)
    assert (msg["X-CSAC-Review"], msg["X-CSAC-Warnings"]) == ("yes", "depositor_message, form_conflict")


def test_the_depositor_of_a_deposit_under_review_is_told_it_is_being_checked_not_complete(
    deposit, intake_ctx
):
    deposit(message=ISSUE_MESSAGE)
    [notice] = read(intake_ctx.workspace.outbox / "depositors")
    said = text(notice)
    assert "en cours de vérification par l'équipe du Resah de votre région (Corse@resah.fr)" in said
    assert re.search(r"\bcomplet\b", said, re.I) is None


def test_the_report_of_a_deposit_under_review_follows_its_schema(deposit, resources):
    report = deposit(message=ISSUE_MESSAGE, raison_sociale=STRANGER)
    schema = resources.schema("intake-report")
    jsonschema.validate(report.to_json(), json.loads(schema.read_text(encoding="utf-8")))
    assert report.to_json()["warnings"][0] == {
        "code": "depositor_message",
        "message": report.warnings[0].message,
    }


def test_a_rejected_deposit_is_never_under_review_whatever_its_message(intake_ctx, drop):
    report = take_in(drop(b"ceci n'est pas un zip", form=b.form(COMMUNE, message=ISSUE_MESSAGE)), intake_ctx)
    assert (report.status, report.review, report.warnings) == ("rejected", False, ())


# -- form conflicts -------------------------------------------------------------------------------


def test_an_ej_number_in_the_form_other_than_the_orders_is_a_conflict_and_puts_it_under_review(
    deposit, intake_ctx
):
    report = deposit(reference_commande="1300099999")
    [warning] = report.warnings
    assert warning.code == "form_conflict" and report.review is True
    assert "« 1300099999 »" in warning.message and "« 1300012345 »" in warning.message
    assert warning.message in head(text(region_mail(intake_ctx)))


def test_the_same_ej_number_written_otherwise_in_the_form_is_no_conflict(deposit):
    report = deposit(reference_commande="EJ n° 1300 012 345")
    assert report.warnings == () and report.review is False


def test_the_same_organisation_written_otherwise_in_the_form_is_no_conflict(deposit):
    report = deposit(raison_sociale="MAIRIE DE TEST SUR MER")
    assert report.warnings == () and report.review is False


def test_a_marche_the_convention_is_not_is_said_once_as_a_problem_not_again_as_a_warning(deposit, intake_ctx):
    report = deposit(numero_marche="2021-063 lot 2")
    assert report.codes == ["contract_mismatch"] and report.warnings == ()
    own = text(region_mail(intake_ctx)).split("Message envoyé au déposant")[0]  # the notice quotes it too
    assert own.count("2021-063 lot 2") == 1


def test_a_siret_the_documents_do_not_give_is_said_once_as_a_problem_not_again_as_a_warning(deposit):
    report = deposit(siret=b.make_siret(777))
    assert "siret_mismatch" in report.codes and report.warnings == () and report.review is False


def test_a_scanned_convention_whose_form_names_another_marche_gets_a_warning(deposit, documents):
    """A scan names no accord-cadre: its dossier is the one its annex and order name, and no problem compares
    the form's marché with it."""
    members = [("Convention.pdf", b.scanned_pdf()), *documents()[1:]]
    report = deposit(members, numero_marche="2021-047")
    [warning] = report.warnings
    assert "contract_mismatch" not in report.codes and warning.code == "form_conflict"
    assert warning.message == (
        "Numéro de marché : le formulaire indique « 2021-047 », le dossier concerne l'accord-cadre 2021-045 lot 2."
    )


# -- the signer ----------------------------------------------------------------------------------


def test_the_signer_is_named_with_the_quality_their_certificate_gives(
    deposit, intake_ctx, renderer, resources, documents
):
    docx = b.rendered(renderer, resources, COMMUNE, "2021-045-lot2")["convention"]
    identity = sample.throwaway_identity("Jeanne Martin", "Commune", title="Maire")
    deposit(documents(convention=signed_by(identity, docx)))
    assert "Signé par : Jeanne Martin, Maire\n" in text(region_mail(intake_ctx))


def test_a_certificate_whose_name_already_carries_the_quality_is_not_given_it_twice(
    deposit, intake_ctx, renderer, resources, documents
):
    docx = b.rendered(renderer, resources, COMMUNE, "2021-045-lot2")["convention"]
    identity = sample.throwaway_identity("Olivier Gacquerre, Président", "Commune", title="Président")
    deposit(documents(convention=signed_by(identity, docx)))
    assert "Signé par : Olivier Gacquerre, Président\n" in text(region_mail(intake_ctx))


def test_a_signer_whose_quality_nothing_gives_is_said_without_one(
    deposit, intake_ctx, renderer, resources, documents
):
    docx = b.rendered(renderer, resources, COMMUNE, "2021-045-lot2")["convention"]
    deposit(documents(convention=signed_by(b.identity("Paul Durand"), docx)))
    assert "Signé par : Paul Durand (qualité non indiquée)\n" in text(region_mail(intake_ctx))


def test_the_quality_is_the_one_the_convention_gives_its_representative(
    deposit, intake_ctx, renderer, resources, documents
):
    data = COMMUNE.data()
    data["signataire"]["representant"] = "Monsieur Olivier Gacquerre, Président"
    variants = [v for v in renderer.variants if v.id == "2021-045-lot2"]
    request = parse_request(data, "test", renderer.regions, resources.schema("beneficiary"), variants)
    [docx] = [
        d.data
        for d in renderer.package(request, dt.date(2024, 3, 1), ("convention",))
        if d.variant == "2021-045-lot2"
    ]
    deposit(documents(convention=signed_by(b.identity("Olivier Gacquerre"), docx)))
    assert "Signé par : Olivier Gacquerre, Président\n" in text(region_mail(intake_ctx))


# -- what the depositor wrote ---------------------------------------------------------------------


def test_the_depositors_message_is_quoted_line_by_line_as_theirs(deposit, intake_ctx):
    deposit(message="Bonjour,\n\nVoici notre convention.\nCordialement,\nLe service achats")
    body = text(region_mail(intake_ctx))
    assert (
        "Message du déposant (ses propres mots, tels qu'écrits dans le formulaire) :\n"
        "  > Bonjour,\n  >\n  > Voici notre convention.\n  > Cordialement,\n  > Le service achats\n"
    ) in body


def test_a_long_message_is_quoted_within_bounds_and_said_to_be_cut(deposit, intake_ctx):
    deposit(message="x" * 300 + "\n" + "\n".join(f"ligne {n}" for n in range(40)))  # within the form's 5,000
    quoted = [line for line in text(region_mail(intake_ctx)).splitlines() if line.startswith("  > ")]
    assert len(quoted) == 21 and quoted[-1] == "  > […] (message tronqué)"
    assert quoted[0] == "  > " + "x" * 199 + "…"


def test_a_link_in_the_depositors_message_is_removed(deposit, intake_ctx):
    deposit(message="Payez sur https://paiement-resah.exemple.fr/iban merci")
    body = text(region_mail(intake_ctx))
    assert "  > Payez sur [lien retiré] merci" in body and "https://" not in body


def test_the_depositors_telephone_is_quoted_as_theirs(deposit, intake_ctx):
    deposit(telephone="03 21 00 00 00")
    assert "Téléphone du déposant : « 03 21 00 00 00 »" in text(region_mail(intake_ctx))


def test_a_message_that_asks_for_nothing_is_shown_but_puts_nothing_under_review(deposit, intake_ctx):
    report = deposit(message="Convention signée, annexe et EJ ci-joints.")
    assert report.warnings == () and report.review is False
    assert "  > Convention signée, annexe et EJ ci-joints." in text(region_mail(intake_ctx))


# -- no codes, one message per deposit ---------------------------------------------------------------


def test_problem_codes_are_in_a_header_for_scripts_never_in_brackets_in_the_text(
    deposit, intake_ctx, documents
):
    report = deposit(documents()[:2])
    msg = region_mail(intake_ctx)
    assert msg["X-CSAC-Problems"] == "purchase_order_missing" and report.codes == ["purchase_order_missing"]
    assert re.search(r"\[[a-z_]+\]", text(msg)) is None


def test_the_region_reads_the_depositors_notice_word_for_word_in_its_own_message(
    deposit, intake_ctx, documents
):
    deposit(documents()[:2])
    [notice] = read(intake_ctx.workspace.outbox / "depositors")
    body = text(region_mail(intake_ctx))
    told = "\n".join(f"    {line}".rstrip() for line in text(notice).rstrip("\n").splitlines())
    assert f"Message envoyé au déposant ({EMAIL}) — objet : {notice['Subject']}\n\n{told}" in body


def test_the_region_is_told_when_no_notice_could_be_sent(deposit, intake_ctx, documents):
    deposit(documents()[:2], email="pas une adresse")
    assert not read(intake_ctx.workspace.outbox / "depositors")
    assert "Aucun avis n'a été envoyé au déposant" in text(region_mail(intake_ctx))


def test_an_incomplete_deposit_puts_one_message_in_the_regions_maildir(deposit, intake_ctx, documents):
    deposit(documents()[:2])
    assert len(read(intake_ctx.workspace.outbox / REGION)) == 1
    assert [m["To"] for m in read(intake_ctx.workspace.outbox / "depositors")] == [EMAIL]


def test_an_incomplete_deposit_sends_the_region_one_message_through_the_relay(
    smtp,  # noqa: F811
    deposit,
    documents,
    resources,
    workspace,
):
    ctx = IntakeContext.build(resources, workspace, config=relay_config(workspace, smtp.controller.port))
    deposit(documents()[:2], ctx=ctx)
    to_region = [m for m, (_, rcpts) in zip(smtp.received, smtp.envelopes, strict=True) if REGION in rcpts]
    assert len(smtp.received) == 2 and len(to_region) == 1
    assert "Message envoyé au déposant" in text(to_region[0])


# -- a dossier under review ----------------------------------------------------------------------


def test_a_dossier_under_review_is_kept_so_in_the_journal(deposit, intake_ctx):
    report = deposit(message=ISSUE_MESSAGE)
    dossier = DossierBook(intake_ctx.workspace.journal).get(report.dossiers[0].dossier_id)
    assert (
        dossier.review is True and dossier.status == DossierStatus.COMPLETE and dossier.completed_at is None
    )


def test_a_person_accepting_a_dossier_under_review_ends_the_review(deposit, intake_ctx):
    report = deposit(message=ISSUE_MESSAGE)
    book = DossierBook(intake_ctx.workspace.journal)
    done = decide.accept(
        book, intake_ctx, report.dossiers[0].dossier_id, "Marie Durand", "EJ 1300099999 vérifié"
    )
    accepted = done.dossier
    assert (accepted.status, accepted.review) == (DossierStatus.ACCEPTED, False)


def test_a_dossier_completed_under_review_is_not_sent_whole_to_the_region(deposit, intake_ctx, documents):
    deposit(documents(order=False))
    follow_up = deposit(
        [("EJ.pdf", b.order_pdf(COMMUNE, DUE))], message="Cet EJ annule et remplace le précédent."
    )
    [last] = [
        m
        for m in read(intake_ctx.workspace.outbox / REGION)
        if m["X-CSAC-Deposit-Id"] == follow_up.deposit_id
    ]
    assert follow_up.status == "complete" and follow_up.review is True
    assert [p.get_filename() for p in last.iter_attachments()] == ["depot-1.zip"]


def test_a_dossier_under_review_stays_so_when_a_later_deposit_asks_nothing(deposit, intake_ctx, documents):
    deposit(documents(order=False), message="Erreur sur l'annexe, je corrige.")
    follow_up = deposit([("EJ.pdf", b.order_pdf(COMMUNE, DUE))])
    assert follow_up.dossiers[0].review is True and follow_up.review is True and follow_up.warnings == ()


def test_the_depositor_of_a_dossier_under_review_gets_no_reminder(deposit, intake_ctx, documents):
    report = deposit(documents(order=False), message="Erreur sur l'annexe, je corrige.")
    assert report.status == "incomplete" and report.review is True
    later = dt.datetime.now().astimezone() + dt.timedelta(days=30)
    assert remind.remind(intake_ctx.config, later).reminders == ()


# -- where a clerk or a team reads the verdict ---------------------------------------------------------


def test_the_intake_command_says_a_deposit_under_review_is_to_be_checked_and_why(
    documents, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "depot.zip"
    path.write_bytes(b.zip_of(documents()))
    b.write_form(path, b.form(COMMUNE, message=ISSUE_MESSAGE))
    shown = ok("intake", path, "--outbox", tmp_path / "courrier", "--state", tmp_path / "etat").stdout
    first, *rest = shown.splitlines()
    assert first.startswith("à vérifier ") and any(
        line.startswith("  à vérifier Le message du déposant") for line in rest
    )
    assert re.search(r"dossier \S+ : à vérifier", shown)


def test_the_dossier_list_says_a_dossier_under_review_is_to_be_checked(
    deposit, intake_ctx, monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    report = deposit(message=ISSUE_MESSAGE)
    [row] = json.loads(ok("dossier", "list", "--json", "--state", intake_ctx.workspace.state).stdout)
    assert (row["dossier_id"], row["status"], row["review"]) == (
        report.dossiers[0].dossier_id,
        "complete",
        True,
    )
    assert "à vérifier" in ok("dossier", "list", "--state", intake_ctx.workspace.state).stdout


def test_dossier_show_says_a_deposit_under_review_is_to_be_checked_not_complete(
    deposit, intake_ctx, monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    report = deposit(message=ISSUE_MESSAGE)
    state = intake_ctx.workspace.state
    shown = ok(
        "dossier", "show", report.dossiers[0].dossier_id, "--state", state, env={"COLUMNS": "200"}
    ).stdout
    [row] = [line for line in shown.splitlines() if report.deposit_id in line and report.file in line]
    assert "à vérifier" in row and "complet" not in row


def test_a_form_too_big_to_read_is_not_said_to_lack_an_address_nor_asked_to_be_completed(deposit, intake_ctx):
    """A 100 KB message makes the form unreadable (over 64 KB): its address was never read, not invalid."""
    deposit(message="x" * 100_000)
    summary = text(region_mail(intake_ctx))
    assert "formulaire trop volumineux" in summary and "Merci de le compléter" not in summary
    assert (
        "le formulaire de dépôt n'a pas pu être lu, ou ne donne pas d'adresse électronique valide" in summary
    )
