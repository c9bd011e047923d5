"""Delivery: a Maildir per regional mailbox, notices to depositors, quarantine.

Messages are built here and handed over, to a Maildir or to the relay's
queue (pipeline/mailqueue.py); the copies of deposits kept for audit are
written here too. Messages carry a Message-ID derived from the deposit id.
A message is put in its Maildir at most once: the journal keeps the
Message-IDs delivered to each Maildir, and the check and the put happen
under that Maildir's lock, so that two intakes of one file, or a delivery
interrupted and run again, never double it. A Maildir left half-made by a
crash is completed before use. A message for the relay leaves with the
configured sender (smtp.sender) as its From.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import shutil
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from .journal import Journal
from .report import IntakeReport
from .store import DepositState, PutState
from .untrusted import fit_name, one_line

SENDER_NAME = "Resah — dépôts des conventions"
SENDER = f"{SENDER_NAME} <csac@resah.fr>"  # the From of Maildir messages; a relay's is smtp.sender
DEPOSITORS = "depositors"
FILE_MODE = 0o600
HEADER_LIMIT = 256  # characters; an address is 254 at most
MAILDIR_PARTS = ("tmp", "new", "cur")
LOCK_NAME = ".csac-lock"  # in the Maildir's root, beside tmp/new/cur: mail readers ignore it
INLINE_SECONDS = 10.0  # what a one-shot command gives the relay before it returns; the rest stays queued
log = logging.getLogger("csac.mail")


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


def compose(to: str, subject: str, body: str, mid: str, date: dt.datetime) -> EmailMessage:
    """A plain-text message with the headers every csac message carries, each through `add_header`."""
    msg = EmailMessage()
    for name, value in (
        ("From", SENDER),
        ("To", to),
        ("Subject", subject),
        ("Date", format_datetime(date)),
        ("Message-ID", mid),
    ):
        add_header(msg, name, value)
    msg.set_content(body)
    return msg


def new_message(to: str, subject: str, body: str, deposit_id: str, kind: str, date: str) -> EmailMessage:
    """A message about one deposit, dated when the deposit was received."""
    msg = compose(to, subject, body, message_id(deposit_id, kind), dt.datetime.fromisoformat(date))
    add_header(msg, "X-CSAC-Deposit-Id", deposit_id)
    return msg


def sender_header(sender: str) -> str:
    """The From for a relay's configured sender (smtp.sender): as configured when it names itself
    ("Resah <csac@resah.fr>"), else csac's name before the address. A sender that does not parse is
    kept as written: the relay refuses it (pipeline/relay.py), and the message waits for the fix."""
    try:
        [address] = policy.default.header_factory("From", sender).addresses
    except Exception:  # the header parser has raised on odd input before: any failure means "as written"
        return sender
    return sender if address.display_name else f"{SENDER_NAME} <{address.addr_spec}>"


def ensure_maildir(box: Path) -> Path:
    """Create the Maildir, or complete one left half-made by a crash: any of tmp/new/cur may be missing."""
    box.mkdir(mode=0o700, parents=True, exist_ok=True)
    for part in MAILDIR_PARTS:
        (box / part).mkdir(mode=0o700, exist_ok=True)
    return box


def file_name(message_id: str) -> str:
    """The message's file name, the same on every attempt, so that a retry finds what a crash left."""
    readable = re.sub(r"[^A-Za-z0-9.@_-]", "_", message_id.strip("<>"))[:80]
    return f"{readable}.{hashlib.sha256(message_id.encode()).hexdigest()[:32]}"


@contextmanager
def _locked(box: Path):
    """One writer per Maildir at a time, across processes: check and put are one step."""
    fd = os.open(box / LOCK_NAME, os.O_CREAT | os.O_RDWR, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _present(box: Path, name: str) -> bool:
    """In new/, or moved to cur/ by a mail reader (which appends ":2,FLAGS"): listings, not file reads."""
    return (box / "new" / name).exists() or any(e.name.startswith(name) for e in os.scandir(box / "cur"))


def _serialised(message: EmailMessage) -> bytes:
    """The bytes `mailbox.Maildir.add` wrote: unfolded headers, LF line ends.

    An address with accents before the @ is written in UTF-8 (RFC 6532): encoded
    words would make it an address that does not exist.
    """
    utf8 = any(
        not a.username.isascii()
        for h in ("To", "Cc", "Reply-To")
        for a in getattr(message[h], "addresses", ())
    )
    buffer = io.BytesIO()
    generator_policy = message.policy.clone(utf8=True) if utf8 else None
    BytesGenerator(buffer, mangle_from_=False, maxheaderlen=0, policy=generator_policy).flatten(message)
    return buffer.getvalue()


def _write(box: Path, name: str, message: EmailMessage) -> None:
    """tmp/ then a hard link into new/: the file appears whole or not at all, and never twice."""
    temporary = box / "tmp" / name
    temporary.unlink(missing_ok=True)  # left by a crash while writing
    try:
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "wb") as fh:
            fh.write(_serialised(message))
            fh.flush()
            os.fsync(fh.fileno())
        with suppress(FileExistsError):  # put by an earlier attempt: nothing to add
            os.link(temporary, box / "new" / name)
    finally:
        temporary.unlink(missing_ok=True)
    sync_folder(box / "new")


def sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def put(outbox: Path, outgoing: Outgoing, journal: Journal | None = None) -> str:
    """Add the message to its Maildir once, whatever crashed or ran beside it.

    Under the Maildir's lock: the journal says whether this Message-ID was
    delivered there; if not, it is recorded as being put, written under a
    name derived from the Message-ID (found again by name after a crash),
    then recorded as delivered. Without a journal, the name alone decides.
    """
    box = ensure_maildir(outbox / outgoing.folder)
    mid = outgoing.message["Message-ID"] or make_msgid(domain="csac.resah.fr")
    name, key = file_name(mid), str(box.resolve())
    with _locked(box):
        if journal and journal.begin_delivery(key, mid, name):
            return outgoing.message["To"]
        if not _present(box, name):
            _write(box, name, outgoing.message)
        if journal:
            journal.mark_delivery(key, mid, PutState.DELIVERED, name)
    return outgoing.message["To"]


def _keep(folder: Path, source: Path, name: str, max_bytes: int | None = None) -> Path:
    """A copy of the deposited file, untouched, written whole or not at all.

    A file past the deposit limit is not copied (a few of them would fill the
    disk): a note says where it stays.
    """
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / fit_name(Path(name).name)
    size = source.stat().st_size
    if max_bytes is not None and size > max_bytes:
        note = folder / "original-non-copie.txt"
        note.write_text(
            f"Le fichier déposé ({size // 2**20} Mo, au-delà de la limite de {max_bytes // 2**20} Mo) n'a pas "
            "été copié ici : il reste dans le dossier de dépôt (inbox/done/ sous la veille).\n",
            encoding="utf-8",
        )
        return note
    if not target.exists():
        partial = folder / f".copie-{os.getpid()}.part"  # short: the name itself may be 255 bytes
        shutil.copyfile(source, partial)
        os.chmod(partial, FILE_MODE)
        os.replace(partial, target)
    return target


def archive(folder: Path, source: Path, name: str) -> Path:
    """Keep the original of a deposit whose files were not all forwarded, for audit."""
    return _keep(folder, source, name)


def quarantine(
    folder: Path, source: Path, name: str, reason: str, report: IntakeReport, max_bytes: int | None = None
) -> Path:
    """Keep a rejected deposit, untouched, with the reason it was refused and its report (JSON form)."""
    _keep(folder, source, name, max_bytes)
    (folder / "reason.txt").write_text(reason + "\n", encoding="utf-8")
    (folder / "report.json").write_text(
        json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    for path in folder.iterdir():
        os.chmod(path, FILE_MODE)
    return folder


def envelope_recipients(msg: EmailMessage) -> list[str]:
    """Each address of To and Cc; a header that does not parse is kept whole, to be refused by the flush."""
    found = []
    for header in ("To", "Cc"):
        if msg[header]:
            found += [a.addr_spec for a in msg[header].addresses] or [str(msg[header])]
    return found


class Courier:
    """Where messages go: the Maildirs (no server needed), or the SMTP relay's queue.

    Nothing is opened before it is needed, so that making a Courier (the
    watcher does at every rescan) cannot fail. A one-shot command sends at
    once, for INLINE_SECONDS at most; under `csac watch` the watcher's own
    sender does, apart from intake (config.send_inline is off).
    """

    def __init__(self, config):
        self.config = config
        self.verb = DepositState.QUEUED if config.relay else DepositState.DELIVERED
        self._journal: Journal | None = None

    def send(self, outgoing: Outgoing, deposit_id: str) -> str:
        msg = outgoing.message
        if self.config.relay is None:
            self._journal = self._journal or Journal(self.config.workspace.journal)
            return put(self.config.workspace.outbox, outgoing, self._journal)
        msg.replace_header("From", one_line(sender_header(self.config.relay.sender), HEADER_LIMIT))
        self._queue().enqueue(msg, deposit_id, outgoing.folder, envelope_recipients(msg))
        return msg["To"]

    def flush(self) -> None:
        """Try the relay now, within INLINE_SECONDS; what fails or has no time left stays queued for
        the next flush. Never raises: it is logged."""
        if self.config.relay is None or not self.config.send_inline:
            return
        try:
            self._queue().flush(self.config, within=INLINE_SECONDS)
        except Exception as exc:  # the queue keeps the messages; the caller must go on
            log.exception(
                "envoi des messages en file interrompu (%s : %s), nouvel essai plus tard",
                type(exc).__name__,
                exc,
            )

    def _queue(self):
        from .mailqueue import MailQueue

        return MailQueue(self.config.workspace.state)
