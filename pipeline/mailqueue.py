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

Each recipient's outcome is kept on the row (`outcomes`): a recipient the
relay put off (4xx) is sent again later, in a transaction of its own, with
the same Message-ID; one it refused for good is dropped, with its answer.
The row is `sent` once no recipient waits and one at least was accepted.
A flush may be given a time budget (a one-shot intake must return): what it
had no time for stays queued, and says so.
"""

from __future__ import annotations

import datetime as dt
import json
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
from .reading import system_error
from .relay import Outcome, Session, check_relay, envelope, judge, send, summary, wire_bytes
from .resources import Workspace
from .store import JOURNAL, MessageState, Store

__all__ = ["Flush", "MailQueue", "check_relay"]
log = logging.getLogger("csac.mail")
FLUSH_LISTS = {MessageState.SENT: "sent", MessageState.QUEUED: "deferred", MessageState.FAILED: "failed"}
# seconds a flush with a time budget must still have to start a message (or the relay's timeout, if shorter)
MIN_TRY = 2.0
UNTRIED = "pas encore envoyé : le temps accordé à l'envoi immédiat est écoulé ; il partira avec `csac outbox flush` ou `csac watch`"
LEASE_TIMEOUTS = 20  # a claim lasts this many relay timeouts (at least a minute)
LOG_LINES = {
    MessageState.SENT: (logging.INFO, "message %(mid)s : accepté par le relais (%(answer)s)"),
    MessageState.FAILED: (logging.ERROR, "message %(mid)s : refus définitif (%(answer)s)"),
    MessageState.QUEUED: (
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
    """The queue's rows live in the journal (a message names its deposit), its .eml files beside it."""

    def __init__(self, state: Path):
        workspace = Workspace(state=state)
        self.db, self.folder = workspace.journal, workspace.queue
        self.folder.mkdir(parents=True, exist_ok=True)
        self._store = Store(self.db, JOURNAL)
        self._connect = self._store.connect

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
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    mid,
                    deposit_id,
                    kind,
                    ",".join(recipients),
                    str(path),
                    MessageState.QUEUED,
                    time.time(),
                    _now(),
                ),
            )
            return cur.rowcount == 1

    def due(self, force: bool = False) -> list[sqlite3.Row]:
        """Queued rows whose time has come, and `sending` rows left by a sender that crashed."""
        now = time.time()
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT * FROM messages WHERE (state = ? AND (? OR next_at <= ?)) OR state = ? ORDER BY queued_at",
                (MessageState.QUEUED, force, now, MessageState.SENDING),
            ).fetchall()
        return [r for r in rows if r["state"] == MessageState.QUEUED or _stale(r, now)]

    def for_deposit(self, deposit_id: str) -> list[dict]:
        """Each message of a deposit, with the recipients the relay refused for good (`refused`)."""
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT recipients, kind, state, attempts, answer, outcomes FROM messages WHERE deposit_id = ?",
                (deposit_id,),
            ).fetchall()
        return [
            {k: r[k] for k in ("recipients", "kind", "state", "attempts", "answer")}
            | {"refused": [a for a, (state, _) in _outcomes(r).items() if state == MessageState.FAILED]}
            for r in rows
        ]

    def all(self, states: tuple[MessageState, ...] = tuple(MessageState)) -> list[dict]:
        with closing(self._connect()) as conn:
            marks = ",".join("?" * len(states))
            return [
                dict(r)
                for r in conn.execute(
                    f"SELECT * FROM messages WHERE state IN ({marks}) ORDER BY queued_at", states
                )
            ]

    def flush(
        self, config: Config, force: bool = False, within: float | None = None, session: Session | None = None
    ) -> Flush:
        """Send what is due through the relay; what cannot go now waits its turn. Never raises.

        `within`: seconds the whole flush may take. `session`: one the caller can abort.
        """
        result = Flush()
        if config.relay is None:
            return result
        deadline = None if within is None else time.monotonic() + within
        session = session or Session(config.relay, deadline)
        try:
            self._flush(config, force, result, session)
        except Exception as exc:  # the rows stay queued or claimed with a lease: a later flush takes them
            log.exception(
                "envoi des messages interrompu (%s : %s), nouvel essai plus tard", type(exc).__name__, exc
            )
        finally:
            session.close()
        return result

    def _flush(self, config: Config, force: bool, result: Flush, session: Session) -> None:
        owner, lease = _owner(), max(60.0, LEASE_TIMEOUTS * config.relay.timeout)
        rows = self.due(force)
        for n, row in enumerate(rows):
            if session.aborted:
                return
            if session.left() < min(config.relay.timeout, MIN_TRY):
                self._untried(rows[n:], result)
                return
            attempts = self._claim(row, owner, lease, force)
            if attempts is not None:
                outcomes = _attempt(session, row, config)
                backoff = 0 if session.aborted else attempts  # cut by our stop: due again at the next start
                self._record(row, owner, backoff, outcomes, config, result)

    def _untried(self, rows: list[sqlite3.Row], result: Flush) -> None:
        """Out of time: these wait for the next flush, and `csac status` says why."""
        with closing(self._connect()) as conn:
            for row in rows:
                conn.execute(
                    "UPDATE messages SET answer = ? WHERE message_id = ? AND state = ? AND attempts = 0",
                    (UNTRIED, row["message_id"], MessageState.QUEUED),
                )
        result.deferred += [r["message_id"] for r in rows]
        log.warning("%d message(s) en attente : %s", len(rows), UNTRIED)

    def _claim(self, row: sqlite3.Row, owner: str, lease: float, force: bool) -> int | None:
        """Take the row for this flush alone: its attempt number, or None if another sender has it."""
        now = time.time()
        claim = "UPDATE messages SET state = ?, owner = ?, lease_until = ?, attempts = attempts + 1 WHERE message_id = ?"
        if row["state"] == MessageState.QUEUED:
            sql, args = " AND state = ? AND (? OR next_at <= ?)", (MessageState.QUEUED, force, now)
        else:  # a crashed sender's row: taken only from that very sender
            sql, args = " AND state = ? AND owner IS ?", (MessageState.SENDING, row["owner"])
        with closing(self._connect()) as conn:
            found = conn.execute(
                claim + sql + " RETURNING attempts",
                (MessageState.SENDING, owner, now + lease, row["message_id"], *args),
            ).fetchall()
        return found[0]["attempts"] if found else None

    def _record(
        self,
        row: sqlite3.Row,
        owner: str,
        attempts: int,
        outcomes: dict[str, Outcome],
        config: Config,
        result: Flush,
    ) -> None:
        """This attempt's outcomes, merged into the row's. A recipient accepted is the truth whoever
        holds the row; the rest is written only while the row is still ours. `attempts` sets the
        backoff of what waits; 0, none."""
        mid = row["message_id"]
        with self._store.transaction() as conn:
            state, answer, wait = self._merge(conn, mid, owner, attempts, outcomes, config)
        getattr(result, FLUSH_LISTS[state]).append(mid)
        level, text = LOG_LINES[state]
        log.log(level, text, {"mid": mid, "answer": answer, "wait": wait})

    @staticmethod
    def _merge(conn, mid: str, owner: str, attempts: int, outcomes: dict[str, Outcome], config: Config):
        current = conn.execute("SELECT * FROM messages WHERE message_id = ?", (mid,)).fetchone()
        ours = current["state"] == MessageState.SENDING and current["owner"] == owner
        known = _outcomes(current)
        known |= {a: (o.state, o.answer) for a, o in outcomes.items() if ours or o.state == MessageState.SENT}
        mine = {a: Outcome(*known[a]) for a in _recipients(current) if a in known}
        state = _state(current, known)
        answer = summary(mine) or current["answer"]
        wait = config.retry.delay(attempts) if state == MessageState.QUEUED and attempts else 0.0
        if ours or state == MessageState.SENT:
            conn.execute(
                "UPDATE messages SET state = ?, answer = ?, outcomes = ?, next_at = ?, owner = NULL, lease_until = NULL,"
                " sent_at = CASE WHEN ? = ? THEN ? ELSE sent_at END WHERE message_id = ?",
                (
                    state,
                    answer,
                    json.dumps(known, ensure_ascii=False),
                    time.time() + wait,
                    state,
                    MessageState.SENT,
                    _now(),
                    mid,
                ),
            )
        else:  # another sender holds the row: only what the relay accepted is added
            conn.execute(
                "UPDATE messages SET outcomes = ? WHERE message_id = ?",
                (json.dumps(known, ensure_ascii=False), mid),
            )
        return state, answer, wait


def _recipients(row: sqlite3.Row) -> list[str]:
    return row["recipients"].split(",")


def _outcomes(row: sqlite3.Row) -> dict[str, tuple[str, str]]:
    """Each recipient's last outcome: (state, answer); none for a row of an older csac."""
    return {a: tuple(v) for a, v in json.loads(row["outcomes"] or "{}").items()}


def _pending(row: sqlite3.Row) -> list[str]:
    """The recipients still to be sent to: neither accepted nor refused for good."""
    known = _outcomes(row)
    return [a for a in _recipients(row) if _of(known, a) == MessageState.QUEUED]


def _of(known: dict[str, tuple[str, str]], recipient: str) -> MessageState:
    """A recipient's state: queued until the relay has answered for it."""
    return MessageState(known.get(recipient, (MessageState.QUEUED,))[0])


def _state(row: sqlite3.Row, known: dict[str, tuple[str, str]]) -> MessageState:
    states = {_of(known, a) for a in _recipients(row)}
    if MessageState.QUEUED in states:  # one recipient at least waits
        return MessageState.QUEUED
    return MessageState.SENT if MessageState.SENT in states else MessageState.FAILED


def _attempt(session: Session, row: sqlite3.Row, config: Config) -> dict[str, Outcome]:
    """One message, one try, to the recipients still pending: each one's outcome.
    Whatever goes wrong concerns this message only."""
    pending = _pending(row)
    try:
        raw = Path(row["path"]).read_bytes()
    except FileNotFoundError:
        return dict.fromkeys(
            pending,
            Outcome(MessageState.FAILED, f"le fichier du message a disparu de la file ({row['path']})"),
        )
    except OSError as exc:
        return dict.fromkeys(
            pending, Outcome(MessageState.QUEUED, f"fichier du message illisible ({system_error(exc)})")
        )
    try:
        if config.redirect:  # a rehearsal: one envelope recipient stands for all
            env = envelope(config.relay.sender, [config.redirect], raw)
            return dict.fromkeys(pending, next(iter(send(session, env, raw).values())))
        env = envelope(config.relay.sender, pending, raw)
        answers = send(session, env, raw)
        return {n: answers[a] for n, a in zip(env.named, env.recipients, strict=True)} | {
            n: Outcome(MessageState.FAILED, why) for n, why in env.refused
        }
    except Exception as exc:
        return dict.fromkeys(pending, judge(exc, session))
