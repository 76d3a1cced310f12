"""The auth endpoints' limit: at most ``limit`` attempts per client address in a window of
``window`` seconds, counted in the database (table ``auth_rate_limits``).

The count lives where every worker and every server on the same database sees it: kept in each
process, ``--workers 4`` or four servers behind a load balancer gave a client four times the
limit. A window opens at a client's first attempt and closes ``window`` seconds later; the next
attempt after that opens a new one. Each check is one atomic ``UPDATE … RETURNING`` (or an
``INSERT`` for a client not seen in the window), so concurrent workers never both take the last
attempt. Client addresses are stored as their SHA-256, and rows of closed windows are deleted
whenever a new one is opened, so the table holds at most the clients of the last window."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from leger_server.db import auth_rate_limits as table
from leger_server.errors import RateLimited

# One more attempt of a client: a new window if its last one has closed. Built once; only
# the parameters change per call.
_EXPIRED = table.c.window_start <= sa.bindparam("opened", type_=sa.Float)
_COUNT = (
    sa.update(table)
    .where(table.c.client_key == sa.bindparam("client"))
    .values(
        hits=sa.case((_EXPIRED, 1), else_=table.c.hits + 1),
        window_start=sa.case(
            (_EXPIRED, sa.bindparam("now", type_=sa.Float)), else_=table.c.window_start
        ),
    )
    .returning(table.c.hits, table.c.window_start)
)


class RateLimiter:
    def __init__(
        self,
        engine: Engine,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.time,  # wall time: workers and hosts share it
    ) -> None:
        self.engine = engine
        self.limit = limit
        self.window = window
        self.clock = clock

    def __repr__(self) -> str:
        return f"RateLimiter(limit={self.limit}, window={self.window})"

    async def hit(self, key: str) -> None:
        """:meth:`check` off the event loop (it waits for the database)."""
        await run_in_threadpool(self.check, key)

    def check(self, key: str) -> None:
        """Count one attempt of client ``key``; raise :class:`RateLimited` past the limit."""
        if self.limit <= 0:
            return
        client = hashlib.sha256(key.encode()).hexdigest()
        for _ in range(3):  # an INSERT can lose a race with another worker's: count again
            now = self.clock()
            opened = now - self.window
            with self.engine.begin() as conn:
                row = conn.execute(_COUNT, {"client": client, "opened": opened, "now": now}).first()
            if row is not None:
                hits, start = row
                break
            try:
                with self.engine.begin() as conn:
                    conn.execute(sa.delete(table).where(table.c.window_start <= opened))
                    conn.execute(
                        sa.insert(table).values(client_key=client, window_start=now, hits=1)
                    )
            except sa.exc.IntegrityError:
                continue
            hits, start = 1, now
            break
        else:
            raise RateLimited("too many authentication attempts", action="retry in a minute")
        if hits > self.limit:
            retry = int(start + self.window - now) + 1
            raise RateLimited(
                "too many authentication attempts", action=f"retry in {retry} seconds"
            )
