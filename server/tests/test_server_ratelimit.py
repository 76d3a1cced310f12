"""The auth rate limit holds across every worker and server on one database (issue 11 §5):
counted per process, ``--workers N`` or N servers gave a client N times the limit."""

from __future__ import annotations

import itertools
import threading

import httpx
import sqlalchemy as sa

from leger_server.db import auth_rate_limits, make_engine, migrate
from leger_server.errors import RateLimited
from leger_server.ratelimit import RateLimiter

LOGIN = {"user_id": "u-rl", "email": "u-rl@example.com", "tailnet": "t", "device_id": "d"}


def _login(url: str) -> int:
    return httpx.post(url + "/api/auth/cli", json=LOGIN, timeout=30).status_code


def test_two_servers_on_one_database_share_the_limit(leger_server_factory, storage, tmp_path):
    database = storage["database"] or f"sqlite:///{tmp_path / 'shared.db'}"
    env = {**storage["env"], "LEGER_SERVER_AUTH_RATE_LIMIT": "4"}
    servers = [
        leger_server_factory(database=database, blobs=storage["blobs"], env=env) for _ in range(2)
    ]
    # Alternating between the two servers: four attempts in all, not four on each.
    codes = [_login(s.url) for s in itertools.islice(itertools.cycle(servers), 8)]
    assert codes == [200] * 4 + [429] * 4


def test_concurrent_attempts_never_pass_the_limit(tmp_path):
    """Threads racing, as workers do: exactly ``limit`` attempts get through."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    migrate(engine)
    limiter = RateLimiter(engine, limit=5, window=60)
    passed: list[bool] = []

    def attempt() -> None:
        try:
            limiter.check("192.0.2.1")
            passed.append(True)
        except RateLimited:
            passed.append(False)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert passed.count(True) == 5 and len(passed) == 20


def test_a_new_window_opens_after_the_last_and_old_rows_are_forgotten(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    migrate(engine)
    now = [1000.0]
    limiter = RateLimiter(engine, limit=2, window=60, clock=lambda: now[0])
    limiter.check("a")
    limiter.check("a")
    try:
        limiter.check("a")
        raise AssertionError("the third attempt in the window passed")
    except RateLimited as exc:
        assert exc.action == "retry in 61 seconds"
    now[0] += 61
    limiter.check("b")  # a new client: closed windows (a's) are deleted
    with engine.connect() as conn:
        keys = conn.execute(sa.select(auth_rate_limits.c.client_key)).scalars().all()
    assert len(keys) == 1 and "b" not in keys  # stored as a hash, not the address
    limiter.check("a")  # a's window closed: a new one
