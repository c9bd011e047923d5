"""Sending apart from intake: under `csac watch`, a thread of its own flushes the mail queue.

A relay that answers slowly, or not at all, then delays messages and never
deposits: each deposit is taken in, judged and journalled within seconds,
its messages queued. The thread is woken after each deposit and also runs on
its own timer. On Ctrl-C the connection in use is cut: the message in hand
stays queued and goes at the next start, with its Message-ID. Nothing
escapes the thread: what fails is logged and tried again at the next round.
"""

from __future__ import annotations

import logging
import threading

from .config import Config
from .mailqueue import MailQueue
from .relay import Session

log = logging.getLogger("csac.mail")
STOP_GRACE = 5.0  # seconds Ctrl-C waits for the message in hand before leaving it queued


class Sender:
    """The watcher's sending thread: one flush at a time, each on a session that `stop` can cut."""

    def __init__(self, config: Config, every: float):
        self.config = config
        self.every = every
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._session: Session | None = None
        self._thread = threading.Thread(target=self._run, name="csac-envoi", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Something was queued: send it now rather than at the next round."""
        self._wake.set()

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Cut the connection in use, and wait for the thread at most `grace` seconds."""
        self._stop.set()
        self._wake.set()
        session = self._session
        if session is not None:
            session.abort()
        self._thread.join(grace)
        if self._thread.is_alive():  # still connecting: the process ends without it
            log.warning(
                "envoi en cours abandonné à l'arrêt : le message reste en file et partira au prochain démarrage"
            )

    def _run(self) -> None:
        while not self._stop.is_set():
            self._round()
            self._wake.wait(self.every)
            self._wake.clear()

    def _round(self) -> None:
        session = Session(self.config.relay)
        self._session = session
        if self._stop.is_set():  # stopped between the check and the session: nothing is sent
            session.abort()
        try:
            MailQueue(self.config.workspace.state).flush(self.config, session=session)
        except Exception as exc:  # the queue itself cannot be opened: the next round tries again
            log.error(
                "envoi du courrier en attente impossible (%s : %s) ; nouvel essai dans %.0f s",
                type(exc).__name__, exc, self.every,
            )  # fmt: skip
        finally:
            self._session = None
