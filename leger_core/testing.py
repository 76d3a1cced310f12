"""Leger's pytest plugin (entry point ``pytest11``): fixtures and conformance suites.

Fixtures:

* ``leger_pm`` – a fresh plugin manager with the core's defaults and no installed plugins.
* ``leger_register`` – ``leger_register(plugin, name=None)`` registers a plugin for one test.
* ``leger_config`` – a private config file (``LEGER_CONFIG`` points at it); ``.write(dict)``.
* ``leger_invoke`` – ``leger_invoke(["plugins", "--json"], input=None)`` runs the CLI built
  from ``leger_pm`` exactly as ``leger`` does (same error handling) and returns click's Result.

Conformance suites: subclass :class:`SecretBackendConformance` (every method of
:class:`leger_core.strategies.SecretBackend`: get, get_many, put, info, list, delete, typed
errors, no value in any message) or
:class:`InjectorConformance` in your plugin's tests and provide the fixtures they name.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from leger_core.cli import build_cli, run
from leger_core.config import Config
from leger_core.errors import InvalidInputError, LegerError, NotFoundError
from leger_core.models import InjectResult, SecretValue
from leger_core.plugins import LegerPluginManager, get_plugin_manager
from leger_core.strategies import Injector, SecretBackend


class _Entry:
    """Lets CliRunner drive :func:`leger_core.cli.run`, so tests see the real error handling."""

    def __init__(self, pm: LegerPluginManager) -> None:
        self.cli = build_cli(pm)
        self.name = "leger"

    def main(self, args: list[str], prog_name: str = "leger", **_: Any) -> None:
        sys.exit(run(self.cli, args))


class ConfigFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, data: Mapping[str, Any]) -> Config:
        import tomli_w

        self.path.write_text(tomli_w.dumps(dict(data)))
        return Config.load(self.path)

    def load(self) -> Config:
        return Config.load(self.path)


@pytest.fixture
def leger_pm() -> LegerPluginManager:
    return get_plugin_manager(load_entrypoints=False)


@pytest.fixture
def leger_register(leger_pm: LegerPluginManager) -> Iterator[Callable[..., Any]]:
    registered: list[Any] = []

    def register(plugin: Any, name: str | None = None) -> Any:
        leger_pm.register(plugin, name=name)
        registered.append(plugin)
        return plugin

    yield register
    for plugin in registered:
        if leger_pm.is_registered(plugin):
            leger_pm.unregister(plugin)


@pytest.fixture
def leger_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ConfigFile:
    path = tmp_path / "leger-config" / "config.toml"
    path.parent.mkdir()
    monkeypatch.setenv("LEGER_CONFIG", str(path))
    return ConfigFile(path)


@pytest.fixture
def leger_invoke(leger_pm: LegerPluginManager) -> Callable[..., Result]:
    def invoke(
        args: list[str], input: str | bytes | None = None, env: Mapping[str, str] | None = None
    ) -> Result:
        runner = CliRunner()
        return runner.invoke(_Entry(leger_pm), args, input=input, env=env)  # type: ignore[arg-type]

    return invoke


# --- conformance suites -----------------------------------------------------------------------


class SecretBackendConformance:
    """Behaviour every secret backend keeps. Provide a ``secret_backend`` fixture returning a
    fresh, empty backend, and optionally ``secret_name_prefix`` (default ``"conformance/"``)."""

    @pytest.fixture
    def secret_name_prefix(self) -> str:
        return "conformance/"

    def test_is_a_secret_backend(self, secret_backend: SecretBackend) -> None:
        assert isinstance(secret_backend, SecretBackend)

    def test_put_then_get_returns_the_value(
        self, secret_backend: SecretBackend, secret_name_prefix: str
    ) -> None:
        name = secret_name_prefix + "alpha"
        version = secret_backend.put(name, SecretValue(b"s3cret-\x00-bytes"))
        assert version >= 1
        got = secret_backend.get(name)
        assert isinstance(got, SecretValue)
        assert got.reveal() == b"s3cret-\x00-bytes"

    def test_put_same_value_makes_no_new_version(
        self, secret_backend: SecretBackend, secret_name_prefix: str
    ) -> None:
        name = secret_name_prefix + "same"
        first = secret_backend.put(name, SecretValue("v1"))
        assert secret_backend.put(name, SecretValue("v1")) == first
        assert secret_backend.info(name).versions == (first,)

    def test_put_a_changed_value_makes_it_the_one_get_returns(
        self, secret_backend: SecretBackend, secret_name_prefix: str
    ) -> None:
        name = secret_name_prefix + "rotated"
        secret_backend.put(name, SecretValue("old"))
        secret_backend.put(name, SecretValue("new"))
        assert secret_backend.get(name).reveal() == b"new"
        assert secret_backend.get_many([name])[name].reveal() == b"new"

    def test_get_many_leaves_out_unknown_names(
        self, secret_backend: SecretBackend, secret_name_prefix: str
    ) -> None:
        a, b = secret_name_prefix + "many-a", secret_name_prefix + "many-b"
        secret_backend.put(a, SecretValue("va"))
        secret_backend.put(b, SecretValue("vb"))
        got = secret_backend.get_many([a, secret_name_prefix + "many-missing", b])
        assert sorted(got) == [a, b]
        assert got[a].reveal() == b"va" and got[b].reveal() == b"vb"
        assert secret_backend.get_many([]) == {}

    def test_info_names_the_active_version(
        self, secret_backend: SecretBackend, secret_name_prefix: str
    ) -> None:
        name = secret_name_prefix + "info"
        version = secret_backend.put(name, SecretValue("i"))
        info = secret_backend.info(name)
        assert info.name == name and info.active_version == version
        assert version in info.versions
        with pytest.raises(NotFoundError):
            secret_backend.info(secret_name_prefix + "info-missing")

    def test_get_unknown_name_is_not_found(
        self, secret_backend: SecretBackend, secret_name_prefix: str
    ) -> None:
        with pytest.raises(NotFoundError):
            secret_backend.get(secret_name_prefix + "missing")

    def test_list_is_sorted_and_has_no_values(
        self, secret_backend: SecretBackend, secret_name_prefix: str
    ) -> None:
        for n in ("b", "a"):
            secret_backend.put(secret_name_prefix + n, SecretValue("value-" + n))
        names = [i.name for i in secret_backend.list()]
        ours = [n for n in names if n.startswith(secret_name_prefix)]
        assert ours == sorted(ours) and len(ours) == 2
        assert "value-a" not in repr(secret_backend.list())

    def test_delete_removes_the_secret(
        self, secret_backend: SecretBackend, secret_name_prefix: str
    ) -> None:
        name = secret_name_prefix + "gone"
        secret_backend.put(name, SecretValue("x"))
        secret_backend.delete(name)
        with pytest.raises(NotFoundError):
            secret_backend.get(name)
        assert name not in [i.name for i in secret_backend.list()]

    def test_deleting_a_missing_secret_is_done_or_not_found(
        self, secret_backend: SecretBackend, secret_name_prefix: str
    ) -> None:
        # setec (and legerd with it) treats deleting what is not there as done; other stores
        # say not found. Either way nothing else changes and no other error is raised.
        secret_backend.put(secret_name_prefix + "kept", SecretValue("x"))
        with contextlib.suppress(NotFoundError):
            secret_backend.delete(secret_name_prefix + "never-there")
        assert [i.name for i in secret_backend.list()] == [secret_name_prefix + "kept"]

    def test_errors_never_contain_values(
        self, secret_backend: SecretBackend, secret_name_prefix: str
    ) -> None:
        value = "conformance-never-shown-4242"
        name = secret_name_prefix + "leak"
        secret_backend.put(name, SecretValue(value))
        try:
            secret_backend.get(name, version=9999)
        except LegerError as exc:
            assert value not in str(exc) and value not in repr(exc)
        assert value not in repr(secret_backend)


class InjectorConformance:
    """Behaviour every injector keeps. Provide an ``injector`` fixture and a
    ``delivered(service) -> dict[str, bytes] | None`` fixture that reads back what a container
    of ``service`` would receive (None when nothing is delivered)."""

    service = "conformance-svc"

    def test_is_an_injector(self, injector: Injector) -> None:
        assert isinstance(injector, Injector)

    def test_inject_delivers_every_value(
        self, injector: Injector, delivered: Callable[[str], dict[str, bytes] | None]
    ) -> None:
        result = injector.inject(
            self.service, {"OPENAI_API_KEY": SecretValue("sk-one"), "B": SecretValue("two")}
        )
        assert isinstance(result, InjectResult)
        assert delivered(self.service) == {"OPENAI_API_KEY": b"sk-one", "B": b"two"}
        assert "sk-one" not in repr(result)

    def test_inject_again_replaces_values(
        self, injector: Injector, delivered: Callable[[str], dict[str, bytes] | None]
    ) -> None:
        injector.inject(self.service, {"A": SecretValue("old")})
        injector.inject(self.service, {"A": SecretValue("new")})
        assert delivered(self.service) == {"A": b"new"}

    def test_bad_env_name_is_refused_and_changes_nothing(
        self, injector: Injector, delivered: Callable[[str], dict[str, bytes] | None]
    ) -> None:
        injector.inject(self.service, {"A": SecretValue("keep")})
        with pytest.raises(InvalidInputError):
            injector.inject(self.service, {"A": SecretValue("x"), "BAD NAME": SecretValue("y")})
        assert delivered(self.service) == {"A": b"keep"}

    def test_remove_is_idempotent(
        self, injector: Injector, delivered: Callable[[str], dict[str, bytes] | None]
    ) -> None:
        injector.inject(self.service, {"A": SecretValue("v")})
        injector.remove(self.service)
        injector.remove(self.service)
        assert not delivered(self.service)


def assert_private_file(path: Path) -> None:
    """A file holding secrets: owned by us, mode 0600."""
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert st.st_uid == os.getuid()


# Modules that cost milliseconds to import (most pull in ``re`` and ``enum``; a bare interpreter
# starts in ~12 ms here): none of them may load on the container-start path of ``leger secrets
# fetch`` or ``leger driver lookup``. See bench/bench_start.py for what that path costs.
SLOW_IMPORTS = (
    "click", "pluggy", "httpx", "podman", "importlib.metadata", "tomllib", "typing",
    "dataclasses", "hmac", "re", "enum", "json", "socket", "base64", "contextlib", "pathlib",
    "collections", "functools", "tempfile",
)  # fmt: skip


def slow_imports_probe(body: str) -> str:
    """Python source that runs ``body`` and then prints, as its last line, ``slow imports:``
    followed by the :data:`SLOW_IMPORTS` it loaded (nothing after the colon is the answer
    wanted). What the interpreter had loaded before (``site``, a ``sitecustomize``) is not
    counted: the bare interpreter's start pays for it too."""
    return (
        "import sys as _sys\n"
        "_before = set(_sys.modules)\n"
        f"{body}\n"
        f"_slow = [m for m in {SLOW_IMPORTS!r} if m in _sys.modules and m not in _before]\n"
        "print('slow imports:', *_slow)\n"
    )


def pax_header_tar(
    payload: bytes,
    files: Mapping[str, bytes],
    *,
    kind: bytes = b"x",
) -> bytes:
    """An uncompressed tar of ``files`` whose first member is preceded by an extended header
    (pax ``x``/``g`` or GNU ``L``/``K``) holding ``payload`` verbatim, however malformed.

    ``pax_header_tar(b"1" * 400_000, files)`` gzips to about 1 KB and makes an unpatched
    Python (< 3.11.10 / 3.12.6) spend minutes in ``tarfile`` (CVE-2024-6232)."""
    import io
    import tarfile

    def header(info: tarfile.TarInfo) -> bytes:
        return info.tobuf(format=tarfile.USTAR_FORMAT)

    def padded(data: bytes) -> bytes:
        return data + b"\0" * (-len(data) % tarfile.BLOCKSIZE)

    extended = tarfile.TarInfo("././@PaxHeader" if kind in (b"x", b"g") else "././@LongLink")
    extended.type = kind
    extended.size = len(payload)
    out = io.BytesIO()
    out.write(header(extended) + padded(payload))
    for name, data in files.items():
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        out.write(header(info) + padded(data))
    out.write(b"\0" * (2 * tarfile.BLOCKSIZE))
    return out.getvalue()
