"""A small in-process limiter for the auth endpoints (per client address, sliding window).

Each worker keeps its own counts: behind a load balancer with N workers a client gets at most
N times the limit, which still stops password-spraying-style floods of login attempts."""

from __future__ import annotations

import threading
import time
from collections import deque

from leger_server.errors import RateLimited


class RateLimiter:
    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        if self.limit <= 0:
            return
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                retry = int(hits[0] + self.window - now) + 1
                raise RateLimited(
                    "too many authentication attempts", action=f"retry in {retry} seconds"
                )
            hits.append(now)
            if len(self._hits) > 10000:  # forget idle clients so memory stays bounded
                for k in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
                    del self._hits[k]
