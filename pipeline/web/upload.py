"""A deposit's upload, streamed to disk as it arrives: never held in memory, never past the limit.

The body is parsed chunk by chunk (python-multipart) and the file written straight into a hidden
staging file in the inbox's own folder (".web-….part": the watcher ignores it), so that the drop
is a rename on one file system. The size is refused twice: on the Content-Length the client
announces, before anything is written, and on the bytes counted as they come (a client may lie,
or send chunks without a length). A refused upload leaves nothing behind; what is left of its body
is read and thrown away (up to a bound) so that the browser sees the refusal rather than a reset
connection. A body that stops before its end, or stalls, is refused too: one outcome per upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from ..drop import TEMPORARY_PREFIX
from ..textnorm import ascii_number
from ..untrusted import printable
from .app import WebLimits

log = logging.getLogger("csac.web")

STAGING_PREFIX = ".web-"  # hidden, and ".part": never taken by the watcher (pipeline/watch.py)
FIELDS_BYTES = 64 * 1024  # the text fields together: a form is 64 KB at most (pipeline/form.py)
ENVELOPE = FIELDS_BYTES + 16 * 1024  # what the multipart envelope may add to the file and fields
DRAIN_FACTOR = 2  # a refused body is read (and thrown away) up to this many times the limit, then cut
MAX_PARTS = 32  # the page sends ten; thousands of empty parts cost seconds of CPU for nothing
STALE_SECONDS = 86400  # a staging file this old was left by a server that stopped mid-upload


def sweep(folder: Path, now: float) -> list[Path]:
    """Staging files and temporary forms (pipeline/drop.py) left by a server that stopped mid-upload or
    mid-drop, removed; those of an upload under way (this server's or another's on the same inbox) are
    younger than a day and stay, and so does any other hidden file (a clerk's copy under way)."""
    removed = []
    ours = [*folder.glob(f"{STAGING_PREFIX}*.part"), *folder.glob(f"{TEMPORARY_PREFIX}*.part")]
    for path in sorted(ours):
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > STALE_SECONDS:
                path.unlink()
                removed.append(path)
    return removed


class UploadRefused(Exception):
    """The upload cannot be taken; the message is French and says why. `status` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
        self.fields: dict[str, str] = {}  # the text fields received before the refusal: kept on the page


EMPTY = "Le fichier « {name} » est vide (0 octet) : rien n'a été enregistré. Joignez le ZIP de votre dépôt."
NOT_KEPT = (
    "Votre dépôt n'a pas pu être enregistré, à cause d'un incident de notre côté ; rien n'a été conservé. "
    "Réessayez dans quelques minutes."
)
MALFORMED = "Le formulaire reçu est mal formé : rechargez la page et recommencez."
CUT_SHORT = (
    "L'envoi a été interrompu avant la fin du fichier : rien n'a été enregistré. Vérifiez votre connexion, "
    "puis joignez le fichier de nouveau et validez."
)
TOO_LONG = (
    "L'envoi a duré plus de {duration}, le plus long admis : rien n'a été enregistré. Réessayez avec une "
    "meilleure connexion, ou répartissez les pièces en plusieurs dépôts plus petits."
)
TOO_SLOW = (
    "L'envoi s'est arrêté en cours de route (plus rien reçu depuis {duration}) : rien n'a été "
    "enregistré. Vérifiez votre connexion, puis joignez le fichier de nouveau et validez."
)


def too_large(limit: int) -> UploadRefused:
    return UploadRefused(
        f"Le fichier dépasse {limit // (1024 * 1024)} Mo, la taille maximale d'un dépôt. Rien n'a été "
        "enregistré. Réduisez-le (par exemple en numérisant les pages en noir et blanc, à 200 points "
        "par pouce) ou répartissez les pièces en plusieurs dépôts.",
        413,
    )


@dataclass(frozen=True)
class Staged:
    """The file as received, in its staging place; its digest and size counted on the way."""

    path: Path
    filename: str  # as the browser sent it: shown, never used for a path
    size: int
    sha256: str


@dataclass(frozen=True)
class Upload:
    fields: dict[str, str]  # the text fields, as typed
    staged: Staged | None  # None: no file was chosen


class _Receiver:
    """python-multipart's callbacks: text fields kept (bounded), the file part written to staging."""

    def __init__(self, folder: Path, file_field: str, limit: int, before_file=None):
        self.folder, self.file_field, self.limit = folder, file_field, limit
        self.before_file = before_file  # called with the fields so far when the file begins; may refuse
        self.fields: dict[str, str] = {}
        self.header_name, self.header_value, self.headers = b"", b"", {}
        self.name: str | None = None
        self.field_bytes = bytearray()
        self.text_total = 0
        self.file = None  # (open file, path, filename) from the file part's start until it is synced
        self.size, self.digest, self.staged = 0, hashlib.sha256(), None
        self.parts, self.ended = 0, False  # parts begun; the closing boundary seen

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._add("header_name", d[s:e]),
            "on_header_value": lambda d, s, e: self._add("header_value", d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _add(self, which: str, data: bytes) -> None:
        value = getattr(self, which) + data
        if len(value) > 8 * 1024:
            raise UploadRefused("En-tête de formulaire trop long : la requête n'a pas pu être lue.")
        setattr(self, which, value)

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise UploadRefused(MALFORMED)
        self.headers, self.name, self.field_bytes = {}, None, bytearray()

    def _end(self) -> None:
        self.ended = True

    def _header_end(self) -> None:
        # latin-1 both ways: parse_options_header gives back the raw bytes of a browser's UTF-8 file name
        self.headers[self.header_name.decode("latin-1").lower()] = self.header_value.decode("latin-1")
        self.header_name, self.header_value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get("content-disposition", ""))
        self.name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is not None and self.name == self.file_field:
            if self.file or self.staged:
                raise UploadRefused("Un seul fichier par dépôt : joignez un seul ZIP.")
            if self.before_file:
                self.before_file(self.fields)
            fd, path = tempfile.mkstemp(dir=self.folder, prefix=STAGING_PREFIX, suffix=".part")
            self.file = (os.fdopen(fd, "wb"), Path(path), filename.decode("utf-8", "replace"))

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self.file and not self.staged:
            self.size += end - start
            if self.size > self.limit:
                raise too_large(self.limit)
            chunk = data[start:end]
            self.digest.update(chunk)
            self.file[0].write(chunk)
            return
        self.text_total += end - start
        if self.text_total > FIELDS_BYTES:
            raise UploadRefused("Les champs du formulaire sont trop longs (64 Ko au plus en tout).")
        self.field_bytes += data[start:end]

    def _part_end(self) -> None:
        if self.file and not self.staged:
            fh, path, filename = self.file
            if self.size == 0:  # the file input left empty (browsers send an empty part), or an empty file
                fh.close()
                path.unlink()
                self.file = None
                if filename:
                    raise UploadRefused(EMPTY.format(name=printable(filename, 80)))
                return
            self.staged = Staged(path, filename, self.size, self.digest.hexdigest())
        elif self.name is not None:
            self.fields[self.name] = self.field_bytes.decode("utf-8", "replace")

    def sync(self) -> None:
        """The staged file on disk before it is dropped (in a worker thread: an fsync of 64 MB must not
        hold up the other requests)."""
        if self.file:
            fh = self.file[0]
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
            self.file = None

    def discard(self) -> None:
        """Nothing of a refused upload stays: the staging file, open or closed, is removed."""
        if self.file:
            with contextlib.suppress(OSError):
                self.file[0].close()
            self.file[1].unlink(missing_ok=True)
            self.file = None
        if self.staged:
            self.staged.path.unlink(missing_ok=True)
            self.staged = None


def _boundary(request: Request) -> bytes:
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadRefused("Le formulaire doit être envoyé avec son fichier (multipart/form-data).")
    return boundary


def _announced(request: Request) -> int | None:
    value = request.headers.get("content-length", "")
    return int(value) if ascii_number(value) else None


def duration(seconds: float) -> str:
    """« 30 minutes », « 60 secondes », « 1 seconde »."""
    if seconds >= 120:
        return f"{round(seconds / 60)} minutes"
    n = max(1, round(seconds))
    return f"{n} seconde{'s' if n > 1 else ''}"


class Body:
    """The request's body, chunk by chunk, each awaited `upload_idle` seconds at most, all of it within
    `upload_seconds`: a client that stops sending, or trickles a byte now and then (a slow or hostile
    one, a dropped connection), is refused instead of holding its connection and staging file for ever."""

    def __init__(self, request: Request, limits: WebLimits):
        self.stream, self.limits = request.stream(), limits
        self.deadline = time.monotonic() + limits.upload_seconds
        self.total, self.stalled = 0, False

    async def next(self) -> bytes | None:
        """The next chunk, None at the end; UploadRefused (408) once the client stalls or is too slow."""
        left = self.deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            chunk = await asyncio.wait_for(anext(self.stream), min(self.limits.upload_idle, left))
        except StopAsyncIteration:
            return None
        except TimeoutError:
            self.stalled = True  # the stream was cancelled: nothing more can be read from it
            raise self._too_slow(left) from None
        self.total += len(chunk)
        return chunk

    def _too_slow(self, left: float) -> UploadRefused:
        if left <= self.limits.upload_idle:
            return UploadRefused(TOO_LONG.format(duration=duration(self.limits.upload_seconds)), 408)
        return UploadRefused(TOO_SLOW.format(duration=duration(self.limits.upload_idle)), 408)

    async def drain(self, budget: int) -> None:
        """Read what is left of a refused body, keeping none of it, so the client can read our answer;
        past `budget` bytes in all, or a client that stalls, the connection is cut instead."""
        with contextlib.suppress(UploadRefused, ClientDisconnect):
            while not self.stalled and self.total <= budget and await self.next() is not None:
                pass


async def receive(
    request: Request, folder: Path, limits: WebLimits, file_field: str = "fichier", before_file=None
) -> Upload:
    """The form's fields and its file staged in `folder`; UploadRefused (nothing left behind) when the
    body is too large, malformed, cut short, stalled, or holds more than one file, or when
    `before_file(fields)` refuses the fields that came before the file (its CSRF token: nothing is
    written for a forged request). A client that goes away raises starlette's ClientDisconnect."""
    body, limit = Body(request, limits), limits.upload_bytes
    receiver = _Receiver(folder, file_field, limit, before_file)
    try:
        parser = MultipartParser(_boundary(request), receiver.callbacks())
        announced = _announced(request)
        if announced is not None and announced > limit + ENVELOPE:
            raise too_large(limit)
        while (chunk := await body.next()) is not None:
            if body.total > limit + ENVELOPE:  # chunks announce no length
                raise too_large(limit)
            parser.write(chunk)
        parser.finalize()
        if not receiver.ended:  # a body that stops before its closing boundary (a Content-Length that lied)
            raise UploadRefused(CUT_SHORT)
        await run_in_threadpool(receiver.sync)
    except UploadRefused as exc:
        receiver.discard()
        await body.drain(DRAIN_FACTOR * limit)
        exc.fields = receiver.fields
        raise
    except ValueError as exc:  # python-multipart's MultipartParseError and friends
        receiver.discard()
        await body.drain(DRAIN_FACTOR * limit)
        refused = UploadRefused(MALFORMED)
        refused.fields = receiver.fields
        raise refused from exc
    except OSError as exc:  # the staging file cannot be written (disk full, quota, inbox gone): ours to fix
        receiver.discard()
        log.error("dépôt web : le fichier reçu n'a pas pu être écrit dans %s : %s", folder, exc)
        await body.drain(DRAIN_FACTOR * limit)
        refused = UploadRefused(NOT_KEPT, 503)
        refused.fields = receiver.fields
        raise refused from exc
    except BaseException:  # the client went away, the server stops: nothing half-written stays
        receiver.discard()
        raise
    return Upload(receiver.fields, receiver.staged)
