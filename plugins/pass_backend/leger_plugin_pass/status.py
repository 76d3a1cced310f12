"""password-store's line in ``leger status``: are ``pass`` and GnuPG installed, is the store
there and initialised (``.gpg-id``), and how many entries it holds. File names are counted;
nothing is decrypted, and no entry name or value is shown."""

from __future__ import annotations

import os
import shutil

from leger_core.context import Leger
from leger_core.errors import LegerError
from leger_core.status import StatusCheck
from leger_plugin_pass.backend import open_backend

INSTALL = "install password-store and GnuPG (Debian: apt-get install pass)"


def pass_status(leger: Leger) -> StatusCheck:
    backend = open_backend(leger.config)
    store = backend.store_dir
    used = _used(leger)
    tools = {"pass": backend.command, "gpg": backend.gpg}
    installed = {key: shutil.which(program) is not None for key, program in tools.items()}
    exists = os.path.isdir(store)
    initialised = os.path.isfile(os.path.join(store, ".gpg-id"))
    facts: dict[str, object] = {
        "store": store,
        "installed": installed,
        "exists": exists,
        "initialised": initialised,
        "used": used,
    }
    problem: tuple[str, str] | None = None
    missing = [tools[key] for key, found in installed.items() if not found]
    if missing:
        problem = (f"{' and '.join(repr(m) for m in missing)} not installed", INSTALL)
    elif not exists:
        problem = ("no password store here", f"pass init GPG-ID (it makes {store})")
    elif not initialised:
        problem = ("the store has no .gpg-id (not initialised)", "pass init GPG-ID")
    name = f"pass {store}"
    if problem is not None:
        summary, action = problem
        # Only a store something reads from needs fixing; otherwise this line is information.
        if not used:
            return StatusCheck(
                "backend", name, True, f"{summary}; no service reads from pass", None, facts
            )
        return StatusCheck("backend", name, False, summary, action, facts)
    count = len(backend.list())
    facts["entries"] = count
    entries = "1 entry" if count == 1 else f"{count} entries"
    return StatusCheck("backend", name, True, f"initialised, {entries}", None, facts)


def _used(leger: Leger) -> bool:
    """Whether pass is the default backend or a service's secret comes from it."""
    try:
        if leger.backend_name() == "pass":
            return True
        return any(
            backend == "pass"
            for service in leger.service_names()
            for _, backend, _ in leger.secret_plan(service)
        )
    except LegerError:
        return False  # a broken config is the config line's (or the service's) to report
