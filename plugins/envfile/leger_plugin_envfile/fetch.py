"""``leger secrets fetch`` and ``leger secrets clean``: the work both the fast path and the click
commands do, so they cannot drift apart. Cheap imports only."""

from __future__ import annotations

import os

from leger_core.errors import LegerError
from leger_core.names import check_secret_name, check_service
from leger_core.paths import runtime_path
from leger_plugin_envfile.envformat import ensure_private_dir, render, write_private

# typing costs milliseconds at every container start; annotations only need it for mypy.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from leger_core.values import SecretValue


class Fetched:
    """What fetch wrote (a plain class: ``dataclasses`` costs milliseconds to import)."""

    def __init__(self, path: str, envs: list[str]) -> None:
        self.path = path
        self.envs = envs

    def message(self) -> str:
        names = ", ".join(self.envs) or "no secrets"
        return f"Wrote {self.path} ({names})"


def env_file_path(service: str) -> str:
    """``$XDG_RUNTIME_DIR/leger/SERVICE.env`` (``/run/user/UID/leger/`` without it)."""
    return os.path.join(runtime_path(), f"{check_service(service)}.env")


def fetch(
    service: str,
    plan: Sequence[tuple[str, str, str]],
    read: Callable[[Sequence[tuple[str, str, str]]], dict[str, SecretValue]],
    output: str | None = None,
) -> Fetched:
    """Read every secret of ``plan`` ((env, backend, name) triples) with ``read`` and write
    the env file for ``service``. ``read`` is :func:`leger_core.backends.read_plan` over the
    backends (one ``get_many`` each: with legerd, about one round trip per start).

    All or nothing: on any error no file is left — not even the one a previous start wrote,
    so a container never starts with values that could not be refreshed."""
    path = output if output else env_file_path(service)
    check_service(service)
    for env, _, name in plan:  # the cached plan too: nothing is read for a bad name
        check_secret_name(name, env)
    try:
        values = read(plan)
        entries = [(env, name, values[env].reveal()) for env, _, name in plan]
        data = render(entries)
        parent = os.path.dirname(os.path.abspath(path))
        if not output or not os.path.isdir(parent):
            ensure_private_dir(parent)
        write_private(path, data)
    except LegerError:
        _remove(path)
        raise
    except OSError as exc:
        _remove(path)
        raise LegerError(f"cannot write {path}: {exc.strerror or exc}") from None
    return Fetched(path, [env for env, _, _ in plan])


def clean(service: str, output: str | None = None) -> bool:
    """Remove the env file of ``service``; True if there was one."""
    path = output if output else env_file_path(service)
    check_service(service)
    return _remove(path)


def _remove(path: str) -> bool:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def parse_fetch_args(argv: Sequence[str]) -> tuple[str, str | None] | None:
    """``SERVICE [--output PATH]`` as the click command takes it; None for anything else
    (``--help``, a typo, …) so the click command answers."""
    service: str | None = None
    output: str | None = None
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-o", "--output"):
            if not args or output is not None:
                return None
            output = args.pop(0)
        elif arg.startswith("--output="):
            if output is not None:
                return None
            output = arg.partition("=")[2]
        elif arg.startswith("-") or service is not None:
            return None
        else:
            service = arg
    if service is None or output == "":
        return None
    return service, output
