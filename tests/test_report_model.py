"""The intake report as a typed model: Decimal amounts, closed sets of states, JSON only at the edges.

Deposits are real ZIPs built by tests/builders.py and taken in end to end; the
JSON checked is what csac wrote (the journal, the quarantine folder), against
schemas/intake-report.schema.json.
"""

from __future__ import annotations

import datetime as dt
import email
import json
import mailbox
import sqlite3
from contextlib import closing
from decimal import Decimal
from email import policy

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.digest import build_digest
from pipeline.intake import take_in
from pipeline.money import format_eur, parse_eur
from pipeline.problems import CODES
from pipeline.report import (
    Contribution,
    Document,
    IntakeReport,
    Problem,
    Role,
    Signature,
    SignatureStatus,
    Verdict,
)
from tests import builders as b

PE = b"MZ" + b"\0" * 200  # a Windows program: never forwarded, the original is archived
NBSP = "\u00a0"


@pytest.fixture(scope="module")
def commune():
    return b.Entity(postal_code="97200", city="FORT-DE-FRANCE")


@pytest.fixture(scope="module")
def parts(renderer, resources, commune) -> dict:
    docs = b.rendered(renderer, resources, commune, "2021-045-lot2")
    return {"Convention.pdf": b.convention_pdf(docs["convention"]), "Annexe.xlsx": docs["annex"]}


def deposit(parts, commune, amount=Decimal("1000"), extra=()) -> bytes:
    return b.zip_of([*parts.items(), ("EJ.pdf", b.order_pdf(commune, amount)), *extra])


@pytest.fixture(scope="module")
def schema(resources) -> dict:
    return json.loads(resources.schema("intake-report").read_text(encoding="utf-8"))


def stored(ctx, deposit_id: str) -> dict:
    """The report as the journal keeps it: its JSON text, parsed."""
    with closing(sqlite3.connect(ctx.workspace.journal)) as conn:
        (text,) = conn.execute("SELECT report FROM deposits WHERE id = ?", (deposit_id,)).fetchone()
    return json.loads(text)


def region_text(ctx, mailbox_name: str) -> str:
    [msg] = [email.message_from_bytes(m.as_bytes(), policy=policy.default)
             for m in mailbox.Maildir(ctx.workspace.outbox / mailbox_name, create=False)]  # fmt: skip
    return msg.get_body(("plain",)).get_content()


def report_of(**fields) -> IntakeReport:
    base = {"deposit_id": "20240301-101500-abcdef12", "status": "incomplete", "file": "depot.zip",
            "sha256": "0" * 64, "received_at": "2024-03-01T10:15:00+01:00"}  # fmt: skip
    return IntakeReport(**(base | fields))


# -- the JSON form -------------------------------------------------------------------------------

DEPOSITS = {
    "complete": lambda parts, commune: (deposit(parts, commune), b.form(commune)),
    "incomplete, wrong amount": lambda parts, commune: (deposit(parts, commune, Decimal("600")), b.form(commune)),
    "complete, a program withheld": lambda parts, commune: (deposit(parts, commune, extra=[("outil.exe", PE)]),
                                                            b.form(commune)),
    "without a form": lambda parts, commune: (deposit(parts, commune), None),
}  # fmt: skip


@pytest.mark.parametrize("case", DEPOSITS)
def test_the_json_the_journal_keeps_for_a_real_deposit_follows_the_report_schema(
    intake_ctx, drop, parts, commune, schema, case
):
    data, form = DEPOSITS[case](parts, commune)
    report = take_in(drop(data, form=form), intake_ctx)
    kept = stored(intake_ctx, report.deposit_id)
    jsonschema.validate(kept, schema)
    assert kept == report.to_json()


@pytest.mark.parametrize("case", DEPOSITS)
def test_every_key_of_the_reports_json_is_described_by_the_schema(
    intake_ctx, drop, parts, commune, schema, case
):
    data, form = DEPOSITS[case](parts, commune)
    written = take_in(drop(data, form=form), intake_ctx).to_json()
    assert set(written) <= set(schema["properties"])


def test_the_report_json_kept_with_a_rejected_deposit_follows_the_report_schema(intake_ctx, drop, schema):
    report = take_in(drop(b"PK\x03\x04 truncated", "casse.zip"), intake_ctx)
    kept = json.loads((intake_ctx.workspace.quarantine / report.deposit_id / "report.json").read_text())
    jsonschema.validate(kept, schema)
    assert (kept["status"], kept["problems"][0]["code"]) == ("rejected", "archive_corrupt")


def test_the_models_states_and_roles_are_the_schemas(schema):
    props = schema["properties"]
    assert {v.value for v in Verdict} == set(props["status"]["enum"])
    assert {r.value for r in Role} == set(props["documents"]["items"]["properties"]["role"]["enum"])
    assert {s.value for s in SignatureStatus} == set(props["signature"]["properties"]["status"]["enum"])
    assert set(CODES) == set(props["problems"]["items"]["properties"]["code"]["enum"])


# -- amounts -------------------------------------------------------------------------------------


def test_amounts_are_decimals_in_the_model_and_printed_the_french_way_in_its_json(
    intake_ctx, drop, parts, commune
):
    report = take_in(drop(deposit(parts, commune, Decimal("1000.50")), form=b.form(commune)), intake_ctx)
    assert report.amount_paid == Decimal("1000.50") and isinstance(report.amount_paid, Decimal)
    assert report.contribution == Contribution(Decimal("1000.00"))
    kept = stored(intake_ctx, report.deposit_id)
    assert (kept["contribution_due"], kept["amount_paid"]) == (
        f"1{NBSP}000,00{NBSP}€",
        f"1{NBSP}000,50{NBSP}€",
    )
    line = (
        f"Contribution due : {kept['contribution_due']} ; montant du bon de commande : {kept['amount_paid']}"
    )
    assert line in region_text(intake_ctx, report.mailbox)  # the same printing for people and for scripts


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_a_printed_amount_reads_back_to_the_same_decimal(amount):
    assert parse_eur(format_eur(amount)) == amount


@pytest.mark.parametrize(
    "text", ["1 000,00 €", "1000,00\u00a0€", "1\u00a0000\u00a0€", "sur devis", "1\u00a0000,00"]
)
def test_an_amount_csac_did_not_print_is_refused_rather_than_guessed(text):
    with pytest.raises(ValueError):
        parse_eur(text)


CONTRIBUTIONS = {
    "a figure": Contribution(Decimal("3500.00")),
    "on quote": Contribution(),
    "to be checked": Contribution(None, "le nombre de membres du groupement n'a pas pu être lu"),
    "none determined": None,
}


@pytest.mark.parametrize("case", CONTRIBUTIONS)
def test_each_kind_of_contribution_due_survives_its_json_form(case):
    report = report_of(contribution=CONTRIBUTIONS[case], amount_paid=Decimal("3500.00"))
    assert IntakeReport.from_json(json.loads(json.dumps(report.to_json()))) == report


def test_a_due_to_be_checked_is_said_in_words_and_its_reason_kept_apart():
    kept = report_of(contribution=Contribution(None, "mode contradictoire")).to_json()
    assert kept["contribution_due"] == "montant à vérifier par l'équipe régionale (mode contradictoire)"
    assert kept["contribution_to_check"] == "mode contradictoire"


def test_the_digest_adds_up_the_amounts_the_journal_kept(intake_ctx, drop, parts, commune, regions):
    """Once per dossier: the same lot sent again with another order counts its latest order, once."""
    take_in(drop(deposit(parts, commune), "a.zip", form=b.form(commune)), intake_ctx)
    take_in(drop(deposit(parts, commune, Decimal("10.50")), "b.zip"), intake_ctx)
    region = next(r for r in regions.regions if r.mailbox == "Guadeloupe-Martinique@resah.fr")
    digest = build_digest(intake_ctx.workspace.journal, region, dt.date(2020, 1, 1))
    assert [(d.due, d.paid) for d in digest.dossiers] == [(Decimal("1000.00"), Decimal("10.50"))]
    assert (digest.total_due(), digest.total_paid()) == (Decimal("1000.00"), Decimal("10.50"))


# -- read back from the journal ------------------------------------------------------------------


def test_a_file_taken_in_again_after_a_crash_gets_back_the_very_report_the_journal_kept(
    intake_ctx, drop, parts, commune
):
    path = drop(deposit(parts, commune, extra=[("outil.exe", PE)]), form=b.form(commune))
    first = take_in(path, intake_ctx, claimed=True)
    again = take_in(path, intake_ctx, claimed=True)  # the watcher's claim of the same file, once more
    assert again == first
    assert again.withheld and again.archived_to and again.signature.covers and again.delivered_to


def test_a_report_the_journal_kept_is_refused_if_its_verdict_is_not_one_of_the_three(
    intake_ctx, drop, parts, commune
):
    report = take_in(drop(deposit(parts, commune), form=b.form(commune)), intake_ctx)
    tampered = stored(intake_ctx, report.deposit_id) | {"status": "accepted"}
    with pytest.raises(ValueError, match="status"):
        IntakeReport.from_json(tampered)


# -- closed sets, at construction ----------------------------------------------------------------

OUTSIDE = {
    "a verdict": lambda: report_of(status="accepted"),
    "a role": lambda: Document("facture.pdf", "invoice"),
    "a signature status": lambda: Signature("forged", "?"),
    "a problem code": lambda: Problem("late", "Dépôt hors délai"),
}


@pytest.mark.parametrize("what", OUTSIDE)
def test_a_value_outside_its_closed_set_is_refused_when_the_report_is_built(what):
    with pytest.raises(ValueError, match="valeur inconnue"):
        OUTSIDE[what]()


def test_states_and_roles_given_as_text_become_their_enums():
    report = report_of(status="complete", documents=(Document("EJ.pdf", "purchase_order"),))
    assert report.status is Verdict.COMPLETE and report.documents[0].role is Role.PURCHASE_ORDER
