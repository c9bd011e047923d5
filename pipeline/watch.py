"""Watch the inbox: take each dropped file exactly once, when it is complete.

Events from watchdog are hints that wake the loop; the folder itself is the
truth, rescanned at start and periodically. A file is taken when its size
and mtime have not changed for `settle` seconds and its ZIP directory reads
(a ZIP still being written has none yet), and its form, if it has one, has
not changed for as long either (a JSON form that stops short of its end is
waited for, up to `unfinished_form`: a writer may pause longer than
`settle`). It is claimed by an atomic rename
into a fresh folder of its own inside this watcher's processing folder,
which holds a lock for as long as the watcher lives: a second watcher on the
same inbox loses the rename, and the claims of a watcher that died are
adopted by a live one. The source moves to inbox/done/ only after delivery
and journal are committed.

No move ever replaces a file: a claim lands in an empty folder, and giving
back or finishing goes through a hard link, which fails rather than replace
(a second "depot.zip" becomes "depot (2).zip", its form renamed alike).

One deposit never stops the watcher: whatever it raises ends that try only.
Tries are counted in the journal by the dropped file, across restarts; after
`attempts` failures (or `crashes` tries cut short by the watcher's death) the
deposit is set aside in quarantine for a person. A failure on our side (the
outbox cannot be written, the journal is locked) is not the deposit's: it
stays claimed and is tried again, uncounted. An error on the deposit's own
files (a file csac may not read) is the deposit's.

Mail goes apart from intake: intake only queues, and the watcher's sender
thread (pipeline/sender.py) talks to the relay, so a slow relay never holds
a deposit back. Once a day, among its chores, it sends the reminders of the
dossiers still incomplete (pipeline/remind.py); their failure is logged, tried
again an hour later, and never stops it.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import errno
import fcntl
import itertools
import json
import logging
import os
import socket
import sqlite3
import stat
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from . import remind
from .archive import is_zip
from .drop import place as _place
from .errors import DeliveryError
from .form import SIDECAR_SUFFIXES, sidecar_for
from .intake import IntakeContext, set_aside, source_key, take_in
from .journal import Journal, Tally
from .reading import said_failure
from .report import IntakeReport
from .sender import Sender
from .untrusted import printable

log = logging.getLogger("csac.watch")
TEMPORARY_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".download")
LOCK = ".lock"
NAME_MAX = 255  # bytes in one file name (ext4, xfs, tmpfs, btrfs)
# errors that a deposit's own name or content provokes while it is written out: counted against it
DEPOSIT_ERRNOS = {errno.ENAMETOOLONG, errno.EINVAL, errno.EILSEQ, errno.EFBIG, errno.EISDIR, errno.ENOTDIR}
# the machine is out of something: never counted against a deposit, whatever file the error names
MACHINE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EMFILE, errno.ENFILE, errno.ENOMEM,
                  errno.ESTALE}  # fmt: skip
# errors on our folders (outbox, var/): ours, unless they name only the deposit's own files
OUR_ERRNOS = MACHINE_ERRNOS | {errno.EACCES, errno.EPERM, errno.EIO}
FORM_PEEK = 64 * 1024  # bytes of a JSON form read to see whether it is whole; a larger one is no form
CUT_TAIL = 8  # characters: a parse that fails this close to the end may be a token cut by the writer
REMIND_RETRY = 3600.0  # seconds before the day's reminders are tried again after a failure


@dataclass(frozen=True)
class WatchSettings:
    settle: float = 0.5  # seconds a file must stay unchanged
    form_grace: float = 0.5  # extra wait for a form that may follow its ZIP
    corrupt_grace: float = 30.0  # a stable file whose ZIP directory never reads is taken anyway
    rescan: float = 10.0  # full rescan even without events
    tick: float = 0.1
    poll: float | None = None  # use the polling observer (network shares), with this interval
    attempts: int = 3  # failed tries before a deposit is set aside in quarantine
    crashes: int = 5  # tries cut short by the watcher's death (killed, out of memory) before the same
    unfinished_form: float = 10.0  # a JSON form cut short is waited for this long after its last change
    reminders_per_chore: int = 100  # a backlog of reminders goes this many at a time, deposits between


@dataclass
class _Seen:
    signature: tuple[int, ...]
    since: float


@dataclass
class _State:
    seen: dict[str, _Seen] = field(default_factory=dict)
    last_scan: float = float("-inf")


@dataclass(frozen=True)
class Claim:
    """One claimed deposit: a folder of its own holding the file and its form, under their names."""

    folder: Path
    path: Path
    form: Path | None

    @classmethod
    def of(cls, folder: Path) -> Claim | None:
        files = sorted(p for p in folder.iterdir() if p.is_file())
        deposit = next((p for p in files if is_deposit_name(p.name)), None)
        if deposit is None:
            return None
        form = next((p for p in files if p != deposit and p.name.lower().endswith(SIDECAR_SUFFIXES)), None)
        return cls(folder, deposit, form)


# watchdog's event types (5.0 and later) for a file opened, or closed without a write
READS = ("opened", "closed_no_write")


class _Wake(FileSystemEventHandler):
    """Wakes the loop when a file is written, moved, removed or has its mode changed.

    Opening a file or closing it unwritten changes nothing a deposit is judged on; the loop
    itself reads the files it waits for, so waking on those would make it spin."""

    def __init__(self, wake: threading.Event):
        self.wake = wake

    def on_any_event(self, event) -> None:
        if event.event_type not in READS:
            self.wake.set()


def _watched(name: str) -> bool:
    """A deposit or a form: neither hidden, an office lock file, nor a download still under way."""
    return not (name.startswith((".", "~$")) or name.lower().endswith(TEMPORARY_SUFFIXES))


def is_deposit_name(name: str) -> bool:
    return _watched(name) and not name.lower().endswith(SIDECAR_SUFFIXES)


def _directory_reads(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError:
        return True  # csac may not read it: waiting will not help, its tries will say so
    try:
        if not is_zip(head):
            return True  # not a ZIP at all: nothing to wait for, intake will say so
        with zipfile.ZipFile(path):
            return True
    except Exception:  # zipfile trips in ways of its own: unreadable for now, taken after corrupt_grace
        return False


def _form_whole(form: Path) -> bool:
    """Whether a JSON form reads to its end; one cut short by a writer still at work does not.
    YAML cannot tell (a YAML cut anywhere is still YAML): its quiet time alone decides."""
    if form.suffix.lower() != ".json":
        return True
    try:
        with os.fdopen(os.open(form, os.O_RDONLY | os.O_NONBLOCK), "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return True
            raw = fh.read(FORM_PEEK + 1)
    except OSError:
        return True  # unreadable: intake says so
    if len(raw) > FORM_PEEK:
        return True  # no form is that large: intake refuses it at once
    try:
        json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        return exc.reason != "unexpected end of data"  # a character cut in two
    except json.JSONDecodeError as exc:
        return not (exc.msg.startswith("Unterminated string") or exc.pos >= len(exc.doc.rstrip()) - CUT_TAIL)
    except (RecursionError, ValueError):
        return True  # whole, if hostile: intake judges it
    return True


def _describe(exc: BaseException) -> str:
    """The error, in one printable, bounded line: it goes to the journal, reason.txt and a notice."""
    return printable(said_failure(exc), 300)


def _names_only(exc: OSError, folder: Path) -> bool:
    """Whether the error names files, all of them inside `folder`."""
    names = [n for n in (exc.filename, exc.filename2) if isinstance(n, str | bytes | os.PathLike)]
    inside = Path(os.path.abspath(folder))
    return bool(names) and all(Path(os.path.abspath(os.fsdecode(n))).is_relative_to(inside) for n in names)


def _ours(exc: Exception, claim: Claim) -> bool:
    """Whether a failure is the machine's (outbox, disk, journal) rather than the deposit's.

    An error that names only the deposit's own files (a file of another user that csac
    may not read, an I/O error on it) is the deposit's, unless the machine itself is out
    of something (space, descriptors, memory).
    """
    if isinstance(exc, sqlite3.OperationalError):
        return True
    cause = exc.__cause__ if isinstance(exc, DeliveryError) else exc
    if isinstance(cause, OSError) and cause.errno not in MACHINE_ERRNOS and _names_only(cause, claim.folder):
        return False
    if isinstance(exc, DeliveryError):
        return getattr(cause, "errno", None) not in DEPOSIT_ERRNOS
    return isinstance(exc, OSError) and exc.errno in OUR_ERRNOS


# -- moves that never replace a file -------------------------------------------------------------
def _fit(stem: str, room: int) -> str:
    """The stem cut to `room` bytes of the name's own encoding, never inside a character."""
    raw = os.fsencode(stem)
    if len(raw) <= room:
        return stem
    decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    return decoder.decode(raw[:room], final=False)  # a character cut in two stays in the decoder


def _names(claim: Claim) -> Iterator[tuple[str, str | None]]:
    """The claim's own names, then "NAME (2).zip" with "NAME (2).json"…, each fitting in 255 bytes."""
    yield claim.path.name, claim.form.name if claim.form else None
    stem, suffix = os.path.splitext(claim.path.name)
    if len(os.fsencode(suffix)) > 16:  # "depot.<200 characters>": no real suffix to keep
        stem, suffix = claim.path.name, ""
    form_suffix = claim.form.suffix if claim.form else ""
    for n in itertools.count(2):
        tag = f" ({n})"
        room = NAME_MAX - len(os.fsencode(tag + max(suffix, form_suffix, key=lambda s: len(os.fsencode(s)))))
        base = _fit(stem, room) + tag
        yield base + suffix, (base + form_suffix) if claim.form else None


def _put(claim: Claim, folder: Path) -> Path:
    """Move a deposit and its form into `folder` under names free there: the form first, so that
    a watcher that sees the deposit sees its form too. Returns where the deposit went."""
    for name, form_name in _names(claim):
        if os.path.lexists(folder / name) or (form_name and os.path.lexists(folder / form_name)):
            continue
        if claim.form and not _place(claim.form, folder / form_name):
            continue
        if _place(claim.path, folder / name):
            return folder / name
        if claim.form:
            _place(folder / form_name, claim.form)  # that name was just taken: try the next one
    raise AssertionError("unreachable")


class Watcher:
    """One watcher process on one inbox."""

    def __init__(
        self,
        ctx: IntakeContext,
        settings: WatchSettings = WatchSettings(),
        clock: Callable[[], dt.datetime] | None = None,
    ):
        self.ctx = replace(ctx, config=replace(ctx.config, send_inline=False))  # intake queues; run() sends
        self.settings = settings
        self.clock = clock or (lambda: dt.datetime.now().astimezone())  # what the daily reminders go by
        self._reminders_after = float("-inf")  # monotonic: after a failed run, the next try waits
        ws = ctx.workspace
        self.mine = ws.processing / f"{socket.gethostname()}-{os.getpid()}"
        self._lock_fd: int | None = None
        self.sender = Sender(ctx.config, settings.rescan) if ctx.config.relay else None
        for folder in (ws.inbox, ws.processing, ws.done, self.mine):
            folder.mkdir(parents=True, exist_ok=True)

    # -- our folder and its lock ----------------------------------------------------------------
    def _hold_lock(self) -> None:
        """Lock our folder for as long as we live; retried if a recovering watcher took it away
        in the instant between its creation and our lock."""
        for _ in range(100):
            self.mine.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.mine / LOCK, os.O_CREAT | os.O_RDWR, 0o600)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if _is_current(fd, self.mine / LOCK):
                    self._lock_fd = fd
                    return
            except BlockingIOError:
                time.sleep(0.01)  # another watcher is taking the empty folder away: make it again
            os.close(fd)
        raise RuntimeError(f"impossible de verrouiller {self.mine}")

    def _claims(self, folder: Path) -> list[Path]:
        return sorted(p for p in folder.iterdir() if p.is_dir())

    def _new_claim_folder(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.mine, prefix=f"{time.time_ns()}-"))

    # -- claims -------------------------------------------------------------------------------
    def claim(self, path: Path) -> Claim | None:
        """The file, then its form, renamed into a fresh folder of ours; None if another watcher
        was first. The file goes first: whoever wins it is the only one to move its form."""
        form = sidecar_for(path)
        folder = self._new_claim_folder()
        try:
            os.rename(path, folder / path.name)
        except FileNotFoundError:
            folder.rmdir()
            return None
        except BaseException:
            folder.rmdir()
            raise
        if form:
            try:
                os.rename(form, folder / form.name)
            except FileNotFoundError:
                form = None
        return Claim(folder, folder / path.name, folder / form.name if form else None)

    def recover(self) -> None:
        """Adopt what dead watchers had claimed (their lock is free): it stays claimed, under ours."""
        for folder in self.ctx.workspace.processing.iterdir():
            if folder == self.mine or not folder.is_dir():
                continue
            try:
                fd = os.open(folder / LOCK, os.O_CREAT | os.O_RDWR, 0o600)
            except OSError:
                continue  # gone meanwhile
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if _is_current(fd, folder / LOCK):
                    self._adopt(folder)
                    log.info("reprise des dépôts d'un veilleur arrêté : %s", folder.name)
            except BlockingIOError:
                pass  # alive
            except OSError as exc:
                log.error(f"reprise de {folder.name} impossible : {_describe(exc)}")
            finally:
                os.close(fd)

    def _adopt(self, folder: Path) -> None:
        for claim in self._claims(folder):
            target = self._new_claim_folder()
            for path in claim.iterdir():
                os.rename(path, target / path.name)  # into an empty folder: nothing to replace
            claim.rmdir()
        for path in sorted(folder.iterdir()):  # claims of an older csac: files straight in the folder
            if path.name != LOCK and path.is_file() and is_deposit_name(path.name):
                self._adopt_file(path)
        for path in folder.iterdir():  # forms left without their deposit
            if path.name != LOCK and path.is_file():
                _put(Claim(folder, path, None), self.ctx.workspace.inbox)
        (folder / LOCK).unlink(missing_ok=True)
        folder.rmdir()

    def _adopt_file(self, path: Path) -> None:
        form, target = sidecar_for(path), self._new_claim_folder()
        os.rename(path, target / path.name)
        if form:
            os.rename(form, target / form.name)

    def _give_back(self, folder: Path) -> None:
        """A claim back to the inbox, both files kept beside any file of the same name."""
        claim = Claim.of(folder)
        if claim:
            _put(claim, self.ctx.workspace.inbox)
        for path in folder.iterdir():
            _put(Claim(folder, path, None), self.ctx.workspace.inbox)
        folder.rmdir()

    # -- readiness ----------------------------------------------------------------------------
    def ready(self, state: _State, now: float) -> list[Path]:
        """Deposits settled (see _settled), oldest first. Forms are watched as closely as deposits."""
        current = {}
        try:
            entries = list(os.scandir(self.ctx.workspace.inbox))
        except OSError as exc:
            log.error(f"boîte de dépôt illisible : {_describe(exc)}")
            return []
        for entry in entries:
            signature = _signature(entry)
            if signature is None:
                continue
            current[entry.name] = Path(entry.path)
            seen = state.seen.get(entry.name)
            if seen is None or seen.signature != signature:
                state.seen[entry.name] = _Seen(signature, now)
        for gone in set(state.seen) - set(current):
            del state.seen[gone]
        found = [p for name, p in current.items() if is_deposit_name(name) and self._settled(p, state, now)]
        return sorted(found, key=lambda p: state.seen[p.name].since)

    def _settled(self, path: Path, state: _State, now: float) -> bool:
        """Unchanged for `settle` seconds with a ZIP directory that reads; its form unchanged as long
        (and whole, if JSON), or no form after `form_grace` more."""
        s, quiet = self.settings, now - state.seen[path.name].since
        if quiet < s.settle:
            return False
        form = sidecar_for(path)
        if form is None:
            form_ready = quiet >= s.settle + s.form_grace
        else:
            seen = state.seen.get(form.name)
            form_quiet = now - seen.since if seen else 0.0  # not seen yet: seen from now on
            form_ready = form_quiet >= s.settle and (form_quiet >= s.unfinished_form or _form_whole(form))
        return form_ready and (quiet >= s.corrupt_grace or _directory_reads(path))

    # -- processing ---------------------------------------------------------------------------
    def process(self, claim: Claim) -> IntakeReport:
        """Take the deposit in under a name a person can read, then move it to done/."""
        report = take_in(claim.path, self.ctx, claim.form, name=printable(claim.path.name), claimed=True)
        self._finish(claim)
        return report

    def _finish(self, claim: Claim) -> None:
        _put(claim, self.ctx.workspace.done)
        with contextlib.suppress(OSError):
            claim.folder.rmdir()  # anything left there is given back by retry_mine

    def _attempt(self, claim: Claim) -> IntakeReport | None:
        """One try at a claimed deposit. Its failure is counted; the last one sets it aside."""
        journal, key = Journal(self.ctx.workspace.journal), source_key(claim.path)
        tally, report = journal.begin_attempt(key, printable(claim.path.name)), None
        try:
            if not self._exhausted(tally):
                try:
                    report = self.process(claim)
                    return report
                except Exception as exc:
                    if _ours(exc, claim):
                        self._say_wait(claim, exc)
                        return None
                    tally = journal.count_failure(key, _describe(exc))
                if not self._exhausted(tally):
                    self._say_retry(claim, tally)
                    return None
            report = self._set_aside(claim, tally)
            return report
        finally:
            journal.end_attempt(key, final=report is not None)

    def _exhausted(self, tally: Tally) -> bool:
        return tally.failures >= self.settings.attempts or tally.crashes >= self.settings.crashes

    def _say_wait(self, claim: Claim, exc: Exception) -> None:
        """Our side failed (one line per try): the deposit waits, uncounted."""
        what = (
            str(exc)
            if isinstance(exc, DeliveryError)
            else f"fichier {printable(claim.path.name)} : {_describe(exc)}"
        )
        log.error("%s — il reste réservé et sera repris dans %.0f s", what, self.settings.rescan)

    def _say_retry(self, claim: Claim, tally: Tally) -> None:
        log.error(
            "fichier %s : échec du traitement (%s), essai %d sur %d ; il reste réservé et sera repris dans %.0f s",
            printable(claim.path.name), tally.last_error, tally.failures, self.settings.attempts,
            self.settings.rescan,
        )  # fmt: skip

    def _set_aside(self, claim: Claim, tally: Tally) -> IntakeReport:
        if tally.failures >= self.settings.attempts:
            why = f"{tally.failures} essais en échec, dernière erreur : {tally.last_error}"
        else:
            why = f"le traitement a été interrompu {tally.crashes} fois par l'arrêt brutal de csac"
        log.error("fichier %s : mis de côté en quarantaine (%s)", printable(claim.path.name), why)
        report = set_aside(claim.path, self.ctx, why, claim.form, name=claim.path.name)
        self._finish(claim)
        return report

    def _try(self, claim: Claim) -> IntakeReport | None:
        """A try that nothing escapes: what goes wrong is logged, and the claim waits its next turn.
        What it queued is sent apart, now."""
        try:
            return self._attempt(claim)
        except Exception as exc:
            log.error(f"fichier {printable(claim.path.name)} : {_describe(exc)} ; il reste réservé")
            return None
        finally:
            if self.sender:
                self.sender.wake()

    def take(self, path: Path) -> IntakeReport | None:
        try:
            claim = self.claim(path)
        except Exception as exc:
            log.error(f"fichier {printable(path.name)} : réservation impossible ({_describe(exc)})")
            return None
        return self._try(claim) if claim else None

    def retry_mine(self) -> None:
        """Deposits left in our folder after a failure are tried again."""
        for folder in self._claims(self.mine):
            try:
                claim = Claim.of(folder)
                if claim is None:
                    self._give_back(folder)  # a form alone, or nothing: the inbox's again
                    continue
            except OSError as exc:
                log.error(f"{folder} : {_describe(exc)}")
                continue
            self._try(claim)

    def _chores(self) -> None:
        """The periodic work; each chore's failure is logged and the chore tried again next time."""
        chores = (
            ("reprise des veilleurs arrêtés", self.recover),
            ("reprise des dépôts réservés", self.retry_mine),
            ("relances des dossiers incomplets", self.remind_daily),
        )
        for what, chore in chores:
            try:
                chore()
            except Exception as exc:
                log.error(f"{what} : {_describe(exc)} ; nouvel essai dans {self.settings.rescan:.0f} s")

    def remind_daily(self) -> remind.Run | None:
        """The day's reminders, once a day (see remind.daily); after a failure, tried again an hour later."""
        if time.monotonic() < self._reminders_after:
            return None
        self._reminders_after = time.monotonic() + REMIND_RETRY  # kept if the run raises
        run = remind.daily(self.ctx.config, self.clock(), limit=self.settings.reminders_per_chore)
        if run is None or not run.failed:
            self._reminders_after = float("-inf")
        if run and run.reminders and self.sender:
            self.sender.wake()
        return run

    def _observe(self, wake: threading.Event):
        """File-system events, to wake up early; without them the loop still scans every tick."""
        observer = PollingObserver(timeout=self.settings.poll) if self.settings.poll else Observer()
        try:
            observer.schedule(_Wake(wake), str(self.ctx.workspace.inbox), recursive=False)
            observer.start()
        except Exception as exc:
            log.warning(
                "événements du système de fichiers indisponibles (%s) : balayage seul", _describe(exc)
            )
            return None
        return observer

    def run(self, stop: threading.Event, on_report=None) -> None:
        """Until `stop` is set; the deposit in hand is finished first. Nothing else ends it."""
        self._hold_lock()
        wake = threading.Event()
        observer = self._observe(wake)
        state = _State()
        if self.sender:
            self.sender.start()
        try:
            while not stop.is_set():
                try:
                    self._tick(state, stop, on_report)
                except Exception as exc:  # the last net: a tick that failed is followed by the next one
                    log.error(f"veille : {_describe(exc)}")
                wake.wait(self.settings.tick)
                wake.clear()
        finally:
            if self.sender:
                self.sender.stop()
            if observer:
                observer.stop()
                observer.join(timeout=5)
            self.release()

    def _tick(self, state: _State, stop: threading.Event, on_report) -> None:
        """New deposits first: a claim that keeps failing is tried again after them, never before."""
        now = time.monotonic()
        for path in self.ready(state, now):
            if stop.is_set():
                return
            report = self.take(path)
            if report and on_report:
                on_report(report)
        if now - state.last_scan >= self.settings.rescan:
            self._chores()
            state.last_scan = now

    def release(self) -> None:
        """Give back anything still claimed, then drop our folder and lock."""
        for folder in self._claims(self.mine):
            try:
                self._give_back(folder)
            except OSError as exc:
                log.error(
                    "%s : restitution impossible (%s), repris au prochain démarrage", folder, _describe(exc)
                )
        (self.mine / LOCK).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.mine.rmdir()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _signature(entry: os.DirEntry) -> tuple[int, ...] | None:
    """What changes when a regular file that may be a deposit or a form is written or replaced
    (size, times, inode); None for anything else."""
    try:
        if not entry.is_file(follow_symlinks=False) or not _watched(entry.name):
            return None
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return None  # gone meanwhile
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def _is_current(fd: int, path: Path) -> bool:
    """Whether the file we locked is still the one at `path` (another watcher may have removed it)."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
