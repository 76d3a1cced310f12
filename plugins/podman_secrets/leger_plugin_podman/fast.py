"""``leger driver lookup`` on the short road (see :mod:`leger_core.fastpath`): podman runs it at
every start of a container with a ``type=env`` secret. No click, pluggy or entry-point scan;
how to open the backends comes from a small cache the full CLI keeps (:mod:`.settings_cache`)
and each backend through its fast entry. Returns None (the full CLI answers) whenever the
cache cannot, or a backend has no fast entry."""

from __future__ import annotations

import sys

from leger_core.backends import FastBackends
from leger_core.errors import LegerError
from leger_plugin_podman import settings_cache
from leger_plugin_podman.driver import lookup, secret_id


def parse_backend(argv: list[str]) -> tuple[bool, str | None]:
    """(understood, ``--backend`` value) for ``[--backend NAME]``, as the click command."""
    if not argv:
        return True, None
    if len(argv) == 2 and argv[0] == "--backend" and argv[1]:
        return True, argv[1]
    if len(argv) == 1 and argv[0].startswith("--backend=") and len(argv[0]) > 10:
        return True, argv[0][10:]
    return False, None


def main(argv: list[str]) -> int | None:
    understood, backend = parse_backend(argv)
    if not understood:
        return None
    cached = settings_cache.lookup()
    if cached is None:
        return None
    settings, default = cached
    backends = FastBackends(settings)

    def open_backend(name: str) -> object:
        if not backends.available([name]):
            raise _NoFastEntry
        return backends.open(name)

    try:
        sid = secret_id()
        data = lookup(open_backend, backend or default, sid)
    except (_NoFastEntry, ImportError):
        return None  # the full CLI can load that backend's plugin (or say it is missing)
    except LegerError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return exc.exit_code
    finally:
        backends.close()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return 0


class _NoFastEntry(Exception):
    """A backend the data names has no fast entry."""
