"""A submission is the ZIP and its form: a corrected form is judged anew, a true duplicate is told."""

import email
import hashlib
import json
import mailbox
import sqlite3
import unicodedata
from decimal import Decimal
from email import policy

import pytest
import yaml

from pipeline.intake import load_deposit, take_in
from pipeline.journal import Journal
from tests import builders as b

REGION = "Hauts-de-France@resah.fr"


@pytest.fixture
def commune():
    return b.Entity()


@pytest.fixture
def zip_bytes(renderer, resources, commune):
    docs = b.rendered(renderer, resources, commune, "2021-045-lot2")
    return b.zip_of(
        [
            ("Convention.pdf", b.convention_pdf(docs["convention"])),
            ("Annexe.xlsx", docs["annex"]),
            ("EJ.pdf", b.order_pdf(commune, Decimal("1000"))),
        ]
    )


def notices(outbox) -> list:
    box = outbox / "depositors"
    return [email.message_from_bytes(m.as_bytes(), policy=policy.default) for m in mailbox.Maildir(box)]


def codes(report) -> list[str]:
    return [p.code for p in report.problems]


@pytest.mark.parametrize(
    "wrong, corrected",
    [
        ({"numero_marche": "2021-063-002"}, {"numero_marche": "2021-045 lot 2"}),
        ({"email": "pas-une-adresse"}, {"email": "achats@test-sur-mer.example"}),
        ({"siret": b.make_siret(991)}, {}),
    ],
    ids=["numero_marche", "email", "siret"],
)
def test_the_same_zip_with_a_corrected_form_is_a_new_submission_judged_on_the_new_form(
    intake_ctx, drop, zip_bytes, commune, wrong, corrected
):
    first = take_in(drop(zip_bytes, form=b.form(commune, **wrong)), intake_ctx)
    second = take_in(drop(zip_bytes, form=b.form(commune, **corrected)), intake_ctx)
    assert first.status == "incomplete"
    assert (second.status, codes(second)) == ("complete", [])
    assert second.deposit_id != first.deposit_id


def test_the_same_zip_and_the_same_form_is_a_duplicate_and_the_depositor_is_told_once(
    intake_ctx, drop, zip_bytes, commune
):
    first = take_in(drop(zip_bytes, "depot.zip", form=b.form(commune)), intake_ctx)
    again = take_in(drop(zip_bytes, "depot-renvoi.zip", form=b.form(commune)), intake_ctx)
    assert again.status == "rejected" and codes(again) == ["duplicate"]
    told = [m for m in notices(intake_ctx.workspace.outbox) if m["X-CSAC-Deposit-Id"] == again.deposit_id]
    assert len(told) == 1
    body = told[0].get_body(("plain",)).get_content()
    assert f"n° {first.deposit_id}" in body and "déjà été reçu" in body
    assert f"n° {first.deposit_id}" in told[0]["Subject"]
    assert told[0]["To"] == "achats@test-sur-mer.example" and told[0]["Reply-To"] == REGION


def test_a_duplicate_is_not_delivered_to_the_region_again(intake_ctx, drop, zip_bytes, commune):
    take_in(drop(zip_bytes, form=b.form(commune)), intake_ctx)
    take_in(drop(zip_bytes, "bis.zip", form=b.form(commune)), intake_ctx)
    assert len(list(mailbox.Maildir(intake_ctx.workspace.outbox / REGION))) == 1


@pytest.mark.parametrize("layout", ["reordered-json", "yaml", "indented-json"])
def test_the_same_form_written_another_way_is_still_the_same_submission(
    intake_ctx, drop, zip_bytes, commune, tmp_path, layout
):
    take_in(drop(zip_bytes, form=b.form(commune)), intake_ctx)
    data = b.form(commune)
    path = drop(zip_bytes, "renvoi.zip")
    if layout == "yaml":
        path.with_suffix(".yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    else:
        ordered = dict(reversed(data.items())) if layout == "reordered-json" else data
        indent = 4 if layout == "indented-json" else None
        path.with_suffix(".json").write_text(json.dumps(ordered, indent=indent, ensure_ascii=False), "utf-8")
    assert codes(take_in(path, intake_ctx)) == ["duplicate"]


def _nfd(data: dict) -> dict:
    return {k: unicodedata.normalize("NFD", v) for k, v in data.items()}


SAME_FORM_RETYPED = {
    "values in NFD (typed on a Mac)": _nfd,
    "spaces around values": lambda d: {k: f" {v} " for k, v in d.items()},
    "Windows line ends in the message": lambda d: d | {"message": "Bonjour,\r\nci-joint."},
    "an empty field the portal added": lambda d: d | {"commentaire": ""},
}


@pytest.mark.parametrize("retyped", SAME_FORM_RETYPED)
def test_the_same_form_retyped_as_a_person_would_read_it_alike_is_a_duplicate(
    intake_ctx, drop, zip_bytes, commune, retyped
):
    base = b.form(
        commune, raison_sociale="Communauté d'Agglomération de Béthune", message="Bonjour,\nci-joint."
    )
    take_in(drop(zip_bytes, form=base), intake_ctx)
    again = take_in(drop(zip_bytes, "renvoi.zip", form=SAME_FORM_RETYPED[retyped](base)), intake_ctx)
    assert codes(again) == ["duplicate"]


def test_a_duplicate_without_a_form_tells_nobody(intake_ctx, drop, zip_bytes):
    take_in(drop(zip_bytes), intake_ctx)
    again = take_in(drop(zip_bytes, "bis.zip"), intake_ctx)
    assert codes(again) == ["duplicate"] and again.delivered_to == ()
    assert not (intake_ctx.workspace.outbox / "depositors").exists()


OLD_SCHEMA = """
CREATE TABLE deposits (id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, file TEXT NOT NULL, source TEXT,
    received_at TEXT NOT NULL, state TEXT NOT NULL, status TEXT, variant TEXT, siret TEXT, region TEXT,
    mailbox TEXT, problems TEXT, delivered_to TEXT, report TEXT, updated_at TEXT NOT NULL);
CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, deposit_id TEXT NOT NULL, at TEXT NOT NULL,
    state TEXT NOT NULL, detail TEXT);
"""


def test_a_journal_of_the_previous_version_is_upgraded_and_keeps_its_deposits(intake_ctx, drop, zip_bytes):
    path = intake_ctx.workspace.journal
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
        conn.execute(
            "INSERT INTO deposits VALUES ('20240301-000000-abcdef12', ?, 'ancien.zip', NULL,"
            " '2024-03-01T10:00:00+01:00', 'done', 'complete', NULL, NULL, NULL, NULL, '[]', '[]', '{}',"
            " '2024-03-01T10:00:00+01:00')",
            ("0" * 64,),
        )
    report = take_in(drop(zip_bytes), intake_ctx)
    ids = [r["id"] for r in Journal(path).latest()]
    assert ids == [report.deposit_id, "20240301-000000-abcdef12"]
    assert codes(take_in(drop(zip_bytes, "bis.zip"), intake_ctx)) == ["duplicate"]


def test_the_same_file_dropped_again_with_a_corrected_form_is_judged_anew(
    intake_ctx, drop, zip_bytes, commune
):
    """A file moved back from done/ keeps its inode and mtime: only its form says it is new."""
    path = drop(zip_bytes, form=b.form(commune, numero_marche="2021-063-002"))
    first = take_in(path, intake_ctx, claimed=True)
    b.write_form(path, b.form(commune))
    again = take_in(path, intake_ctx, claimed=True)
    assert codes(first) == ["contract_mismatch"] and (again.status, codes(again)) == ("complete", [])
    assert again.deposit_id != first.deposit_id


def test_a_file_taken_again_without_the_form_that_went_ahead_of_it_to_done_is_not_taken_twice(
    intake_ctx, drop, zip_bytes, commune
):
    """The watcher moves the form to done/ first, then the file: killed in between, the file is adopted
    again alone. It is the same drop, already finished: its report, no second row."""
    path = drop(zip_bytes, form=b.form(commune))
    first = take_in(path, intake_ctx, claimed=True)
    path.with_suffix(".json").unlink()
    again = take_in(path, intake_ctx, claimed=True)
    assert again.deposit_id == first.deposit_id and len(Journal(intake_ctx.workspace.journal).latest()) == 1


def test_a_copy_of_a_submission_still_being_taken_in_is_a_duplicate_of_it(
    intake_ctx, drop, zip_bytes, commune
):
    """Two copies dropped at once: the second finds the first in hand, not yet finished."""
    first = drop(zip_bytes, "t3.zip", form=b.form(commune))
    copy = drop(zip_bytes, "t3 (1).zip", form=b.form(commune))
    in_hand = Journal(intake_ctx.workspace.journal).open(
        hashlib.sha256(zip_bytes).hexdigest(),
        first.name,
        "0:1:2",
        load_deposit(first, None, intake_ctx).form_sha256,
    )
    report = take_in(copy, intake_ctx, claimed=True)
    assert codes(report) == ["duplicate"] and in_hand.deposit_id in report.problems[0].message
    assert not (intake_ctx.workspace.outbox / REGION).exists()


def test_a_row_left_unfinished_long_ago_does_not_make_a_new_copy_a_duplicate(
    intake_ctx, drop, zip_bytes, commune
):
    first = drop(zip_bytes, "ancien.zip", form=b.form(commune))
    journal = Journal(intake_ctx.workspace.journal)
    journal.open(
        hashlib.sha256(zip_bytes).hexdigest(),
        first.name,
        "0:1:2",
        load_deposit(first, None, intake_ctx).form_sha256,
    )
    with sqlite3.connect(journal.path) as conn:
        conn.execute("UPDATE deposits SET updated_at = '2024-03-01T10:00:00+00:00'")
    report = take_in(drop(zip_bytes, "renvoi.zip", form=b.form(commune)), intake_ctx, claimed=True)
    assert report.status == "complete"
