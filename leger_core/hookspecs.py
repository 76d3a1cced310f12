"""The hooks a Leger plugin can implement. Every hook is prefixed ``leger_``.

Each docstring says how the core uses the result. docs/plugins/hooks.md documents every hook
with an example; tests/test_docs.py fails when one is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import click

    from leger_core.config import Config
    from leger_core.context import Leger
    from leger_core.models import ServiceSecret
    from leger_core.status import StatusCheck

hookspec = pluggy.HookspecMarker("leger")

# What the register hooks receive: the types a hookimpl annotates its ``register`` with.
Register = Callable[[str, Callable[..., Any]], None]  # register(name, factory)
RegisterFastCommand = Callable[[str, str], None]  # register("driver lookup", "module:function")


class RegisterFastBackend(Protocol):
    """``register(name, "module:function", config_keys)``."""

    def __call__(self, name: str, target: str, config_keys: Sequence[str] = ()) -> None: ...


@hookspec
def leger_register_commands(cli: click.Group) -> None:
    """Add click commands or groups to ``cli``.

    Called once while the CLI is built. Use :func:`leger_core.cli.subgroup` to add a command to
    a group that another plugin may also extend (``secrets``, ``inject``, …).
    """


@hookspec(firstresult=True)
def leger_identity(config: Config) -> dict[str, Any] | None:
    """Who this machine and user are, as a dict with ``user_id``, ``email``, ``tailnet``,
    ``device_id`` and ``hostname``.

    Stops at the first non-None result: return None when your provider does not apply here
    (e.g. Tailscale is not running) so the next one is asked.
    """


@hookspec
def leger_register_secret_backends(register: Register) -> None:
    """Register secret backends: ``register("setec", factory)``.

    ``factory(leger)`` receives the :class:`leger_core.context.Leger` context and returns an
    object following :class:`leger_core.strategies.SecretBackend`. Backends are chosen by name
    (config ``[secrets] backend`` or ``--backend``); a duplicate name is an error.
    """


@hookspec
def leger_register_injectors(register: Register) -> None:
    """Register injectors, the ways values reach a service: ``register("envfile", factory)``.

    ``factory(leger)`` returns an object following :class:`leger_core.strategies.Injector`.
    Chosen by name (``--strategy`` or config); a duplicate name is an error.
    """


@hookspec
def leger_register_release_sources(register: Register) -> None:
    """Register release sources, how a release's files are fetched: ``register("git", factory)``.

    ``factory(leger)`` returns an object following :class:`leger_core.strategies.ReleaseSource`.
    Chosen by name; a duplicate name is an error.
    """


@hookspec
def leger_service_secrets(service: str, config: Config) -> list[ServiceSecret] | None:
    """Which secrets ``service`` needs, as a list of :class:`leger_core.models.ServiceSecret`.

    Every implementation is called; the core merges the lists (the first answer for an env var
    wins, so more specific plugins should run first via ``tryfirst``). Return None when you
    know nothing about the service. A service no implementation knows is an error listing the
    known ones (see :func:`leger_service_names`).
    """


@hookspec
def leger_service_secrets_inputs(config: Config) -> list[str] | None:
    """The files your :func:`leger_service_secrets` answer depends on (paths; a missing file is
    fine). ``leger secrets fetch`` caches a service's secrets for the container-start fast path
    only while every provider declares its inputs this way and none of them changed; a plugin
    that answers ``leger_service_secrets`` without implementing this hook makes every service
    uncacheable (always the full CLI), never stale.
    """


@hookspec
def leger_service_names(config: Config) -> list[str] | None:
    """Names of the services this plugin knows the secrets of; merged and used in error messages
    ("unknown service 'x'; known: a, b") and listings."""


@hookspec
def leger_register_fast_commands(register: RegisterFastCommand) -> None:
    """Register a fast path for a command that runs on every container start:
    ``register("secrets fetch", "leger_plugin_envfile.fast:main")``.

    The core caches the mapping so that ``leger secrets fetch …`` can import just that function
    (given ``argv`` after the command words, returning an exit code) without discovering plugins
    or importing click. The full click command must behave the same; the fast path is only an
    optimisation and is skipped when the cache is missing or stale.
    """


@hookspec
def leger_status(leger: Leger) -> list[StatusCheck] | None:
    """What this plugin knows about the machine's health, for ``leger status``: a list of
    :class:`leger_core.status.StatusCheck` (``ok`` False with an ``action`` when something needs
    doing).

    Every implementation is called, all at once in threads, and the checks are shown grouped by
    section; ``leger status`` exits non-zero when any check is not ok. Bound every network call
    with :data:`leger_core.status.QUICK_TIMEOUT`; never put a secret value in a check.
    """


@hookspec
def leger_deployment_changed(leger: Leger, event: dict[str, Any]) -> str | None:
    """Told after ``leger deploy install|rollback|remove`` or ``leger update`` changed (or, for
    an update with nothing new, checked) a deployment; the cloud plugin reports it to the
    account so the web UI shows what runs where.

    ``event`` holds ``event`` (install, update, rollback, remove or check), ``name``,
    ``release_name`` (the account's release, or None), ``version``, ``source_kind``,
    ``source`` (a URL; a local path is already replaced by e.g. "local git repository"),
    ``units`` (unit name to systemd's state) and ``at`` (UTC, ISO 8601). Every
    implementation is called. Return None, or one line for the user when your part failed
    (shown as a note; the deploy itself has succeeded). Be quick (bound network calls with a
    short timeout) and do not raise. Not called when config ``[deploy] report = false``.
    """


@hookspec
def leger_register_fast_backends(register: RegisterFastBackend) -> None:
    """Give a secret backend a fast entry for the container-start path:
    ``register("setec", "leger_plugin_setec.client:client_from_config", ["legerd.socket"])``.

    The target is ``module:function``; ``function(config)`` gets an object whose
    ``get(key, default=None)`` answers the listed config keys (recorded by the last full run of
    ``leger``) and returns the backend (``get_many`` is what the fast path calls). Its module
    must be cheap to import: no click, pluggy or plugin discovery. The listed keys' values are
    written to a cache file: name no key that holds a secret. A backend without a fast
    entry still works everywhere; ``leger secrets fetch`` and ``leger driver lookup`` then go
    through the full CLI.
    """
