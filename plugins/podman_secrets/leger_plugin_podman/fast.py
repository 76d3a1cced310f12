"""``leger driver lookup`` on the short road (see :mod:`leger_core.fastpath`): podman runs it at
every start of a container with a ``type=env`` secret. No click, pluggy or entry-point scan;
the legerd settings come from a small cache the full CLI keeps (:mod:`.settings_cache`).
Returns None (the full CLI answers) whenever the cache cannot."""

from __future__ import annotations

import sys

from leger_core.errors import LegerError
from leger_plugin_podman import settings_cache
from leger_plugin_podman.driver import lookup, secret_id


def main(argv: list[str]) -> int | None:
    if argv:
        return None
    cached = settings_cache.lookup()
    if cached is None:
        return None
    from leger_plugin_setec.client import client_from_config

    try:
        sid = secret_id()
        with client_from_config(cached) as client:
            data = lookup(client, sid)
    except LegerError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return exc.exit_code
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return 0
