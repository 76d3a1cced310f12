"""Ending the processes a test, the demo or a benchmark started itself."""

from __future__ import annotations

import subprocess
from typing import Any


def stop(proc: subprocess.Popen[Any], timeout: float = 10.0) -> int:
    """End ``proc`` (one this code started: by its handle, so by its PID and nothing else):
    SIGTERM, then SIGKILL if it has not exited after ``timeout`` seconds. A process that has
    already exited is only reaped. Returns its exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()
