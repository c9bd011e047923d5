"""Watch the inbox: take each dropped file exactly once, when it is complete.

Events from watchdog are hints that wake the loop; the folder itself is the
truth, rescanned at start and periodically. A file is taken when its size
and mtime have not changed for `settle` seconds and its ZIP directory reads
(a ZIP still being written has none yet). It is claimed by an atomic rename
into this watcher's own processing folder, which holds a lock for as long as
the watcher lives: a second watcher on the same inbox loses the rename, and
the claims of a watcher that died are handed back to the inbox. The source
moves to inbox/done/ only after delivery and journal are committed.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from .archive import is_zip
from .deliver import Courier
from .errors import DeliveryError
from .form import SIDECAR_SUFFIXES, sidecar_for
from .intake import IntakeContext, take_in

log = logging.getLogger("csac.watch")
TEMPORARY_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".download")
LOCK = ".lock"


@dataclass(frozen=True)
class WatchSettings:
    settle: float = 0.5  # seconds a file must stay unchanged
    form_grace: float = 0.5  # extra wait for a form that may follow its ZIP
    corrupt_grace: float = 30.0  # a stable file whose ZIP directory never reads is taken anyway
    rescan: float = 10.0  # full rescan even without events
    tick: float = 0.1
    poll: float | None = None  # use the polling observer (network shares), with this interval


@dataclass
class _Seen:
    signature: tuple[int, int]
    since: float


@dataclass
class _State:
    seen: dict[str, _Seen] = field(default_factory=dict)


class _Wake(FileSystemEventHandler):
    def __init__(self, wake: threading.Event):
        self.wake = wake

    def on_any_event(self, event) -> None:
        self.wake.set()


def is_deposit_name(name: str) -> bool:
    lower = name.lower()
    return not (
        name.startswith((".", "~$")) or lower.endswith(TEMPORARY_SUFFIXES) or lower.endswith(SIDECAR_SUFFIXES)
    )


def _sidecar(path: Path) -> Path | None:
    return sidecar_for(path)


def _directory_reads(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
        if not is_zip(head):
            return True  # not a ZIP at all: nothing to wait for, intake will say so
        with zipfile.ZipFile(path):
            return True
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return False


class Watcher:
    """One watcher process on one inbox."""

    def __init__(self, ctx: IntakeContext, settings: WatchSettings = WatchSettings()):
        self.ctx = ctx
        self.settings = settings
        ws = ctx.workspace
        self.mine = ws.processing / f"{socket.gethostname()}-{os.getpid()}"
        self._lock_fd: int | None = None
        for folder in (ws.inbox, ws.processing, ws.done, self.mine):
            folder.mkdir(parents=True, exist_ok=True)

    # -- claims -------------------------------------------------------------------------------
    def _hold_lock(self) -> None:
        self._lock_fd = os.open(self.mine / LOCK, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def recover(self) -> None:
        """Hand back to the inbox what dead watchers had claimed (their lock is free)."""
        for folder in self.ctx.workspace.processing.iterdir():
            if folder == self.mine or not folder.is_dir():
                continue
            fd = os.open(folder / LOCK, os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue  # alive
            try:
                self._release_all(folder)
                (folder / LOCK).unlink(missing_ok=True)
                folder.rmdir()
                log.info("reprise des dépôts d'un veilleur arrêté : %s", folder.name)
            except OSError:
                pass
            finally:
                os.close(fd)

    def _release_all(self, folder: Path) -> None:
        for path in folder.iterdir():
            if path.name != LOCK:
                os.replace(path, self.ctx.workspace.inbox / path.name)

    def claim(self, path: Path) -> tuple[Path, Path | None] | None:
        """Atomic rename into our folder; None if another watcher was first."""
        form = _sidecar(path)
        try:
            if form:
                os.rename(form, self.mine / form.name)
            os.rename(path, self.mine / path.name)
        except FileNotFoundError:
            if form and (self.mine / form.name).exists():
                os.replace(self.mine / form.name, form)
            return None
        return self.mine / path.name, (self.mine / form.name) if form else None

    # -- readiness ----------------------------------------------------------------------------
    def ready(self, state: _State, now: float) -> list[Path]:
        inbox, s = self.ctx.workspace.inbox, self.settings
        found, current = [], set()
        for entry in os.scandir(inbox):
            if not entry.is_file(follow_symlinks=False) or not is_deposit_name(entry.name):
                continue
            st = entry.stat(follow_symlinks=False)
            signature = (st.st_size, st.st_mtime_ns)
            current.add(entry.name)
            seen = state.seen.get(entry.name)
            if seen is None or seen.signature != signature:
                state.seen[entry.name] = _Seen(signature, now)
                continue
            quiet = now - seen.since
            path = Path(entry.path)
            form_wait = 0 if _sidecar(path) else s.form_grace
            if quiet >= s.settle + form_wait and (_directory_reads(path) or quiet >= s.corrupt_grace):
                found.append(path)
        for gone in set(state.seen) - current:
            del state.seen[gone]
        return sorted(found, key=lambda p: state.seen[p.name].since)

    # -- processing ---------------------------------------------------------------------------
    def process(self, claimed: Path, form: Path | None) -> dict:
        report = take_in(claimed, self.ctx, form, name=claimed.name, claimed=True)
        done = self.ctx.workspace.done
        target = done / claimed.name
        if target.exists():
            target = done / f"{claimed.stem}.{report['deposit_id']}{claimed.suffix}"
        if form:
            os.replace(form, target.with_suffix(form.suffix))
        os.replace(claimed, target)
        return report

    def _attempt(self, claimed: Path, form: Path | None) -> dict | None:
        """Process a claimed deposit; on failure it stays claimed for the next rescan."""
        try:
            return self.process(claimed, form)
        except DeliveryError as exc:
            log.error("%s — il reste réservé et sera repris dans %.0f s", exc, self.settings.rescan)
        except Exception as exc:
            log.error(
                "fichier %s : échec du traitement (%s: %s), il reste réservé et sera repris",
                claimed.name,
                type(exc).__name__,
                exc,
            )
        return None

    def take(self, path: Path) -> dict | None:
        claim = self.claim(path)
        return self._attempt(*claim) if claim else None

    def retry_mine(self) -> None:
        """Deposits left in our folder after a failure are tried again."""
        for path in sorted(self.mine.iterdir()):
            if path.name != LOCK and is_deposit_name(path.name):
                self._attempt(path, _sidecar(path))

    def run(self, stop: threading.Event, on_report=None) -> None:
        """Until `stop` is set; the deposit in hand is finished first."""
        self._hold_lock()
        self.recover()
        wake = threading.Event()
        observer = PollingObserver(timeout=self.settings.poll) if self.settings.poll else Observer()
        observer.schedule(_Wake(wake), str(self.ctx.workspace.inbox), recursive=False)
        observer.start()
        state, last_scan = _State(), 0.0
        try:
            while not stop.is_set():
                now = time.monotonic()
                if now - last_scan >= self.settings.rescan:
                    self.retry_mine()
                    self.recover()
                    Courier(self.ctx.config).flush()
                    last_scan = now
                for path in self.ready(state, now):
                    if stop.is_set():
                        break
                    report = self.take(path)
                    if report and on_report:
                        on_report(report)
                wake.wait(self.settings.tick)
                wake.clear()
        finally:
            observer.stop()
            observer.join(timeout=5)
            self.release()

    def release(self) -> None:
        """Give back anything still claimed, then drop our folder and lock."""
        self._release_all(self.mine)
        (self.mine / LOCK).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.mine.rmdir()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
