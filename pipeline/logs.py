"""Log lines for the people who watch csac run: a trouble that recurs is said, not repeated.

A warning or an error that comes again and again (a relay down, a folder
that cannot be read, a deposit waiting for the outbox) is said its first two
times, so that one sees it recurs, then at most once a minute, with how many
times it came meanwhile. Whatever module says it, whatever thread.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from dataclasses import dataclass

KEPT = 1000  # distinct lines remembered; the oldest quiet ones are forgotten beyond this


@dataclass
class _Said:
    count: int
    last: float  # when it was last let through
    held: int = 0  # times held back since


class Throttle(logging.Filter):
    """A handler's filter: identical warnings and errors are let through twice, then once a minute."""

    def __init__(self, every: float = 60.0, level: int = logging.WARNING):
        super().__init__()
        self.every = every
        self.level = level
        self.said: dict[str, _Said] = {}
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level:
            return True
        text, now = record.getMessage(), time.monotonic()
        with self.lock:
            said = self.said.get(text)
            if said is None:
                self._forget(now)
                self.said[text] = _Said(1, now)
                return True
            said.count += 1
            if said.count > 2 and now - said.last < self.every:
                said.held += 1
                return False
            if said.held:
                record.msg, record.args = f"{text} (répété {said.held} fois en {now - said.last:.0f} s)", ()
            said.last, said.held = now, 0
            return True

    def _forget(self, now: float) -> None:
        if len(self.said) >= KEPT:
            for text in [t for t, s in self.said.items() if now - s.last >= self.every]:
                del self.said[text]


class JsonLines(logging.Formatter):
    """One JSON object per line, for a log collector: the deposit and its state as fields of their own."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"at": self.formatTime(record), "level": record.levelname, "message": record.getMessage()}
        line |= {k: getattr(record, k) for k in ("deposit", "state") if hasattr(record, k)}
        return json.dumps(line, ensure_ascii=False)


LEVELS = {
    "DEBUG": "détail",
    "INFO": "info",
    "WARNING": "attention",
    "ERROR": "ERREUR",
    "CRITICAL": "CRITIQUE",
}
# What uvicorn says as `csac serve` starts and stops, in French; None: a step no one needs to read.
UVICORN = (
    (r"Started server process \[(\d+)\]", r"guichet web : processus \1 démarré"),
    (r"Uvicorn running on (\S+) \(Press CTRL\+C to quit\)", r"guichet web ouvert sur \1 (Ctrl-C pour arrêter)"),
    (r"Shutting down", "guichet web : arrêt"),
    (r"Finished server process \[(\d+)\]", r"guichet web : processus \1 arrêté"),
    (r"Waiting for (connections to close|background tasks to complete)\. \(CTRL\+C to force quit\)",
     "guichet web : attente des requêtes en cours (Ctrl-C pour les interrompre)"),
    (r"Invalid HTTP request received\.", "guichet web : requête HTTP invalide reçue"),
    (r"Exception in ASGI application", "guichet web : erreur interne en répondant à une requête"),
    (r"Waiting for application (startup|shutdown)\.|Application (startup|shutdown) complete\.", None),
)  # fmt: skip


class French(logging.Filter):
    """The lines a library logs in English, said in French (uvicorn's) or left out (pikepdf's
    "C++ to Python logger bridge initialized"): the people who watch csac read French."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("pikepdf") and record.levelno < logging.WARNING:
            return False
        if not record.name.startswith("uvicorn.error"):
            return True
        text = record.getMessage()
        for pattern, french in UVICORN:
            if match := re.fullmatch(pattern, text):
                if french is None:
                    return False
                record.msg, record.args = match.expand(french), ()
                return True
        return True


class Lines(logging.Formatter):
    """A line of text, its level in French."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(niveau)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.niveau = LEVELS.get(record.levelname, record.levelname)
        return super().format(record)


def to_stderr(json_lines: bool = False) -> None:
    """Lines on stderr, as text or JSON (its keys and levels in English: a collector's interface);
    a warning or error that recurs is throttled (Throttle)."""
    logging.basicConfig(level=logging.INFO, handlers=[handler(sys.stderr, json_lines)], force=True)


def handler(stream, json_lines: bool = False) -> logging.Handler:
    """The handler of every csac command's log: French, throttled, as text or JSON lines."""
    said = logging.StreamHandler(stream)
    said.setFormatter(JsonLines() if json_lines else Lines())
    said.addFilter(French())
    said.addFilter(Throttle())
    return said
