"""``audit.log``: one JSON line per request, on disk before the request's action runs.

A single writer thread does group commit: it takes every line queued since its last sync, writes
them with one ``write`` and one ``fdatasync``, then wakes their requests in one go. While it waits
for the disk the next batch gathers, so the log costs one sync per batch, not per request, and
one hand-off between threads per batch. Every request still waits until its own line is durable.
Lines never hold a value.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._cond = threading.Condition()
        self._queue: list[tuple[bytes, Waiter]] = []
        self._closed = False
        self._io = threading.Lock()  # held by the writer around write + sync of one batch
        self._thread = threading.Thread(target=self._run, name="legerd-audit", daemon=True)
        self._thread.start()

    @staticmethod
    def line(
        principal: str,
        action: str,
        secret: str | None,
        version: int | None,
        authorized: bool,
        refused: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> bytes:
        now = time.time()
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
            + f".{int(now * 1000) % 1000:03d}Z",
            "principal": principal,
            "action": action,
            "secret": secret,
            "version": version,
            "authorized": authorized,
        }
        if refused is not None:  # refused before the access check: why (never a value)
            entry["refused"] = refused
        if extra:
            entry.update(extra)
        return json.dumps(entry, separators=(",", ":")).encode() + b"\n"

    async def record(
        self,
        principal: str,
        action: str,
        secret: str | None,
        version: int | None,
        authorized: bool,
        refused: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Return once this request's line is on disk (written and fdatasync'ed)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        line = self.line(principal, action, secret, version, authorized, refused, extra)
        with self._cond:
            if self._closed:
                raise OSError("audit log is closed")
            self._queue.append((line, (loop, done)))
            if len(self._queue) == 1:
                self._cond.notify()
        await done

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue, []
            error: OSError | None = None
            try:
                with self._io:
                    self._write(b"".join(line for line, _ in batch))
            except OSError as exc:
                error = exc
            by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
            for _, (loop, fut) in batch:
                by_loop.setdefault(loop, []).append(fut)
            for loop, futures in by_loop.items():
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                    loop.call_soon_threadsafe(_settle, futures, error)

    def _write(self, data: bytes) -> None:
        # One write() per batch: O_APPEND keeps each batch's lines together.
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        os.fdatasync(self._fd)

    def reopen(self) -> None:
        """Open ``audit.log`` again (after logrotate moved it); lines already queued go to
        whichever file is open when their batch is written, and every batch is synced."""
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with self._io:  # waits for a batch being written + synced to the old file
            old, self._fd = self._fd, fd
        os.close(old)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(10)
        os.close(self._fd)


def _settle(futures: list[asyncio.Future[None]], error: OSError | None) -> None:
    for fut in futures:
        if fut.done():
            continue
        if error is None:
            fut.set_result(None)
        else:
            fut.set_exception(OSError(error.errno, error.strerror))
