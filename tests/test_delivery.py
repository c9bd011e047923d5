"""Delivery to Maildirs, notices to depositors, the journal, and the intake/status commands."""

import email
import hashlib
import json
import mailbox
import stat
from decimal import Decimal
from email import policy

import jsonschema
import pytest

from pipeline.deliver import put
from pipeline.forward import Parcel
from pipeline.intake import take_in
from pipeline.journal import Journal
from pipeline.notices import region_message
from tests import builders as b
from tests.conftest import run_csac


@pytest.fixture
def commune():
    return b.Entity(postal_code="97200", city="FORT-DE-FRANCE")


@pytest.fixture
def deposit_bytes(renderer, resources, commune):
    def _build(amount=Decimal("1000"), signature="valid"):
        docs = b.rendered(renderer, resources, commune, "2021-045-lot2")
        return b.zip_of(
            [
                ("Convention.pdf", b.convention_pdf(docs["convention"], signature)),
                ("Annexe.xlsx", docs["annex"]),
                ("EJ.pdf", b.order_pdf(commune, amount)),
            ]
        )

    return _build


def messages(folder) -> list:
    return [
        email.message_from_bytes(m.as_bytes(), policy=policy.default)
        for m in mailbox.Maildir(folder, create=False)
    ]


def test_the_region_receives_a_french_summary_with_the_zip_attached(intake_ctx, drop, deposit_bytes, commune):
    data = deposit_bytes()
    report = take_in(drop(data, form=b.form(commune, code_service_chorus="SERV-971")), intake_ctx)
    [msg] = messages(intake_ctx.workspace.outbox / "Guadeloupe-Martinique@resah.fr")
    assert msg["To"] == "Guadeloupe-Martinique@resah.fr"
    assert msg["Message-ID"] == f"<{report.deposit_id}.region@csac.resah.fr>"
    assert msg["Subject"] == (
        f"[CSAC] Commune de Test-sur-Mer — accord-cadre 2021-045 lot 2 — complet — dépôt n° {report.deposit_id}"
    )
    body = msg.get_body(("plain",)).get_content()
    for expected in (
        "Verdict : COMPLET",
        f"SIRET : {commune.siret}",
        "Convention : accord-cadre 2021-045 lot 2",
        "Contribution due : 1\u00a0000,00\u00a0€ ; montant du bon de commande : 1\u00a0000,00\u00a0€",
        "(EJ / bon de commande) : 1300012345",
        "Code service Chorus : SERV-971",
    ):
        assert expected in body
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "depot.zip"
    assert hashlib.sha256(attachment.get_content()).hexdigest() == hashlib.sha256(data).hexdigest()


def test_an_incomplete_deposit_lists_the_problems_for_the_region_and_the_depositor(
    intake_ctx, drop, deposit_bytes, commune
):
    report = take_in(drop(deposit_bytes(amount=Decimal("600")), form=b.form(commune)), intake_ctx)
    [region] = messages(intake_ctx.workspace.outbox / "Guadeloupe-Martinique@resah.fr")
    assert report.problems[0].message in region.get_body(("plain",)).get_content()
    assert region["X-CSAC-Problems"] == "amount_mismatch"
    [notice] = messages(intake_ctx.workspace.outbox / "depositors")
    assert notice["To"] == "achats@test-sur-mer.example"
    assert notice["Subject"] == (
        f"Convention 2021-045 lot 2 — Commune de Test-sur-Mer — dossier incomplet (n° {report.deposit_id})"
    )
    text = notice.get_body(("plain",)).get_content()
    assert "merci de nous envoyer uniquement" in text and report.problems[0].ask in text


def test_a_complete_deposit_gets_an_acknowledgement(intake_ctx, drop, deposit_bytes, commune):
    report = take_in(drop(deposit_bytes(), form=b.form(commune)), intake_ctx)
    [notice] = messages(intake_ctx.workspace.outbox / "depositors")
    assert notice["Subject"] == (
        f"Convention 2021-045 lot 2 — Commune de Test-sur-Mer — dossier complet (n° {report.deposit_id})"
    )
    assert "Votre dossier est complet" in notice.get_body(("plain",)).get_content()


def test_an_invoice_by_mail_is_mentioned_in_the_notice(intake_ctx, drop, deposit_bytes, commune):
    take_in(
        drop(deposit_bytes(), form=b.form(commune, code_service_chorus="factures@test.example")), intake_ctx
    )
    [notice] = messages(intake_ctx.workspace.outbox / "depositors")
    assert "par courriel à factures@test.example" in notice.get_body(("plain",)).get_content()


def test_without_a_form_there_is_no_notice(intake_ctx, drop, deposit_bytes):
    take_in(drop(deposit_bytes()), intake_ctx)
    assert not (intake_ctx.workspace.outbox / "depositors").exists()


def test_a_duplicate_is_journalled_but_not_delivered_again(intake_ctx, drop, deposit_bytes, commune):
    data = deposit_bytes()
    first = take_in(drop(data, "a.zip"), intake_ctx)
    second = take_in(drop(data, "a-bis.zip"), intake_ctx)
    assert second.status == "rejected" and [p.code for p in second.problems] == ["duplicate"]
    assert first.deposit_id in second.problems[0].message
    assert len(messages(intake_ctx.workspace.outbox / "Guadeloupe-Martinique@resah.fr")) == 1
    rows = Journal(intake_ctx.workspace.journal).latest()
    assert [r["status"] for r in rows] == ["rejected", "complete"]


def test_every_state_change_is_journalled_with_its_time(intake_ctx, drop, deposit_bytes, commune):
    report = take_in(drop(deposit_bytes(), form=b.form(commune)), intake_ctx)
    events = Journal(intake_ctx.workspace.journal).events(report.deposit_id)
    assert [e["state"] for e in events] == ["received", "assessed", "delivered", "delivered", "done"]
    assert all(e["at"] for e in events)


def test_putting_the_same_message_twice_delivers_it_once(intake_ctx, drop, deposit_bytes, tmp_path):
    report = take_in(drop(deposit_bytes()), intake_ctx)
    outgoing = region_message(report, Parcel("depot.zip", b"zip"))
    put(tmp_path / "out", outgoing)
    put(tmp_path / "out", outgoing)
    assert len(messages(tmp_path / "out" / outgoing.folder)) == 1


def test_delivered_files_are_readable_by_their_owner_only(intake_ctx, drop, deposit_bytes):
    take_in(drop(deposit_bytes()), intake_ctx)
    take_in(drop(b"not a zip", "x.zip"), intake_ctx)
    outbox = intake_ctx.workspace.outbox
    files = [p for p in outbox.rglob("*") if p.is_file()]
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)


@pytest.mark.slow  # a real csac process
def test_intake_json_follows_the_report_schema_and_exits_0_when_rejected(tmp_path, deposit_bytes, resources):
    schema = json.loads(resources.schema("intake-report").read_text())
    (tmp_path / "ok.zip").write_bytes(deposit_bytes())
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 truncated")
    for name, status in (("ok.zip", "complete"), ("bad.zip", "rejected")):
        result = run_csac(
            "intake",
            str(tmp_path / name),
            "--json",
            "--outbox",
            str(tmp_path / "out"),
            "--state",
            str(tmp_path / "var"),
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        jsonschema.validate(report, schema)
        assert report["status"] == status


@pytest.mark.slow  # a real csac process
def test_the_journal_written_by_csac_intake_is_private(tmp_path, deposit_bytes):
    (tmp_path / "ok.zip").write_bytes(deposit_bytes())
    run_csac(
        "intake",
        str(tmp_path / "ok.zip"),
        "--outbox",
        str(tmp_path / "out"),
        "--state",
        str(tmp_path / "var"),
    )
    written = [p for p in (tmp_path / "var").rglob("*") if p.is_file()] + [
        p for p in (tmp_path / "out").rglob("*")
    ]
    assert written and all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in written)


@pytest.mark.slow  # a real csac process
def test_status_lists_the_latest_deposits_for_people_and_scripts(tmp_path, deposit_bytes):
    (tmp_path / "ok.zip").write_bytes(deposit_bytes())
    run_csac(
        "intake",
        str(tmp_path / "ok.zip"),
        "--outbox",
        str(tmp_path / "out"),
        "--state",
        str(tmp_path / "var"),
    )
    rows = json.loads(run_csac("status", "--json", "--state", str(tmp_path / "var")).stdout)
    assert [(r["file"], r["status"], r["mailbox"]) for r in rows] == [
        ("ok.zip", "complete", "Guadeloupe-Martinique@resah.fr")
    ]
    table = run_csac("status", "--state", str(tmp_path / "var")).stdout
    assert rows[0]["id"] in table and "complet" in table


@pytest.mark.slow  # a real csac process
def test_rendering_records_the_signatory_in_the_register(tmp_path):
    from pathlib import Path

    example = Path(__file__).parent.parent / "examples" / "beneficiaire.yaml"
    run_csac(
        "render",
        "2021-045-lot2",
        "-b",
        str(example),
        "-o",
        str(tmp_path / "out"),
        "--state",
        str(tmp_path / "var"),
    )
    from pipeline.register import lookup

    known = lookup(tmp_path / "var" / "register.sqlite", siret="20007246000013")
    assert known.region == "hauts-de-france" and known.due("2021-045-lot2") == (True, Decimal("1000.00"))
