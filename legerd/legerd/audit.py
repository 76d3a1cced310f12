"""``audit.log``: one JSON line per request, on disk before the request's action runs.

Lines from concurrent requests are committed together (one write, one fsync for the batch), so
the log costs one fsync per batch instead of one per request; every request still waits until
its own line is durable. Lines never hold a value.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path
from typing import Any


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._flushing = False
        self._task: asyncio.Task[None] | None = None  # held so it is not collected mid-flush
        self._lock = threading.Lock()  # for write_sync from threads (CLI, tests)

    @staticmethod
    def line(
        principal: str, action: str, secret: str | None, version: int | None, authorized: bool
    ) -> bytes:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            + f".{int(time.time() * 1000) % 1000:03d}Z",
            "principal": principal,
            "action": action,
            "secret": secret,
            "version": version,
            "authorized": authorized,
        }
        return json.dumps(entry, separators=(",", ":")).encode() + b"\n"

    async def record(
        self,
        principal: str,
        action: str,
        secret: str | None,
        version: int | None,
        authorized: bool,
    ) -> None:
        """Return once this request's line is fsynced."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((self.line(principal, action, secret, version, authorized), done))
        if not self._flushing:
            self._flushing = True
            self._task = loop.create_task(self._flush_loop())
        await done

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                data = b"".join(line for line, _ in batch)
                try:
                    await loop.run_in_executor(None, self._write, data)
                except OSError as exc:
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                for _, fut in batch:
                    if not fut.done():
                        fut.set_result(None)
        finally:
            self._flushing = False

    def _write(self, data: bytes) -> None:
        with self._lock:
            view = memoryview(data)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            os.fsync(self._fd)

    def write_sync(
        self, principal: str, action: str, secret: str | None, version: int | None
    ) -> None:
        self._write(self.line(principal, action, secret, version, True))

    def close(self) -> None:
        os.close(self._fd)
