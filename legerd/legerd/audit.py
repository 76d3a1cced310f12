"""``audit.log``: one JSON line per request, on disk before the request's action runs.

Lines from concurrent requests are committed together (one write, one fdatasync for the batch),
so the log costs one sync per batch instead of one per request; every request still waits until
its own line is durable. Lines never hold a value.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

MAX_FLUSHERS = 4


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._flushers = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @staticmethod
    def line(
        principal: str, action: str, secret: str | None, version: int | None, authorized: bool
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
        return json.dumps(entry, separators=(",", ":")).encode() + b"\n"

    async def record(
        self,
        principal: str,
        action: str,
        secret: str | None,
        version: int | None,
        authorized: bool,
    ) -> None:
        """Return once this request's line is on disk (written and fdatasync'ed)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((self.line(principal, action, secret, version, authorized), done))
        if self._flushers < MAX_FLUSHERS:
            self._flushers += 1
            task = loop.create_task(self._flush())
            self._tasks.add(task)  # held so it is not collected mid-flush
            task.add_done_callback(self._tasks.discard)
        await done

    async def _flush(self) -> None:
        """Write and sync everything pending, until nothing is. Several flushers may overlap:
        while one waits for the disk, the next batch is already on its way, and the kernel
        folds concurrent syncs of one file into one journal commit."""
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
            self._flushers -= 1

    def _write(self, data: bytes) -> None:
        # One write() per batch: O_APPEND keeps each batch's lines together.
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        os.fdatasync(self._fd)

    def close(self) -> None:
        os.close(self._fd)
