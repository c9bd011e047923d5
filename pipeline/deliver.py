"""Delivery: a Maildir per regional mailbox, notices to depositors, quarantine.

This and the journal are the only places that write. Messages carry a
Message-ID derived from the deposit id, and a message already in its Maildir
is not added twice: a delivery interrupted and run again is not doubled.
"""

from __future__ import annotations

import datetime as dt
import json
import mailbox
import os
import shutil
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from .untrusted import one_line

SENDER = "Resah — dépôts des conventions <csac@resah.fr>"
DEPOSITORS = "depositors"
FILE_MODE = 0o600
HEADER_LIMIT = 256  # characters; an address is 254 at most


@dataclass(frozen=True)
class Outgoing:
    """One message to put in one Maildir."""

    folder: str  # the Maildir under the outbox: the recipient's address, or "depositors"
    message: EmailMessage


def message_id(deposit_id: str, kind: str) -> str:
    return f"<{deposit_id}.{kind}@csac.resah.fr>"


def add_header(msg: EmailMessage, name: str, value: str) -> None:
    """Every header goes through here: on one line, without control characters, capped.

    Subjects carry names read from documents and forms: a CR/LF or U+2028 must
    not add a header, and a 100,000-character word must not be folded (quadratic).
    """
    msg[name] = one_line(value, HEADER_LIMIT)


def new_message(to: str, subject: str, body: str, deposit_id: str, kind: str, date: str) -> EmailMessage:
    msg = EmailMessage()
    for name, value in (
        ("From", SENDER),
        ("To", to),
        ("Subject", subject),
        ("Date", format_datetime(dt.datetime.fromisoformat(date))),
        ("Message-ID", message_id(deposit_id, kind)),
        ("X-CSAC-Deposit-Id", deposit_id),
    ):
        add_header(msg, name, value)
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


def _keep(folder: Path, source: Path, name: str) -> Path:
    """A copy of the deposited file, untouched, written whole or not at all."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / Path(name).name
    if not target.exists():
        partial = folder / f".{target.name}.part"
        shutil.copyfile(source, partial)
        os.chmod(partial, FILE_MODE)
        os.replace(partial, target)
    return target


def archive(folder: Path, source: Path, name: str) -> Path:
    """Keep the original of a deposit whose files were not all forwarded, for audit."""
    return _keep(folder, source, name)


def quarantine(folder: Path, source: Path, name: str, reason: str, report: dict) -> Path:
    """Keep a rejected deposit, untouched, with the reason it was refused."""
    _keep(folder, source, name)
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
        """Try the relay now; what fails stays queued for the next flush."""
        if self.queue is not None:
            self.queue.flush(self.config)
