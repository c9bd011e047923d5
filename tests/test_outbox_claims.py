"""Concurrent senders of the outgoing queue (issue 8, item 9): each message reaches the relay once.

Real `csac outbox flush` processes, threads with their own connections, and a
`csac watch` rescan flush the same journal against a real aiosmtpd relay that
takes a little time per message, so that the senders overlap.
"""

import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing

import pytest

from pipeline.config import Config, Relay, Retry
from pipeline.mailqueue import MailQueue
from pipeline.resources import Workspace
from tests import warm
from tests.relays import csac, queue_messages, relay_starter, run, write_config
from tests.test_watch import wait_for

COUNT = 20


@pytest.fixture
def start_relay():
    yield from relay_starter()


def states(state) -> list[str]:
    return sorted({r["state"] for r in MailQueue(state).all()})


def set_row(folder, message_id: str, **values) -> None:
    cols = ", ".join(f"{k} = ?" for k in values)
    with closing(sqlite3.connect(folder / "journal.sqlite", isolation_level=None)) as conn:
        conn.execute(f"UPDATE messages SET {cols} WHERE message_id = ?", (*values.values(), message_id))


@pytest.mark.slow
@pytest.mark.parametrize("flushers", [2, 4])
def test_concurrent_csac_outbox_flush_processes_send_each_message_once(start_relay, tmp_path, flushers):
    relay = start_relay(delay=0.05)
    ids = queue_messages(tmp_path / "var", COUNT)
    config = write_config(tmp_path, relay, state=tmp_path / "var")
    procs = [warm.Popen(csac(config, "outbox", "flush", "--force"), stderr=subprocess.PIPE, text=True)
             for _ in range(flushers)]  # fmt: skip
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    assert relay.handler.ids() == {mid: 1 for mid in ids}
    assert states(tmp_path / "var") == ["sent"]


@pytest.mark.parametrize("flushers", [2, 4])
def test_concurrent_flushes_in_threads_send_each_message_once(start_relay, tmp_path, flushers):
    relay = start_relay(delay=0.02)
    ids = queue_messages(tmp_path / "var", COUNT)
    config = Config(Workspace(state=tmp_path / "var"), Relay("127.0.0.1", "csac@resah.fr", relay.port, "none", timeout=5),
                    retry=Retry(0.01, 0.02))  # fmt: skip
    start = threading.Barrier(flushers)
    results = []

    def flush():
        queue = MailQueue(tmp_path / "var")  # its own connections
        start.wait()
        results.append(queue.flush(config, force=True))

    threads = [threading.Thread(target=flush) for _ in range(flushers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert relay.handler.ids() == {mid: 1 for mid in ids}
    assert sorted(mid for r in results for mid in r.sent) == sorted(ids)  # each counted by one sender only


@pytest.mark.slow
def test_a_flush_beside_the_watchers_rescan_sends_each_message_once(start_relay, tmp_path):
    relay = start_relay(delay=0.05)
    ids = queue_messages(tmp_path / "var", COUNT)
    config = write_config(
        tmp_path, relay, inbox=tmp_path / "inbox", outbox=tmp_path / "outbox", state=tmp_path / "var"
    )
    watch = warm.Popen(
        csac(config, "watch", "--settle", "0.2", "--rescan", "0.3"), stderr=subprocess.PIPE, text=True
    )
    try:
        flushes = [warm.Popen(csac(config, "outbox", "flush", "--force"), stderr=subprocess.PIPE, text=True)
                   for _ in range(2)]  # fmt: skip
        for proc in flushes:
            assert proc.wait(timeout=120) == 0, proc.stderr.read()
        wait_for(lambda: states(tmp_path / "var") == ["sent"], "every message sent")
        time.sleep(1.0)  # a few more rescans: nothing goes twice
    finally:
        watch.send_signal(signal.SIGINT)
        watch.communicate(timeout=30)
    assert relay.handler.ids() == {mid: 1 for mid in ids}


@pytest.mark.slow  # a real csac process
def test_a_row_left_sending_whose_lease_ran_out_is_resent_once_with_its_message_id(start_relay, tmp_path):
    relay = start_relay()
    [mid, *others] = queue_messages(tmp_path / "var", 3)
    set_row(
        tmp_path / "var",
        mid,
        state="sending",
        owner="autre-serveur:4242:dead",
        lease_until=time.time() - 1,
        attempts=1,
    )
    done = run(write_config(tmp_path, relay, state=tmp_path / "var"), "outbox", "flush")
    assert done.returncode == 0, done.stderr
    assert relay.handler.ids() == {m: 1 for m in [mid, *others]}
    [row] = [r for r in MailQueue(tmp_path / "var").all() if r["message_id"] == mid]
    assert row["state"] == "sent" and row["attempts"] == 2 and row["owner"] is None


@pytest.mark.slow  # a real csac process
def test_a_row_another_live_sender_holds_is_left_to_it_even_when_forced(start_relay, tmp_path):
    relay = start_relay()
    [mid, other] = queue_messages(tmp_path / "var", 2)
    set_row(
        tmp_path / "var", mid, state="sending", owner="autre-serveur:4242:busy", lease_until=time.time() + 600
    )
    done = run(write_config(tmp_path, relay, state=tmp_path / "var"), "outbox", "flush", "--force")
    assert done.returncode == 0, done.stderr
    assert relay.handler.ids() == {other: 1}
    [row] = [r for r in MailQueue(tmp_path / "var").all() if r["message_id"] == mid]
    assert row["state"] == "sending" and row["owner"] == "autre-serveur:4242:busy"


@pytest.mark.slow  # a real csac process
def test_a_row_held_by_a_process_of_this_machine_that_died_is_resent_at_once(start_relay, tmp_path):
    relay = start_relay()
    [mid] = queue_messages(tmp_path / "var", 1)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    owner = f"{socket.gethostname()}:{dead.stdout.strip()}:gone"
    set_row(tmp_path / "var", mid, state="sending", owner=owner, lease_until=time.time() + 600)
    done = run(write_config(tmp_path, relay, state=tmp_path / "var"), "outbox", "flush")
    assert done.returncode == 0, done.stderr
    assert relay.handler.ids() == {mid: 1} and states(tmp_path / "var") == ["sent"]


OLD_SCHEMA = """
CREATE TABLE messages (
    message_id TEXT PRIMARY KEY, deposit_id TEXT, kind TEXT NOT NULL, recipients TEXT NOT NULL, path TEXT NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, answer TEXT,
    queued_at TEXT NOT NULL, sent_at TEXT
);
CREATE INDEX messages_due ON messages (state, next_at);
"""


@pytest.mark.slow  # a real csac process
def test_a_journal_written_before_claims_is_migrated_and_its_rows_sent_once(start_relay, tmp_path):
    """Today's journal: no owner or lease columns; one row queued, one left `sending` by a crash."""
    relay = start_relay()
    state = tmp_path / "var"
    (state / "queue").mkdir(parents=True)
    with closing(sqlite3.connect(state / "journal.sqlite", isolation_level=None)) as conn:
        conn.executescript(OLD_SCHEMA)
        for name, row_state in (("ancien-1", "queued"), ("ancien-2", "sending")):
            eml = state / "queue" / f"{name}.eml"
            eml.write_bytes(f"From: csac@resah.fr\r\nTo: Corse@resah.fr\r\nMessage-ID: <{name}@csac.resah.fr>\r\n"
                            "Subject: ancien\r\n\r\nBonjour\r\n".encode())  # fmt: skip
            conn.execute("INSERT INTO messages (message_id, deposit_id, kind, recipients, path, state, attempts, next_at, queued_at)"
                         " VALUES (?, ?, 'region', 'Corse@resah.fr', ?, ?, 1, 0, '2024-03-01T10:00:00+01:00')",
                         (f"<{name}@csac.resah.fr>", name, str(eml), row_state))  # fmt: skip
    config = write_config(tmp_path, relay, state=state)
    for _ in range(2):  # the second run finds the columns there already
        done = run(config, "outbox", "flush")
        assert done.returncode == 0, done.stderr
    with closing(sqlite3.connect(state / "journal.sqlite")) as conn:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(messages)")}
    assert {"owner", "lease_until", "deposit_id", "answer"} <= columns
    assert relay.handler.ids() == {"<ancien-1@csac.resah.fr>": 1, "<ancien-2@csac.resah.fr>": 1}
    assert states(state) == ["sent"]
