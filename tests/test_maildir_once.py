"""A message lands in its Maildir exactly once (issue 8, items 10 and 12).

Two intakes of one file at once, many writers racing on one Maildir, a
delivery retried after a crash whatever the length of the headers, and
Maildirs left half-made by a crash: each message is there once, files 0600.
"""

import email
import itertools
import json
import multiprocessing
import sqlite3
import stat
import subprocess
import sys
from contextlib import closing
from dataclasses import replace
from decimal import Decimal
from email import policy

import pytest

from pipeline.deliver import DEPOSITORS, Outgoing, file_name, put
from pipeline.forward import Parcel
from pipeline.intake import IntakeContext, take_in
from pipeline.journal import Journal
from pipeline.notices import region_message
from pipeline.report import IntakeReport
from pipeline.resources import Workspace
from tests import builders as b
from tests import warm

REGION = "Guadeloupe-Martinique@resah.fr"
ENTITY = b.Entity(postal_code="97200", city="FORT-DE-FRANCE")


@pytest.fixture(scope="module")
def deposit(renderer, resources) -> bytes:
    docs = b.rendered(renderer, resources, ENTITY, "2021-045-lot2")
    return b.zip_of([("Convention.pdf", b.convention_pdf(docs["convention"])), ("Annexe.xlsx", docs["annex"]),
                     ("EJ.pdf", b.order_pdf(ENTITY, Decimal("1000")))])  # fmt: skip


@pytest.fixture(scope="module")
def report(deposit, resources, tmp_path_factory) -> IntakeReport:
    root = tmp_path_factory.mktemp("report")
    (root / "d.zip").write_bytes(deposit)
    return take_in(
        root / "d.zip", IntakeContext.build(resources, Workspace(root / "in", root / "out", root / "var"))
    )


def files(box, sub="new") -> list:
    return sorted((box / sub).iterdir()) if (box / sub).is_dir() else []


def message_ids(box) -> list[str]:
    found = []
    for path in files(box) + files(box, "cur"):
        with path.open("rb") as fh:
            found.append(email.message_from_binary_file(fh, policy=policy.default)["Message-ID"])
    return found


def drop_pair(folder, data: bytes) -> None:
    (folder / "d.zip").write_bytes(data)
    (folder / "d.json").write_text(json.dumps(b.form(ENTITY)), encoding="utf-8")


# -- item 10: two intakes, many writers ---------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(4))
def test_two_csac_intake_of_one_file_at_once_deliver_each_message_once(tmp_path, deposit, round_):
    drop_pair(tmp_path, deposit)
    args = [sys.executable, "-m", "pipeline", "intake", str(tmp_path / "d.zip"), "--outbox", str(tmp_path / "out"),
            "--state", str(tmp_path / "var")]  # fmt: skip
    procs = [warm.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert len(message_ids(tmp_path / "out" / REGION)) == 1
    told = message_ids(tmp_path / "out" / DEPOSITORS)
    # one notice; the intake that came second, if it found the first finished, says "déjà reçu" once
    assert len([m for m in told if ".notice@" in m]) == 1 and len(told) == len(set(told)) <= 2


def _racer(outbox: str, journal: str | None, raw: list[bytes], folder: str, barrier) -> None:
    """One writer: for each message, wait for the others, then put it."""
    from pathlib import Path

    ledger = Journal(Path(journal)) if journal else None
    for data in raw:
        barrier.wait(timeout=60)
        outgoing = Outgoing(folder, email.message_from_bytes(data, policy=policy.default))
        put(Path(outbox), outgoing, ledger) if ledger else put(Path(outbox), outgoing)


@pytest.mark.parametrize("with_journal", [True, False], ids=["journal", "file-names-only"])
def test_writers_racing_on_one_maildir_put_each_message_once(tmp_path, report, with_journal):
    raw = [
        region_message(
            replace(report, deposit_id=f"course-{i}"), Parcel("depot.zip", b"zip")
        ).message.as_bytes()
        for i in range(12)
    ]
    forked = multiprocessing.get_context("fork")  # real processes, without importing the test suite again
    barrier = forked.Barrier(6)
    journal = str(tmp_path / "var" / "journal.sqlite") if with_journal else None
    racers = [
        forked.Process(target=_racer, args=(str(tmp_path / "out"), journal, raw, REGION, barrier))
        for _ in range(6)
    ]
    for p in racers:
        p.start()
    for p in racers:
        p.join(timeout=120)
        assert p.exitcode == 0
    ids = message_ids(tmp_path / "out" / REGION)
    assert sorted(ids) == sorted(f"<course-{i}.region@csac.resah.fr>" for i in range(12))


# -- item 10: a retry after a crash, whatever the headers ---------------------------------------

LONG = {
    "signatory-ascii": "Etablissement public " * 220,  # 4,620 characters
    "signatory-accents": "Établissement médico-social é" * 104,  # encoded words, > 4 KB
    "file-name": "d" * 4496 + ".zip",
}


def long_headers(report, headers: str) -> Outgoing:
    """A message whose Message-ID sits past 4 KB of headers (csac now caps its own, so pad by hand)."""
    outgoing = region_message(report, Parcel("depot.zip", b"zip"))
    msg = outgoing.message
    mid = msg["Message-ID"]
    del msg["Message-ID"]
    msg["X-Long"] = LONG[headers]
    msg["Message-ID"] = mid
    return outgoing


def _crash(box, name: str, how: str, journal: Journal) -> None:
    """Leave what a crash at that point leaves."""
    key = str(box.resolve())
    mid = journal_mid(journal, key)
    if how == "after-the-link":  # in new/, not yet recorded as delivered
        journal.mark_delivery(key, mid, "putting", name)
    elif how == "journal-lost":  # the state folder restored from an older backup
        with closing(sqlite3.connect(journal.path, isolation_level=None)) as conn:
            conn.execute("DELETE FROM delivered")
    elif how == "read-then-crash":  # a mail reader moved it to cur/ with its flags
        (box / "new" / name).rename(box / "cur" / f"{name}:2,S")
        journal.mark_delivery(key, mid, "putting", name)
    elif how == "before-the-link":  # written in tmp/, never linked
        (box / "new" / name).rename(box / "tmp" / name)
        journal.mark_delivery(key, mid, "putting", name)


def journal_mid(journal: Journal, key: str) -> str:
    with closing(sqlite3.connect(journal.path)) as conn:
        return conn.execute("SELECT message_id FROM delivered WHERE folder = ?", (key,)).fetchone()[0]


@pytest.mark.parametrize("how", ["after-the-link", "journal-lost", "read-then-crash", "before-the-link"])
@pytest.mark.parametrize("headers", sorted(LONG))
def test_a_delivery_retried_after_a_crash_arrives_once_whatever_the_header_length(
    tmp_path, report, headers, how
):
    outgoing = long_headers(report, headers)
    journal, box = Journal(tmp_path / "var" / "journal.sqlite"), tmp_path / "out" / REGION
    put(tmp_path / "out", outgoing, journal)
    assert files(box)[0].read_bytes().index(b"Message-ID:") > 4096  # beyond what the old check read
    _crash(box, file_name(outgoing.message["Message-ID"]), how, journal)
    put(tmp_path / "out", outgoing, journal)
    assert message_ids(box) == [outgoing.message["Message-ID"]] and files(box, "tmp") == []
    assert journal.delivery(str(box.resolve()), outgoing.message["Message-ID"]) == "delivered"


@pytest.mark.parametrize("headers", sorted(LONG))
def test_without_a_journal_a_message_with_long_headers_is_put_once(tmp_path, report, headers):
    outgoing = long_headers(report, headers)
    put(tmp_path / "out", outgoing)
    assert files(tmp_path / "out" / REGION)[0].read_bytes().index(b"Message-ID:") > 4096
    put(tmp_path / "out", outgoing)
    assert len(message_ids(tmp_path / "out" / REGION)) == 1


def test_a_message_read_and_deleted_is_not_delivered_again(tmp_path, report):
    outgoing = region_message(report, Parcel("depot.zip", b"zip"))
    journal, box = Journal(tmp_path / "var" / "journal.sqlite"), tmp_path / "out" / REGION
    put(tmp_path / "out", outgoing, journal)
    files(box)[0].unlink()  # the regional team read it and deleted it
    put(tmp_path / "out", outgoing, journal)
    assert message_ids(box) == []


def test_put_messages_are_readable_by_their_owner_only(tmp_path, report):
    put(
        tmp_path / "out",
        region_message(report, Parcel("depot.zip", b"zip")),
        Journal(tmp_path / "var" / "journal.sqlite"),
    )
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert written and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in written)


# -- item 12: a half-made Maildir ---------------------------------------------------------------

PARTS = ("tmp", "new", "cur")
PARTIAL = [c for n in range(3) for c in itertools.combinations(PARTS, n)]  # every proper subset, () included


@pytest.mark.parametrize("folder", [REGION, DEPOSITORS])
@pytest.mark.parametrize("present", PARTIAL, ids=lambda c: "+".join(c) or "empty-folder")
def test_a_half_made_maildir_is_completed_and_receives_its_message(
    tmp_path, deposit, resources, folder, present
):
    box = tmp_path / "out" / folder
    box.mkdir(parents=True)
    for part in present:
        (box / part).mkdir()
    drop_pair(tmp_path, deposit)
    ctx = IntakeContext.build(resources, Workspace(tmp_path / "in", tmp_path / "out", tmp_path / "var"))
    take_in(tmp_path / "d.zip", ctx)
    assert all((box / part).is_dir() for part in PARTS)
    assert (
        len(message_ids(tmp_path / "out" / REGION)) == 1
        and len(message_ids(tmp_path / "out" / DEPOSITORS)) == 1
    )


@pytest.mark.slow  # a real csac process
def test_csac_intake_completes_an_empty_depositors_folder_and_exits_0(tmp_path, deposit):
    (tmp_path / "out" / DEPOSITORS).mkdir(parents=True)
    drop_pair(tmp_path, deposit)
    done = warm.run([sys.executable, "-m", "pipeline", "intake", str(tmp_path / "d.zip"), "--outbox", str(tmp_path / "out"),
                           "--state", str(tmp_path / "var")], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(message_ids(tmp_path / "out" / DEPOSITORS)) == 1
