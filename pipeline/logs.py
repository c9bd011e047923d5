"""Log lines for the people who watch csac run: a trouble that recurs is said, not repeated.

A warning or an error that comes again and again (a relay down, a folder
that cannot be read, a deposit waiting for the outbox) is said its first two
times, so that one sees it recurs, then at most once a minute, with how many
times it came meanwhile. Whatever module says it, whatever thread.
"""

from __future__ import annotations

import json
import logging
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


def to_stderr(json_lines: bool = False) -> None:
    """Lines on stderr, as text or JSON; a warning or error that recurs is throttled (Throttle)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonLines() if json_lines else logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    )
    handler.addFilter(Throttle())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
