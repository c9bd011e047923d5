"""Faults in the outbox: the deposit stays claimed, is retried, and is delivered once."""

import contextlib
import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from pipeline.journal import Journal
from tests import builders as b
from tests import warm
from tests.test_watch import rows, wait_for

pytestmark = pytest.mark.slow  # a real `csac watch` against a read-only or full outbox


@contextlib.contextmanager
def read_only(folder):
    """A folder nobody can write into, root included (chattr +i), or chmod for others."""
    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
        if done.returncode:
            pytest.skip(
                f"chattr +i refused here ({done.stderr.decode().strip()}): cannot make a read-only folder for root"
            )
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)


@contextlib.contextmanager
def tiny_disk(folder, size="600k"):
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.decode().strip()})")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


@pytest.fixture
def deposit(renderer, resources):
    entity = b.Entity()
    docs = b.rendered(renderer, resources, entity, "2021-045-lot2")
    return b.zip_of(
        [
            ("c.pdf", b.convention_pdf(docs["convention"])),
            ("a.xlsx", docs["annex"]),
            ("o.pdf", b.order_pdf(entity, Decimal("1000"))),
        ]
    )


def start(tmp_path):
    args = [sys.executable, "-m", "pipeline", "watch", "--inbox", str(tmp_path / "inbox"), "--outbox", str(tmp_path / "outbox"),
            "--state", str(tmp_path / "var"), "--settle", "0.2", "--rescan", "0.5"]  # fmt: skip
    proc = warm.Popen(args, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: (tmp_path / "inbox" / "processing").is_dir(), "watcher start")
    return proc


def events(tmp_path) -> list[str]:
    journal = Journal(tmp_path / "var" / "journal.sqlite")
    return [e["state"] for r in journal.latest(10) for e in journal.events(r["id"])]


def claimed(tmp_path) -> list[str]:
    return [p.name for p in (tmp_path / "inbox" / "processing").rglob("*.zip")]


def delivered(tmp_path) -> int:
    box = tmp_path / "outbox" / "Hauts-de-France@resah.fr" / "new"
    return len(list(box.iterdir())) if box.exists() else 0


def test_a_read_only_outbox_keeps_the_deposit_claimed_until_it_can_be_delivered(tmp_path, deposit):
    (tmp_path / "outbox").mkdir()
    proc = start(tmp_path)
    try:
        with read_only(tmp_path / "outbox"):
            (tmp_path / "inbox" / "d.zip").write_bytes(deposit)
            wait_for(lambda: events(tmp_path).count("delivery_failed") >= 2, "two failed attempts")
            assert claimed(tmp_path) == ["d.zip"] and rows(tmp_path) == []
            assert not (tmp_path / "inbox" / "done" / "d.zip").exists()
        # the journal records the outcome first, then the file leaves processing/ for done/
        done = lambda: len(rows(tmp_path)) == 1 and claimed(tmp_path) == []  # noqa: E731
        wait_for(done, "delivery once the outbox is writable")
        assert delivered(tmp_path) == 1 and (tmp_path / "inbox" / "done" / "d.zip").exists()
    finally:
        proc.send_signal(2)
        err = proc.communicate(timeout=30)[1]
    assert "remise impossible" in err and "il reste réservé" in err
    assert (
        len([line for line in err.splitlines() if "remise impossible" in line]) >= 2
    )  # said at each of the first attempts, so that one sees it recurs


def test_a_deposit_waiting_for_the_outbox_is_said_twice_then_once_a_minute(tmp_path, deposit):
    (tmp_path / "outbox").mkdir()
    proc = start(tmp_path)
    try:
        with read_only(tmp_path / "outbox"):
            (tmp_path / "inbox" / "d.zip").write_bytes(deposit)
            wait_for(lambda: events(tmp_path).count("delivery_failed") >= 8, "eight failed attempts")
    finally:
        proc.send_signal(2)
        err = proc.communicate(timeout=30)[1]
    said = [line for line in err.splitlines() if " ERREUR " in line and "remise impossible" in line]
    assert len(said) == 2, err[-3000:]  # each attempt's step line is info, not a warning said again


def test_a_full_disk_delays_delivery_without_losing_or_doubling_it(tmp_path, deposit):
    (tmp_path / "outbox").mkdir()
    with tiny_disk(tmp_path / "outbox"):
        filler = tmp_path / "outbox" / "remplissage"
        with filler.open("wb", buffering=0) as fh, contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 4096)
        proc = start(tmp_path)
        try:
            (tmp_path / "inbox" / "d.zip").write_bytes(deposit)
            wait_for(lambda: "delivery_failed" in events(tmp_path), "a failed attempt")
            assert claimed(tmp_path) == ["d.zip"]
            filler.unlink()
            wait_for(lambda: len(rows(tmp_path)) == 1, "delivery once space is back")
            assert delivered(tmp_path) == 1
        finally:
            proc.send_signal(2)
            proc.communicate(timeout=30)


def test_csac_intake_says_it_could_not_deliver_and_exits_non_zero(tmp_path, deposit):
    (tmp_path / "outbox").mkdir()
    (tmp_path / "d.zip").write_bytes(deposit)
    with read_only(tmp_path / "outbox"):
        done = warm.run([sys.executable, "-m", "pipeline", "intake", str(tmp_path / "d.zip"), "--json",
                               "--outbox", str(tmp_path / "outbox"), "--state", str(tmp_path / "var")], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 5 and "remise impossible" in done.stderr
    [row] = Journal(tmp_path / "var" / "journal.sqlite").latest()
    assert row["state"] == "delivery_failed"
    assert json.loads(warm.run([sys.executable, "-m", "pipeline", "status", "--json", "--state", str(tmp_path / "var")],
                                     capture_output=True, text=True).stdout)[0]["state"] == "delivery_failed"  # fmt: skip
