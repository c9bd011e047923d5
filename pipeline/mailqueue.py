"""The outgoing mail queue: durable, retried with backoff, sent once per relay acceptance.

A message is queued (its .eml written, then its row committed) before any
attempt. A sender claims a row before the relay is asked: one UPDATE from
`queued` to `sending` with its own name and a lease, so that two flushes
(two `csac outbox flush`, or one beside the watcher) never send it both.
The row is `sent` with the relay's answer once it accepted. A sender that
dies in between leaves it in `sending`: once its lease has run out, or at
once when its process is gone from this machine, the row is claimed again
and sent with the same Message-ID, so that mailboxes can drop the copy.
4xx answers and connection failures wait with an exponential backoff that
survives restarts; 5xx answers and addresses that cannot go are final
(`failed`). A flush never raises: what goes wrong is logged and retried.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import sqlite3
import time
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from .config import Config
from .relay import Outcome, Session, check_relay, envelope, judge, send, wire_bytes

__all__ = ["Flush", "MailQueue", "check_relay"]
log = logging.getLogger("csac.mail")
SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    message_id TEXT PRIMARY KEY,
    deposit_id TEXT,
    kind TEXT NOT NULL,
    recipients TEXT NOT NULL,
    path TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    answer TEXT,
    queued_at TEXT NOT NULL,
    sent_at TEXT,
    owner TEXT,
    lease_until REAL
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (state, next_at);
"""
ADDED_COLUMNS = {"owner": "TEXT", "lease_until": "REAL"}  # absent from journals written before claims
LEASE_TIMEOUTS = 20  # a claim lasts this many relay timeouts (at least a minute)
LOG_LINES = {
    "sent": (logging.INFO, "message %(mid)s : accepté par le relais (%(answer)s)"),
    "failed": (logging.ERROR, "message %(mid)s : refus définitif (%(answer)s)"),
    "queued": (
        logging.WARNING,
        "message %(mid)s : échec temporaire (%(answer)s), nouvel essai dans %(wait).0f s",
    ),
}


@dataclass
class Flush:
    sent: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _now() -> str:
    return dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _gone(owner: str | None) -> bool:
    """Whether the sender that claimed a row is a process of this machine that no longer exists."""
    host, _, rest = (owner or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _stale(row: sqlite3.Row, now: float) -> bool:
    """A `sending` row whose sender crashed: lease run out (or none: an older csac), or process gone."""
    return row["lease_until"] is None or row["lease_until"] < now or _gone(row["owner"])


class MailQueue:
    def __init__(self, state: Path):
        self.db = state / "journal.sqlite"
        self.folder = state / "queue"
        self.folder.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn:
            conn.executescript(SCHEMA)
            _migrate(conn)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        return conn

    def enqueue(self, message, deposit_id: str | None, kind: str, recipients: list[str]) -> bool:
        """Queue once per Message-ID; False if it was queued already."""
        mid = message["Message-ID"]
        path = self.folder / (mid.strip("<>").replace("/", "_") + ".eml")
        if not path.exists():
            partial = path.with_suffix(".part")
            partial.write_bytes(wire_bytes(message))
            partial.replace(path)
        with closing(self._connect()) as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO messages (message_id, deposit_id, kind, recipients, path, state, next_at, queued_at)"
                " VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)",
                (mid, deposit_id, kind, ",".join(recipients), str(path), time.time(), _now()),
            )
            return cur.rowcount == 1

    def due(self, force: bool = False) -> list[sqlite3.Row]:
        """Queued rows whose time has come, and `sending` rows left by a sender that crashed."""
        now = time.time()
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT * FROM messages WHERE (state = 'queued' AND (? OR next_at <= ?)) OR state = 'sending'"
                " ORDER BY queued_at",
                (force, now),
            ).fetchall()
        return [r for r in rows if r["state"] == "queued" or _stale(r, now)]

    def for_deposit(self, deposit_id: str) -> list[dict]:
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT recipients, kind, state, attempts, answer FROM messages WHERE deposit_id = ?",
                (deposit_id,),
            )
            return [dict(r) for r in rows]

    def all(self, states: tuple[str, ...] = ("queued", "sending", "sent", "failed")) -> list[dict]:
        with closing(self._connect()) as conn:
            marks = ",".join("?" * len(states))
            return [
                dict(r)
                for r in conn.execute(
                    f"SELECT * FROM messages WHERE state IN ({marks}) ORDER BY queued_at", states
                )
            ]

    def flush(self, config: Config, force: bool = False) -> Flush:
        """Send what is due through the relay; what cannot go now waits its turn. Never raises."""
        result = Flush()
        if config.relay is None:
            return result
        try:
            self._flush(config, force, result)
        except Exception as exc:  # the rows stay queued or claimed with a lease: a later flush takes them
            log.exception(
                "envoi des messages interrompu (%s : %s), nouvel essai plus tard", type(exc).__name__, exc
            )
        return result

    def _flush(self, config: Config, force: bool, result: Flush) -> None:
        owner, session = _owner(), Session(config.relay)
        lease = max(60.0, LEASE_TIMEOUTS * config.relay.timeout)
        try:
            for row in self.due(force):
                attempts = self._claim(row, owner, lease, force)
                if attempts is not None:
                    outcome = _attempt(session, row, config)
                    self._record(row["message_id"], owner, attempts, outcome, config, result)
        finally:
            session.close()

    def _claim(self, row: sqlite3.Row, owner: str, lease: float, force: bool) -> int | None:
        """Take the row for this flush alone: its attempt number, or None if another sender has it."""
        now = time.time()
        claim = "UPDATE messages SET state = 'sending', owner = ?, lease_until = ?, attempts = attempts + 1 WHERE message_id = ?"
        if row["state"] == "queued":
            sql, args = " AND state = 'queued' AND (? OR next_at <= ?)", (force, now)
        else:  # a crashed sender's row: taken only from that very sender
            sql, args = " AND state = 'sending' AND owner IS ?", (row["owner"],)
        with closing(self._connect()) as conn:
            found = conn.execute(
                claim + sql + " RETURNING attempts", (owner, now + lease, row["message_id"], *args)
            ).fetchall()
        return found[0]["attempts"] if found else None

    def _record(
        self, mid: str, owner: str, attempts: int, outcome: Outcome, config: Config, result: Flush
    ) -> None:
        """The outcome of this attempt. `sent` is the truth whoever holds the row; the others only ours."""
        free = "owner = NULL, lease_until = NULL"
        wait = config.retry.delay(attempts) if outcome.state == "queued" else 0.0
        if outcome.state == "sent":
            sql = f"UPDATE messages SET state = 'sent', answer = ?, sent_at = ?, {free} WHERE message_id = ?"
            args = (outcome.answer, _now(), mid)
        else:
            sql = (f"UPDATE messages SET state = ?, answer = ?, next_at = ?, {free}"
                   " WHERE message_id = ? AND owner = ? AND state = 'sending'")  # fmt: skip
            args = (outcome.state, outcome.answer, time.time() + wait, mid, owner)
        with closing(self._connect()) as conn:
            conn.execute(sql, args)
        getattr(result, {"sent": "sent", "queued": "deferred", "failed": "failed"}[outcome.state]).append(mid)
        level, text = LOG_LINES[outcome.state]
        log.log(level, text, {"mid": mid, "answer": outcome.answer, "wait": wait})


def _attempt(session: Session, row: sqlite3.Row, config: Config) -> Outcome:
    """One message, one try; whatever goes wrong concerns this message only."""
    try:
        raw = Path(row["path"]).read_bytes()
    except FileNotFoundError:
        return Outcome("failed", f"le fichier du message a disparu de la file ({row['path']})")
    except OSError as exc:
        return Outcome("queued", f"fichier du message illisible ({exc.strerror or exc})")
    try:
        recipients = [config.redirect] if config.redirect else row["recipients"].split(",")
        return Outcome("sent", send(session, envelope(config.relay.sender, recipients, raw), raw))
    except Exception as exc:
        return judge(exc, session)


def _migrate(conn: sqlite3.Connection) -> None:
    """Add the columns a journal of an older csac lacks (one transaction: two processes may start at once)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        have = {r["name"] for r in conn.execute("PRAGMA table_info(messages)")}
        for name, kind in ADDED_COLUMNS.items():
            if name not in have:
                conn.execute(f"ALTER TABLE messages ADD COLUMN {name} {kind}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
