"""Each service's line in ``leger status``: which backends its secrets come from, and which
of them are missing there (names only: the check lists names, it never reads a value)."""

from __future__ import annotations

import threading
from typing import Any

from leger_core import hookimpl
from leger_core.context import Leger
from leger_core.errors import LegerError
from leger_core.status import QUICK_TIMEOUT, StatusCheck

# A backend that has not listed its names by then is reported as not answering. Its thread is
# a daemon, so a store that hangs cannot hold `leger status` past this either.
LIST_DEADLINE = 2 * QUICK_TIMEOUT


@hookimpl(trylast=True)
def leger_status(leger: Leger) -> list[StatusCheck]:
    try:
        services = leger.service_names()
    except LegerError:
        return []  # a broken config file is the config line's to report
    if not services:
        return []
    plans: dict[str, list[tuple[str, str, str]]] = {}
    checks: list[StatusCheck] = []
    for service in services:
        try:
            plans[service] = leger.secret_plan(service)
        except LegerError as exc:
            action = exc.hint or "leger plugins lists the backends installed here"
            checks.append(_check(service, ok=False, summary=exc.message, action=action))
    held, errors = _list_backends(leger, {b for plan in plans.values() for _, b, _ in plan})
    for service, plan in plans.items():
        checks.append(_service_check(service, plan, held, errors))
    return checks


def _list_backends(
    leger: Leger, names: set[str]
) -> tuple[dict[str, set[str]], dict[str, LegerError]]:
    """(backend → the names it holds, backend → the error it gave); all asked at once."""
    held: dict[str, set[str]] = {}
    errors: dict[str, LegerError] = {}

    def ask(name: str) -> None:
        try:
            with leger.backends() as open_backend:
                held[name] = {info.name for info in open_backend(name).list()}
        except LegerError as exc:
            errors[name] = exc
        except Exception as exc:  # a backend's bug: say which backend, not the whole report
            errors[name] = LegerError(f"{type(exc).__name__} in the backend")

    threads = [threading.Thread(target=ask, args=(n,), daemon=True) for n in sorted(names)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(LIST_DEADLINE)
    for name in names - held.keys() - errors.keys():
        errors[name] = LegerError(f"did not answer in {LIST_DEADLINE:.0f} s")
    return held, errors


def _service_check(
    service: str,
    plan: list[tuple[str, str, str]],
    held: dict[str, set[str]],
    errors: dict[str, LegerError],
) -> StatusCheck:
    backends = sorted({b for _, b, _ in plan})
    facts: dict[str, Any] = {"backends": backends, "secrets": len(plan)}
    failed = {b: errors[b] for b in backends if b in errors}
    if failed:
        backend, error = next(iter(failed.items()))
        return _check(
            service,
            ok=False,
            summary=f"cannot check its secrets: backend {backend!r}: {error.message}",
            action=error.hint,
            facts={**facts, "unreachable": sorted(failed)},
        )
    missing = [
        f"{name} ({env}, {backend})" for env, backend, name in plan if name not in held[backend]
    ]
    facts["missing"] = missing
    via = ", ".join(backends) or "no backend"
    if missing:
        return _check(
            service,
            ok=False,
            summary=f"{len(missing)} of {len(plan)} secret(s) missing from {via}: "
            + ", ".join(missing),
            action="leger secrets set NAME and leger secrets sync, or put them in that store",
            facts=facts,
        )
    return _check(service, ok=True, summary=f"{len(plan)} secret(s) present in {via}", facts=facts)


def _check(
    service: str,
    *,
    ok: bool,
    summary: str,
    action: str | None = None,
    facts: dict[str, Any] | None = None,
) -> StatusCheck:
    return StatusCheck("service", service, ok=ok, summary=summary, action=action, facts=facts or {})
