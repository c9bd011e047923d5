"""Requests counted per client address over a sliding minute: a flood is refused, not queued.

The counts live in the application that made the limiter (no global state), in memory: a restart
forgets them, which costs a flood one more minute at most. The number of addresses followed is
bounded, the oldest forgotten first.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

WINDOW = 60.0  # seconds
MAX_ADDRESSES = 10_000


class Throttle:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute, self.clock = per_minute, clock
        self.seen: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, address: str) -> bool:
        """Whether `address` may make one more request now; a request allowed is counted."""
        now = self.clock()
        times = self.seen.pop(address, None) or deque()
        while times and now - times[0] >= WINDOW:
            times.popleft()
        self.seen[address] = times  # the most recent address last: the oldest is forgotten first
        if len(self.seen) > MAX_ADDRESSES:
            self.seen.popitem(last=False)
        if len(times) >= self.per_minute:
            return False
        times.append(now)
        return True

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again (for the Retry-After header)."""
        times = self.seen.get(address)
        if not times:
            return 0
        return max(1, int(WINDOW - (self.clock() - times[0])) + 1)
