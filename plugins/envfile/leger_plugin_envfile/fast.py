"""``leger secrets fetch SERVICE`` on the short road (see :mod:`leger_core.fastpath`).

Imports no click, pluggy or httpx and scans no entry points: the service's plan and the legerd
settings come from the cache the full CLI keeps (:mod:`leger_plugin_envfile.plans`); legerd is
asked over one keep-alive connection. When the cache cannot answer for sure this returns None
and the full CLI does the same work (and refreshes the cache).
"""

from __future__ import annotations

import sys

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
    plan, client_config = cached
    from leger_plugin_setec.client import client_from_config

    try:
        with client_from_config(client_config) as client:
            result = fetch(service, plan, client, output)
    except LegerError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return exc.exit_code
    sys.stdout.write(result.message() + "\n")
    return 0
