"""A person accepts a dossier: the region receives it whole, once, when csac had never sent it so.

Each test takes real deposits in (a convention rendered by csac, laid out as PDF and signed; its annex; a
Chorus-style EJ) with their forms, then runs `csac dossier accept` in this process on the same journal
and outbox, and reads the region's Maildir as a person would: subject, text, attached ZIP.
"""

from __future__ import annotations

import email
import io
import mailbox
import os
import zipfile
from decimal import Decimal
from email import policy

import pytest

from pipeline.config import Config
from pipeline.decide import acceptance_message, whole
from pipeline.deliver import Courier, Outgoing
from pipeline.dossiers import DossierBook, DossierStatus
from pipeline.errors import ArgumentError
from pipeline.intake import take_in
from tests import builders as b
from tests.relays import Behaviour, LoopbackRelay, write_config
from tests.test_cli_options import csac, ok  # `csac` run in this process
from tests.test_message_wording import offences

COMMUNE = b.Entity(postal_code="20000", city="AJACCIO")  # Corse
REGION = "Corse@resah.fr"
DUE = Decimal("1000")  # a commune of 60,000 on 2021-045 lot 2
DOSSIER = f"{COMMUNE.siret}-2021-045-lot2"
CHANGE = "Cet EJ annule et remplace le précédent."  # the depositor asks for a change: "à vérifier"
ACCEPT = [
    "dossier",
    "accept",
    DOSSIER,
    "--by",
    "Marie Durand",
    "--note",
    "EJ 1300012345 vérifié avec la mairie",
]


@pytest.fixture
def documents(renderer, resources):
    docs = b.rendered(renderer, resources, COMMUNE, "2021-045-lot2")
    return {
        "Convention.pdf": b.convention_pdf(docs["convention"]),
        "Annexe.xlsx": docs["annex"],
        "EJ.pdf": b.order_pdf(COMMUNE, DUE),
    }


@pytest.fixture
def deposit(intake_ctx, drop, documents):
    """Take in a deposit of COMMUNE holding these documents (by name), its form changed by `fields`."""
    names = iter(f"depot-{n}.zip" for n in range(100))

    def _deposit(*names_in: str, members: list | None = None, **fields):
        data = b.zip_of(members or [(n, documents[n]) for n in names_in])
        return take_in(drop(data, next(names), form=b.form(COMMUNE, **fields)), intake_ctx)

    return _deposit


@pytest.fixture(autouse=True)
def at_the_desk(intake_ctx, tmp_path, monkeypatch):
    """`csac` reads the journal intake wrote and delivers into its outbox; no other CSAC_* setting."""
    monkeypatch.chdir(tmp_path)
    for var in [v for v in os.environ if v.startswith("CSAC_") and v != "CSAC_HOME"]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("CSAC_STATE", str(intake_ctx.workspace.state))
    monkeypatch.setenv("CSAC_OUTBOX", str(intake_ctx.workspace.outbox))


def region_mail(ctx) -> list[email.message.EmailMessage]:
    folder = ctx.workspace.outbox / REGION
    return [email.message_from_bytes(m.as_bytes(), policy=policy.default) for m in mailbox.Maildir(folder)]


def acceptances(ctx) -> list[email.message.EmailMessage]:
    return [m for m in region_mail(ctx) if m["X-CSAC-Dossier-Id"]]


def text(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def attached(msg) -> dict[str, bytes]:
    return {p.get_filename(): p.get_content() for p in msg.iter_attachments()}


def members(msg) -> dict[str, bytes]:
    whole_zip = zipfile.ZipFile(io.BytesIO(attached(msg)[f"dossier-{DOSSIER}.zip"]))
    return {name: whole_zip.read(name) for name in whole_zip.namelist()}


@pytest.fixture
def under_review(deposit):
    """The convention and annex, then the EJ alone with a message asking for a change: complete, but under
    review, so intake did not send it whole. Returns the two deposits' numbers."""
    first = deposit("Convention.pdf", "Annexe.xlsx")
    second = deposit("EJ.pdf", message=CHANGE)
    assert (second.status, second.review) == ("complete", True)
    return first.deposit_id, second.deposit_id


# -- a dossier under review, accepted -------------------------------------------------------------


def test_an_accepted_dossier_under_review_reaches_its_region_whole_in_one_message(
    under_review, intake_ctx, documents
):
    first, second = under_review
    ok(*ACCEPT)
    [msg] = acceptances(intake_ctx)
    assert members(msg) == {
        f"{first}/Convention.pdf": documents["Convention.pdf"],
        f"{first}/Annexe.xlsx": documents["Annexe.xlsx"],
        f"{second}/EJ.pdf": documents["EJ.pdf"],
    }


def test_the_acceptance_tells_the_region_in_french_who_accepted_it_and_why(under_review, intake_ctx):
    ok(*ACCEPT)
    [msg] = acceptances(intake_ctx)
    assert msg["To"] == REGION
    assert (
        msg["Subject"]
        == f"[CSAC] {COMMUNE.name} — accord-cadre 2021-045 lot 2 — accepté — dossier n° {DOSSIER}"
    )
    said = text(msg)
    assert "a été accepté par Marie Durand le " in said
    assert "Note : EJ 1300012345 vérifié avec la mairie" in said and "Le dossier peut être traité" in said
    assert offences(f"{msg['Subject']}\n{said}") == []


def test_the_acceptance_is_journalled_as_a_message_of_the_dossier(under_review, intake_ctx):
    ok(*ACCEPT)
    [msg] = acceptances(intake_ctx)
    event = DossierBook(intake_ctx.workspace.journal).events(DOSSIER)[-1]
    assert (event.kind, event.by) == ("message", "Marie Durand") and msg["Message-ID"] in event.detail
    assert "dossier accepté, envoyé en entier à la région" in ok("dossier", "show", DOSSIER).stdout


def test_accepting_it_again_exits_1_and_sends_nothing_more(under_review, intake_ctx):
    ok(*ACCEPT)
    again = csac("dossier", "accept", DOSSIER, "--by", "Paul Martin", "--note", "revu")
    assert isinstance(again.exception, ArgumentError) and "déjà accepté" in str(again.exception)
    assert len(acceptances(intake_ctx)) == 1


def test_an_acceptance_whose_message_never_went_is_sent_once_by_accepting_again(under_review, intake_ctx):
    """A crash between the decision and the message leaves the dossier accepted, its message unsent."""
    book = DossierBook(intake_ctx.workspace.journal)
    book.decide(DOSSIER, DossierStatus.ACCEPTED, "Marie Durand", "EJ vérifié")
    resumed = ok("dossier", "accept", DOSSIER, "--by", "Paul Martin", "--note", "autre note")
    assert "n'avait pas été envoyée" in resumed.stdout
    [msg] = acceptances(intake_ctx)
    assert "accepté par Marie Durand" in text(msg) and "Note : EJ vérifié" in text(msg)
    assert csac(*ACCEPT).exit_code != 0 and len(acceptances(intake_ctx)) == 1


def test_an_acceptance_delivered_but_not_journalled_is_not_delivered_twice(under_review, intake_ctx):
    """A crash after the message was put in the region's Maildir, before the journal said so."""
    book = DossierBook(intake_ctx.workspace.journal)
    dossier = book.decide(DOSSIER, DossierStatus.ACCEPTED, "Marie Durand", "EJ vérifié")
    held = book.documents(DOSSIER)
    message = acceptance_message(dossier, book.events(DOSSIER)[-1], whole(intake_ctx, dossier, held), held)
    Courier(Config(intake_ctx.workspace)).send(Outgoing(REGION, message), None)
    ok(*ACCEPT)
    assert len(acceptances(intake_ctx)) == 1


def test_an_accepted_dossier_under_review_reaches_the_region_once_through_the_relay(
    under_review, intake_ctx, tmp_path
):
    relay = LoopbackRelay(Behaviour())
    try:
        ws = intake_ctx.workspace
        config = write_config(tmp_path, relay, state=ws.state.resolve(), outbox=ws.outbox.resolve())
        ok("--config", config, *ACCEPT)
        [sent] = relay.accepted
    finally:
        relay.stop()
    assert sent.rcpt_tos == [REGION] and sent.message["X-CSAC-Dossier-Id"] == DOSSIER
    assert len(members(sent.message)) == 3 and acceptances(intake_ctx) == []


# -- what is not sent whole -------------------------------------------------------------------------


def test_accepting_a_dossier_without_its_order_sends_nothing_whole_and_says_what_is_missing(
    deposit, intake_ctx
):
    report = deposit("Convention.pdf", "Annexe.xlsx", message="Erreur sur l'annexe, je corrige.")
    assert (report.status, report.review) == ("incomplete", True)
    result = ok(*ACCEPT)
    assert acceptances(intake_ctx) == [] and len(region_mail(intake_ctx)) == 1
    assert "il y manque encore : bon de commande absent" in result.stderr


def test_a_dossier_accepted_without_its_order_goes_whole_to_the_region_when_the_order_comes(
    deposit, intake_ctx
):
    deposit("Convention.pdf", "Annexe.xlsx", message="Erreur sur l'annexe, je corrige.")
    ok(*ACCEPT)
    later = deposit("EJ.pdf")
    [last] = [m for m in region_mail(intake_ctx) if m["X-CSAC-Deposit-Id"] == later.deposit_id]
    assert f"dossier-{DOSSIER}.zip" in attached(last)


def test_accepting_a_complete_dossier_sends_nothing_again(deposit, intake_ctx):
    deposit("Convention.pdf", "Annexe.xlsx", "EJ.pdf")
    ok(*ACCEPT)
    assert acceptances(intake_ctx) == [] and len(region_mail(intake_ctx)) == 1


def test_an_incomplete_dossier_holding_every_document_is_sent_whole_once_accepted_with_what_was_waived(
    deposit, intake_ctx, documents
):
    """A wrong amount a person accepts: the dossier becomes treatable as if it had become complete."""
    wrong = [(n, documents[n]) for n in ("Convention.pdf", "Annexe.xlsx")]
    report = deposit(members=[*wrong, ("EJ.pdf", b.order_pdf(COMMUNE, Decimal(900)))])
    assert (report.status, report.review) == ("incomplete", False)
    ok(*ACCEPT)
    [msg] = acceptances(intake_ctx)
    assert len(members(msg)) == 3
    assert "Relevé par csac et accepté par Marie Durand :" in text(msg) and "900" in text(msg)
