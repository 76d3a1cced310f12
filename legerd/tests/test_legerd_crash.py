"""SIGKILL at random moments during concurrent writes: every acknowledged write survives, and
so does its audit line (synced before the write was made)."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter

import pytest

from leger_core.errors import LegerError, NotFoundError
from leger_core.models import SecretValue

ROUNDS = 25
WRITERS = 4


class Acked:
    """What legerd acknowledged before it was killed."""

    def __init__(self) -> None:
        self.versions: list[tuple[str, int, bytes]] = []
        self.deleted: list[tuple[str, int]] = []
        self.puts: Counter[str] = Counter()  # acknowledged puts per name


def writer(daemon, worker: int, round_no: int, acked: Acked, stop: threading.Event) -> None:
    client = daemon.client(timeout=5.0)
    n = 0
    try:
        while not stop.is_set():
            name = f"crash/w{worker}/{n % 3}"
            value = f"r{round_no}-w{worker}-n{n}".encode()
            try:
                version = client.put(name, SecretValue(value))
                acked.puts[name] += 1
                acked.versions.append((name, version, value))
                if worker == 0 and version > 1:
                    # Also delete what was just written (never the active version 1). Once the
                    # delete is sent, the version's fate is unknown until it is acknowledged.
                    acked.versions.remove((name, version, value))
                    client.delete_version(name, version)
                    acked.deleted.append((name, version))
            except LegerError:
                return  # legerd died under us: this write was never acknowledged
            n += 1
    finally:
        client.close()


@pytest.mark.slow
@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_acknowledged_writes_survive_sigkill(legerd_daemon) -> None:
    rng = random.Random(20261123)
    acked = Acked()
    started = time.monotonic()
    for round_no in range(ROUNDS):
        stop = threading.Event()
        threads = [
            threading.Thread(target=writer, args=(legerd_daemon, w, round_no, acked, stop))
            for w in range(WRITERS)
        ]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.01, 0.25))
        legerd_daemon.kill()
        stop.set()
        for t in threads:
            t.join(10)
        legerd_daemon.start()  # the database opens (or this raises with legerd's output)
        client = legerd_daemon.client()
        for name, version, value in acked.versions:
            assert client.get(name, version).reveal() == value, (round_no, name, version)
        for name, version in acked.deleted:
            with pytest.raises(NotFoundError):
                client.get(name, version)
        client.close()
        _assert_every_acknowledged_write_was_audited(legerd_daemon, acked)
        rounds = round_no + 1
        if time.monotonic() - started > 30:  # bounded on a busy machine
            break
    assert rounds >= 5, f"only {rounds} kill rounds ran"
    assert len(acked.versions) > 100, "the test did not write enough to mean anything"
    assert acked.deleted, "no deletion was acknowledged"
    leftovers = list(legerd_daemon.state_dir.glob(".secrets.db.*.tmp"))
    assert not leftovers, "stale temp files of killed writes are cleaned at start"


def _assert_every_acknowledged_write_was_audited(daemon, acked: Acked) -> None:
    """Its line is synced before the action runs, so a SIGKILL can lose an action whose line
    is on disk, never the other way round: lines >= acknowledged actions, name by name."""
    lines = [json.loads(x) for x in (daemon.state_dir / "audit.log").read_text().splitlines()]
    put_lines = Counter(x["secret"] for x in lines if x["action"] == "put" and x["authorized"])
    for name, count in acked.puts.items():
        assert put_lines[name] >= count, (name, put_lines[name], count)
    deletes = {(x["secret"], x["version"]) for x in lines if x["action"] == "delete"}
    assert set(acked.deleted) <= deletes
