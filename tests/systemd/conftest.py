"""Fixtures for tests under real systemd: ``machine`` is a booted Debian 13 machine (systemd
257 as PID 1, podman 5) with this checkout's ``leger`` and ``legerd`` runnable inside at the
same paths as here (``sdmachine.LEGER``, ``sdmachine.LEGERD``). Its journal is attached to a
failing test's report.

These tests skip only where the machine truly cannot run (no podman or debootstrap, not root);
with ``CI=true`` they fail instead, so CI never passes by skipping them.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sdmachine  # a sibling module, found through the line above

ROOT = Path(__file__).resolve().parents[2]
# What each test cost, printed at the end of the session (see pytest_terminal_summary).
TIMINGS: dict[str, float] = {}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the systemd machine cannot run here, and CI must not skip it: {reason}")
    pytest.skip(f"the systemd machine cannot run here: {reason}")


@pytest.fixture(scope="session")
def systemd_rootfs() -> Path:
    reason = sdmachine.missing_tools()
    if reason:
        _unavailable(reason)
    started = time.monotonic()
    rootfs = sdmachine.ensure_rootfs()
    TIMINGS["rootfs (build or cache)"] = time.monotonic() - started
    return rootfs


@pytest.fixture
def machine(systemd_rootfs: Path, request: pytest.FixtureRequest) -> Iterator[sdmachine.Machine]:
    """The checkout's venv at the same path inside: bind-mounted with the interpreter it points
    to; or, where that cannot be mounted (a venv of the system's /usr Python) or
    LEGER_SYSTEMD_INSTALL=wheels, the project's wheels installed into a venv of the machine's
    own Python at that path."""
    binds: list[Path] | None = None
    if os.environ.get("LEGER_SYSTEMD_INSTALL") != "wheels":
        try:
            binds = sdmachine.checkout_binds(ROOT)
        except sdmachine.MachineError:
            binds = None
    wheels = sdmachine.wheelhouse(ROOT) if binds is None else None
    started = time.monotonic()
    with sdmachine.Machine(systemd_rootfs, binds=binds or []) as m:
        TIMINGS.setdefault("boot", m.boot_seconds)
        if wheels is not None:
            m.install_venv(sys.prefix, wheels)
        request.node.stash[MACHINE] = m
        yield m
    TIMINGS[request.node.name] = time.monotonic() - started


MACHINE = pytest.StashKey[sdmachine.Machine]()


@pytest.fixture
def bare_machine(
    systemd_rootfs: Path, request: pytest.FixtureRequest
) -> Iterator[sdmachine.Machine]:
    """A machine with nothing of this machine's mounted: for installs into its own Python."""
    started = time.monotonic()
    with sdmachine.Machine(systemd_rootfs) as m:
        request.node.stash[MACHINE] = m
        yield m
    TIMINGS[request.node.name] = time.monotonic() - started


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing test gets the machine's journal in its report (the machine is still up:
    teardown comes after this report)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    m = item.stash.get(MACHINE, None)
    if m is not None and report.failed and call.when == "call":
        try:
            # Without the host kernel's ring buffer, which a container's journal shows too.
            transports = [f"_TRANSPORT={t}" for t in ("journal", "stdout", "syslog", "driver")]
            journal = m.journal("-o", "short-monotonic", *transports)
        except Exception as exc:  # the report must not break because the machine did
            journal = f"(could not read the journal: {exc})"
        report.sections.append(("systemd machine journal", journal[-60000:]))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in TIMINGS.items())
        terminalreporter.write_line(f"systemd machine: {parts}")
