"""The outgoing mail queue: durable, retried with backoff, sent once per relay acceptance.

A message is queued (its .eml written, then its row committed) before any
attempt. A row moves to `sending` before the relay is asked and to `sent`
with the relay's answer once it accepted: a crash in between leaves it in
`sending`, and it is sent again with the same Message-ID, so that mailboxes
can drop the copy. 4xx answers and connection failures wait with an
exponential backoff that survives restarts; 5xx answers are final (`failed`).
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import sqlite3
import ssl
import time
from contextlib import closing, suppress
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path

from .config import Config, Relay

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
    sent_at TEXT
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (state, next_at);
"""


@dataclass
class Flush:
    sent: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _now() -> str:
    return dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")


class MailQueue:
    def __init__(self, state: Path):
        self.db = state / "journal.sqlite"
        self.folder = state / "queue"
        self.folder.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn:
            conn.executescript(SCHEMA)

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
            partial.write_bytes(message.as_bytes(policy=policy.SMTP))
            partial.replace(path)
        with closing(self._connect()) as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO messages (message_id, deposit_id, kind, recipients, path, state, next_at, queued_at)"
                " VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)",
                (mid, deposit_id, kind, ",".join(recipients), str(path), time.time(), _now()),
            )
            return cur.rowcount == 1

    def due(self, force: bool = False) -> list[sqlite3.Row]:
        with closing(self._connect()) as conn:
            return conn.execute(
                "SELECT * FROM messages WHERE state IN ('queued', 'sending') AND (? OR next_at <= ?) ORDER BY queued_at",
                (force, time.time()),
            ).fetchall()

    def _set(self, mid: str, **values) -> None:
        cols = ", ".join(f"{k} = ?" for k in values)
        with closing(self._connect()) as conn:
            conn.execute(f"UPDATE messages SET {cols} WHERE message_id = ?", (*values.values(), mid))

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
        """Send what is due through the relay; what cannot go now waits its turn."""
        result, rows = Flush(), self.due(force)
        if not rows or config.relay is None:
            return result
        try:
            smtp = connect(config.relay)
        except (OSError, smtplib.SMTPException) as exc:
            for row in rows:
                self._defer(row, f"relais injoignable : {exc}", config, result)
            return result
        with smtp:
            for row in rows:
                self._send_one(smtp, row, config, result)
        return result

    def _send_one(self, smtp, row, config: Config, result: Flush) -> None:
        mid = row["message_id"]
        recipients = [config.redirect] if config.redirect else row["recipients"].split(",")
        self._set(mid, state="sending", attempts=row["attempts"] + 1)
        try:
            answer = transmit(smtp, config.relay.sender, recipients, Path(row["path"]).read_bytes())
        except smtplib.SMTPResponseException as exc:
            _reset(smtp)
            text = f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace') if isinstance(exc.smtp_error, bytes) else exc.smtp_error}"
            if 500 <= exc.smtp_code < 600:
                self._set(mid, state="failed", answer=text)
                result.failed.append(mid)
                log.error("message %s : refus définitif du relais (%s)", mid, text)
            else:
                self._defer(row, text, config, result)
            return
        except (OSError, smtplib.SMTPException) as exc:
            self._defer(row, f"{type(exc).__name__}: {exc}", config, result)
            return
        except Exception as exc:
            # a message the relay can never take as it is (an address smtplib cannot encode…): it
            # is failed with the reason, and the messages queued behind it still go
            _reset(smtp)
            self._set(mid, state="failed", answer=f"{type(exc).__name__}: {exc}")
            result.failed.append(mid)
            log.error("message %s : impossible à transmettre (%s: %s)", mid, type(exc).__name__, exc)
            return
        self._set(mid, state="sent", answer=answer, sent_at=_now())
        result.sent.append(mid)
        log.info("message %s : accepté par le relais (%s)", mid, answer)

    def _defer(self, row, why: str, config: Config, result: Flush) -> None:
        attempts = row["attempts"] + 1
        wait = config.retry.delay(attempts)
        self._set(
            row["message_id"], state="queued", attempts=attempts, next_at=time.time() + wait, answer=why
        )
        result.deferred.append(row["message_id"])
        log.warning(
            "message %s : échec temporaire (%s), nouvel essai dans %.0f s", row["message_id"], why, wait
        )


def _reset(smtp) -> None:
    """Forget a refused transaction before the next message."""
    with suppress(OSError, smtplib.SMTPException):
        smtp.rset()


def connect(relay: Relay) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if relay.security == "tls":
        smtp = smtplib.SMTP_SSL(relay.host, relay.port, timeout=relay.timeout, context=context)
    else:
        smtp = smtplib.SMTP(relay.host, relay.port, timeout=relay.timeout)
        if relay.security == "starttls":
            smtp.starttls(context=context)
    if relay.username:
        smtp.login(relay.username, relay.password or "")
    return smtp


def transmit(smtp: smtplib.SMTP, sender: str, recipients: list[str], raw: bytes) -> str:
    """MAIL, RCPT, DATA; the relay's answer to DATA is its acceptance, recorded as such."""
    envelope_from = (
        message_from_bytes(b"From: " + sender.encode() + b"\r\n\r\n", policy=policy.SMTP)["From"]
        .addresses[0]
        .addr_spec
    )
    smtp.ehlo_or_helo_if_needed()
    code, resp = smtp.mail(envelope_from)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, resp, envelope_from)
    for rcpt in recipients:
        code, resp = smtp.rcpt(rcpt)
        if code not in (250, 251):
            raise smtplib.SMTPResponseException(code, resp)
    code, resp = smtp.data(raw)
    if code != 250:
        raise smtplib.SMTPResponseException(code, resp)
    return f"{code} {resp.decode(errors='replace') if isinstance(resp, bytes) else resp}"


def check_relay(relay: Relay) -> str:
    """Connect, greet and quit: what `csac config check --connect` reports."""
    with connect(relay) as smtp:
        code, resp = smtp.noop()
    return f"{relay.describe()} : {code} {resp.decode(errors='replace')}"
