"""Delivery: a Maildir per regional mailbox, notices to depositors, quarantine.

This and the journal are the only places that write. Messages carry a
Message-ID derived from the deposit id, and a message already in its Maildir
is not added twice: a delivery interrupted and run again is not doubled.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import mailbox
import os
import shutil
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

SENDER = "Resah — dépôts des conventions <csac@resah.fr>"
DEPOSITORS = "depositors"
FILE_MODE = 0o600
log = logging.getLogger("csac.deliver")


@dataclass(frozen=True)
class Outgoing:
    """One message to put in one Maildir."""

    folder: str  # the Maildir under the outbox: the recipient's address, or "depositors"
    message: EmailMessage


def message_id(deposit_id: str, kind: str) -> str:
    return f"<{deposit_id}.{kind}@csac.resah.fr>"


def new_message(to: str, subject: str, body: str, deposit_id: str, kind: str, date: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(dt.datetime.fromisoformat(date))
    msg["Message-ID"] = message_id(deposit_id, kind)
    msg["X-CSAC-Deposit-Id"] = deposit_id
    msg.set_content(body)
    return msg


def _has_message(box: Path, wanted: str) -> bool:
    """Whether a message with this Message-ID is already in the Maildir."""
    for sub in ("new", "cur"):
        folder = box / sub
        if not folder.is_dir():
            continue
        for entry in os.scandir(folder):
            with open(entry.path, "rb") as fh:
                head = fh.read(4096)
            if f"Message-ID: {wanted}".encode() in head:
                return True
    return False


def put(outbox: Path, outgoing: Outgoing) -> str:
    """Add the message to its Maildir (tmp → new, atomically) unless it is there already."""
    box = outbox / outgoing.folder
    wanted = outgoing.message["Message-ID"]
    if _has_message(box, wanted):
        return outgoing.message["To"]
    box.parent.mkdir(parents=True, exist_ok=True)
    maildir = mailbox.Maildir(box, create=True)
    key = maildir.add(outgoing.message)
    os.chmod(box / "new" / key, FILE_MODE)
    return outgoing.message["To"]


def quarantine(folder: Path, source: Path, name: str, reason: str, report: dict) -> Path:
    """Keep a rejected deposit, untouched, with the reason it was refused."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / Path(name).name
    if not target.exists():
        partial = folder / f".{target.name}.part"
        shutil.copyfile(source, partial)
        os.replace(partial, target)
    (folder / "reason.txt").write_text(reason + "\n", encoding="utf-8")
    (folder / "report.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    for path in folder.iterdir():
        os.chmod(path, FILE_MODE)
    return folder


class Courier:
    """Where messages go: the Maildirs (no server needed), or the SMTP relay's queue."""

    def __init__(self, config):
        from .mailqueue import MailQueue

        self.config = config
        self.queue = MailQueue(config.workspace.state) if config.relay else None
        self.verb = "queued" if self.queue else "delivered"

    def send(self, outgoing: Outgoing, deposit_id: str) -> str:
        msg = outgoing.message
        if self.queue is None:
            return put(self.config.workspace.outbox, outgoing)
        recipients = [msg["To"], *([msg["Cc"]] if msg["Cc"] else [])]
        self.queue.enqueue(msg, deposit_id, outgoing.folder, recipients)
        return msg["To"]

    def flush(self) -> None:
        """Try the relay now; what fails stays queued for the next flush.

        The messages are already queued: a failure to send them now is the queue's
        to retry, never the failure of the deposit that queued them.
        """
        if self.queue is None:
            return
        try:
            self.queue.flush(self.config)
        except Exception as exc:
            log.error(
                "envoi du courrier en attente reporté au prochain passage (%s: %s)", type(exc).__name__, exc
            )
