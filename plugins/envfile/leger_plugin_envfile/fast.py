"""``leger secrets fetch SERVICE`` on the short road (see :mod:`leger_core.fastpath`).

Imports no click, pluggy or httpx and scans no entry points: the service's plan and how to open
its backends come from the cache the full CLI keeps (:mod:`leger_plugin_envfile.plans`); each
backend is opened through its fast entry (``leger_register_fast_backends``). When the cache
cannot answer for sure, or a backend of the plan has no fast entry, this returns None and the
full CLI does the same work (and refreshes the cache).
"""

from __future__ import annotations

import sys

from leger_core.backends import FastBackends, read_plan
from leger_core.errors import LegerError
from leger_plugin_envfile import plans
from leger_plugin_envfile.fetch import fetch, parse_fetch_args


def main(argv: list[str]) -> int | None:
    parsed = parse_fetch_args(argv)
    if parsed is None:
        return None
    service, output = parsed
    cached = plans.lookup(service)
    if cached is None:
        return None
    plan, settings = cached
    backends = FastBackends(settings)
    if not backends.available(backend for _, backend, _ in plan):
        return None
    try:
        result = fetch(service, plan, lambda p: read_plan(p, backends.open), output)
    except ImportError:
        return None  # a backend's plugin was removed: the full CLI will say so
    except LegerError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return exc.exit_code
    finally:
        backends.close()
    sys.stdout.write(result.message() + "\n")
    return 0
