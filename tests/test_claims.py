"""Two files of one name never meet: claims, give-backs, recoveries and done/ never replace a file.

A second "depot.zip" dropped while the first is claimed, given back into an
inbox that holds a new file of that name, recovered from a dead watcher beside
one, or finishing into done/ after another: every byte of both deposits
survives, each form stays with its deposit, and each gets exactly one outcome.
The watcher runs as a real process; the outbox fails the way test_faults.py
makes it fail.
"""

from __future__ import annotations

import email
import hashlib
import json
import signal
import subprocess
import sys
from email import policy
from pathlib import Path

import pytest

from pipeline.journal import Journal
from tests import builders as b
from tests import warm
from tests.test_faults import read_only
from tests.test_watch import wait_for

pytestmark = pytest.mark.slow  # real `csac watch` processes, stopped and killed


class Watch:
    def __init__(self, root: Path, settle: str = "0.2"):
        args = [sys.executable, "-m", "pipeline", "watch", "--inbox", str(root / "inbox"), "--outbox", str(root / "outbox"),
                "--state", str(root / "var"), "--settle", settle, "--rescan", "0.5"]  # fmt: skip
        self.proc = warm.Popen(args, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: (root / "inbox" / "processing").is_dir(), "watcher start")

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        err = self.proc.communicate(timeout=60)[1]
        assert self.proc.returncode == 0, err
        return err

    def kill(self) -> None:
        self.proc.kill()
        self.proc.communicate(timeout=60)


@pytest.fixture
def watches():
    started: list[Watch] = []
    yield started
    for w in started:
        if w.proc.poll() is None:
            w.kill()


def deposit(n: int) -> tuple[bytes, dict]:
    """A small deposit of its own bytes, with a form of its own address."""
    data = b.zip_of([("Courrier.pdf", b.text_pdf([f"Courrier d'accompagnement du dépôt n° {n}"]))])
    return data, b.form(b.Entity(), email=f"deposant{n}@mairie.example")


def drop(inbox: Path, name: str, n: int) -> bytes:
    data, form = deposit(n)
    (inbox / name).with_suffix(".json").write_text(json.dumps(form), encoding="utf-8")
    (inbox / name).write_bytes(data)
    return data


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def outcomes(root: Path) -> list[dict]:
    path = root / "var" / "journal.sqlite"
    if not path.exists():
        return []
    return [r for r in Journal(path).latest(100) if r["state"] == "done"]


def failures(root: Path) -> int:
    journal = Journal(root / "var" / "journal.sqlite")
    return sum(e["state"] == "delivery_failed" for r in journal.latest(100) for e in journal.events(r["id"]))


def claims(root: Path) -> list[Path]:
    return [p for p in (root / "inbox" / "processing").rglob("*.zip")]


def messages(root: Path) -> list[email.message.EmailMessage]:
    found = []
    for path in (root / "outbox").glob("*/new/*"):
        with path.open("rb") as fh:
            found.append(email.message_from_binary_file(fh, policy=policy.default))
    return found


def attachments(root: Path) -> list[str]:
    """The sha256 of every deposit routed to a regional (or triage) mailbox."""
    return sorted(digest(a.get_content()) for m in messages(root) for a in m.iter_attachments())


def notified(root: Path) -> list[str]:
    return sorted(m["To"] for m in messages(root) if m["To"].startswith("deposant"))


def in_done(root: Path) -> list[str]:
    return sorted(digest(p.read_bytes()) for p in (root / "inbox" / "done").iterdir() if p.suffix != ".json")


def test_a_second_file_of_the_same_name_dropped_while_the_first_is_claimed_does_not_replace_it(
    tmp_path, watches
):
    inbox = tmp_path / "inbox"
    (tmp_path / "outbox").mkdir()
    watches.append(Watch(tmp_path))
    with read_only(tmp_path / "outbox"):
        first = drop(inbox, "depot.zip", 1)
        wait_for(
            lambda: failures(tmp_path) >= 1 and len(claims(tmp_path)) == 1, "the first, claimed and failing"
        )
        second = drop(inbox, "depot.zip", 2)
        wait_for(lambda: len(claims(tmp_path)) == 2, "the second, claimed beside the first")
    wait_for(lambda: len(outcomes(tmp_path)) == 2, "both delivered once the outbox is writable")
    assert attachments(tmp_path) == sorted([digest(first), digest(second)])
    wait_for(lambda: len(in_done(tmp_path)) == 2, "both moved to done/")  # journalled done, then moved
    assert in_done(tmp_path) == sorted([digest(first), digest(second)])
    assert notified(tmp_path) == [
        "deposant1@mairie.example",
        "deposant2@mairie.example",
    ]  # each with its form
    watches[0].stop()


def test_a_claim_given_back_on_stop_keeps_both_files_of_the_same_name(tmp_path, watches):
    inbox = tmp_path / "inbox"
    (tmp_path / "outbox").mkdir()
    watches.append(Watch(tmp_path, settle="3"))  # a file dropped just before the stop is not taken
    with read_only(tmp_path / "outbox"):
        first = drop(inbox, "depot.zip", 1)
        wait_for(lambda: failures(tmp_path) >= 1, "the first, claimed and failing")
        second = drop(inbox, "depot.zip", 2)
        watches[0].stop()
    assert (inbox / "depot.zip").read_bytes() == second
    assert (inbox / "depot (2).zip").read_bytes() == first
    assert json.loads((inbox / "depot (2).json").read_text())["email"] == "deposant1@mairie.example"
    assert json.loads((inbox / "depot.json").read_text())["email"] == "deposant2@mairie.example"


def test_a_claim_given_back_into_the_inbox_is_taken_in_with_its_own_form(tmp_path, watches):
    inbox = tmp_path / "inbox"
    (tmp_path / "outbox").mkdir()
    watches.append(Watch(tmp_path, settle="3"))
    with read_only(tmp_path / "outbox"):
        first = drop(inbox, "depot.zip", 1)
        wait_for(lambda: failures(tmp_path) >= 1, "the first, claimed and failing")
        second = drop(inbox, "depot.zip", 2)
        watches[0].stop()
    watches.append(Watch(tmp_path))
    wait_for(lambda: len(outcomes(tmp_path)) == 2, "both deposits, after the restart")
    assert attachments(tmp_path) == sorted([digest(first), digest(second)])
    assert notified(tmp_path) == ["deposant1@mairie.example", "deposant2@mairie.example"]
    watches[1].stop()


def test_claims_of_a_killed_watcher_are_recovered_beside_a_same_named_file(tmp_path, watches):
    inbox = tmp_path / "inbox"
    (tmp_path / "outbox").mkdir()
    watches.append(Watch(tmp_path))
    with read_only(tmp_path / "outbox"):
        first = drop(inbox, "depot.zip", 1)
        wait_for(lambda: failures(tmp_path) >= 1, "the first, claimed and failing")
        watches[0].kill()
    second = drop(inbox, "depot.zip", 2)
    watches.append(Watch(tmp_path))
    wait_for(lambda: len(outcomes(tmp_path)) == 2, "the recovered deposit and the new one")
    assert attachments(tmp_path) == sorted([digest(first), digest(second)])
    wait_for(lambda: len(in_done(tmp_path)) == 2, "both moved to done/")  # journalled done, then moved
    assert in_done(tmp_path) == sorted([digest(first), digest(second)])
    assert notified(tmp_path) == ["deposant1@mairie.example", "deposant2@mairie.example"]
    watches[1].stop()
    assert claims(tmp_path) == []


NAMES = {
    "short": "depot.zip",
    "255 bytes": "d" * 251 + ".zip",
    "255 bytes, accented": "é" * 125 + "x.zip",
    "255 bytes, no suffix": "d" * 255,
}


@pytest.mark.parametrize("name", list(NAMES.values()), ids=list(NAMES))
def test_two_deposits_of_one_name_both_reach_done_intact(tmp_path, watches, name):
    inbox = tmp_path / "inbox"
    watches.append(Watch(tmp_path))
    first, _ = deposit(1)
    (inbox / name).write_bytes(first)
    wait_for(lambda: len(outcomes(tmp_path)) == 1, "the first deposit")
    second, _ = deposit(2)
    (inbox / name).write_bytes(second)
    wait_for(lambda: len(outcomes(tmp_path)) == 2, "the second deposit of that name")
    wait_for(lambda: len(in_done(tmp_path)) == 2, "both moved to done/")  # journalled done, then moved
    assert in_done(tmp_path) == sorted([digest(first), digest(second)])
    assert all(len(p.name.encode()) <= 255 for p in (inbox / "done").iterdir())
    watches[0].stop()
    assert claims(tmp_path) == [] and not any(p.is_file() for p in inbox.iterdir())
