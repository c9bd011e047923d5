"""`csac watch` as a real process: stability gate, sidecars, claims, clean stops."""

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

import pytest

from pipeline.journal import Journal
from tests import builders as b
from tests import warm

pytestmark = pytest.mark.slow  # a real `csac watch` in each test


class WatchProcess:
    def __init__(self, root, *extra):
        self.root = root
        args = [
            sys.executable,
            "-m",
            "pipeline",
            "watch",
            "--inbox",
            str(root / "inbox"),
            "--outbox",
            str(root / "outbox"),
            "--state",
            str(root / "var"),
            "--settle",
            "0.3",
            *extra,
        ]
        self.proc = warm.Popen(args, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: (root / "inbox" / "processing").is_dir(), "watcher start")

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=30)
        return err


def wait_for(condition, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def rows(root) -> list[dict]:
    path = root / "var" / "journal.sqlite"
    return [r for r in Journal(path).latest(1000) if r["state"] == "done"] if path.exists() else []


@pytest.fixture
def watcher(tmp_path):
    started = []

    def _start(*extra):
        process = WatchProcess(tmp_path, *extra)
        started.append(process)
        return process

    yield _start
    for process in started:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


@pytest.fixture
def full_deposit(renderer, resources):
    entity = b.Entity()
    docs = b.rendered(renderer, resources, entity, "2021-045-lot2")
    data = b.zip_of(
        [
            ("c.pdf", b.convention_pdf(docs["convention"])),
            ("a.xlsx", docs["annex"]),
            ("o.pdf", b.order_pdf(entity, Decimal("1000"))),
        ]
    )
    return data, b.form(entity)


def test_a_deposit_and_its_form_are_taken_once_and_moved_to_done(tmp_path, watcher, full_deposit):
    watch = watcher()
    data, form = full_deposit
    inbox = tmp_path / "inbox"
    (inbox / "depot.json").write_text(json.dumps(form), encoding="utf-8")
    (inbox / "depot.zip").write_bytes(data)
    wait_for(lambda: len(rows(tmp_path)) == 1, "the deposit")
    [row] = rows(tmp_path)
    assert (row["status"], row["mailbox"]) == ("complete", "Hauts-de-France@resah.fr")
    wait_for(lambda: (inbox / "done" / "depot.zip").exists(), "the move to done/")
    assert (inbox / "done" / "depot.json").exists() and not (inbox / "depot.zip").exists()
    assert list((tmp_path / "outbox" / "depositors" / "new").iterdir())  # the form's e-mail got its notice
    watch.stop()
    assert not list((inbox / "processing").iterdir())


def test_a_file_written_slowly_is_not_taken_before_its_last_byte(tmp_path, watcher, full_deposit):
    watcher()
    data, _ = full_deposit
    target = tmp_path / "inbox" / "lent.zip"
    with target.open("wb") as fh:
        for i in range(0, len(data), len(data) // 10 + 1):
            fh.write(data[i : i + len(data) // 10 + 1])
            fh.flush()
            time.sleep(0.2 if i else 0.8)  # one pause longer than the settle delay: no ZIP directory yet
    wait_for(lambda: len(rows(tmp_path)) == 1, "the slow deposit")
    assert rows(tmp_path)[0]["status"] != "rejected"


def test_a_file_renamed_in_from_a_temporary_name_is_taken_once(tmp_path, watcher, full_deposit):
    watcher()
    data, _ = full_deposit
    part = tmp_path / "inbox" / "depot.zip.part"
    part.write_bytes(data)
    time.sleep(1.0)
    assert rows(tmp_path) == []  # temporary names are left alone
    os.rename(part, tmp_path / "inbox" / "depot.zip")
    wait_for(lambda: len(rows(tmp_path)) == 1, "the renamed deposit")
    time.sleep(0.8)
    assert len(rows(tmp_path)) == 1


def test_a_form_written_just_after_its_zip_is_picked_up(tmp_path, watcher, full_deposit):
    watcher()
    data, form = full_deposit
    (tmp_path / "inbox" / "d.zip").write_bytes(data)
    time.sleep(0.2)
    (tmp_path / "inbox" / "d.json").write_text(json.dumps(form), encoding="utf-8")
    wait_for(lambda: len(rows(tmp_path)) == 1, "the deposit")
    wait_for(lambda: (tmp_path / "inbox" / "done" / "d.json").exists(), "the form moved to done/")


def test_a_file_that_never_becomes_a_zip_is_rejected_not_left_behind(tmp_path, watcher):
    watcher()
    (tmp_path / "inbox" / "scan.pdf").write_bytes(b"%PDF-1.4 a scan dropped by mistake")
    wait_for(lambda: len(rows(tmp_path)) == 1, "the stray file")
    assert rows(tmp_path)[0]["problems"] == ["archive_corrupt"]


def test_the_polling_observer_for_network_shares(tmp_path, watcher, full_deposit):
    watcher("--poll", "0.5")
    (tmp_path / "inbox" / "p.zip").write_bytes(full_deposit[0])
    wait_for(lambda: len(rows(tmp_path)) == 1, "the deposit, by polling")


def test_claims_left_by_a_dead_watcher_are_taken_back(tmp_path, watcher, full_deposit):
    orphan = tmp_path / "inbox" / "processing" / "ancien-hote-4242"
    orphan.mkdir(parents=True)
    (orphan / "orphelin.zip").write_bytes(full_deposit[0])
    watcher()
    wait_for(lambda: len(rows(tmp_path)) == 1, "the orphaned deposit")
    assert not orphan.exists()


def test_two_watchers_on_one_inbox_take_each_deposit_once(tmp_path, watcher):
    first, second = watcher(), watcher()
    for i in range(12):
        (tmp_path / "inbox" / f"d{i:02d}.zip").write_bytes(b.zip_of([("note.txt", f"dépôt {i}".encode())]))
    wait_for(lambda: len(rows(tmp_path)) == 12, "twelve deposits")
    time.sleep(1.0)
    assert sorted(r["file"] for r in rows(tmp_path)) == [f"d{i:02d}.zip" for i in range(12)]
    assert len(list((tmp_path / "inbox" / "done").iterdir())) == 12
    first.stop(), second.stop()


def test_ctrl_c_stops_cleanly_and_logs_one_json_line_per_state_change(tmp_path, watcher, full_deposit):
    watch = watcher("--log-json")
    data, form = full_deposit
    (tmp_path / "inbox" / "x.json").write_text(json.dumps(form), encoding="utf-8")
    (tmp_path / "inbox" / "x.zip").write_bytes(data)
    wait_for(lambda: len(rows(tmp_path)) == 1, "the deposit")
    err = watch.stop()
    assert watch.proc.returncode == 0
    lines = [json.loads(line) for line in err.strip().splitlines()]
    [deposit_id] = {line["deposit"] for line in lines if "deposit" in line}
    states = [line["state"] for line in lines if line.get("deposit") == deposit_id]
    assert states == ["received", "assessed", "delivered", "delivered", "done"]
    text = err.casefold()
    assert (
        "commune de test" not in text and form["email"] not in text
    )  # ids, never document text or addresses
