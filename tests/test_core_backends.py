"""Secret references, the choice of backend, and reading values through backends."""

from __future__ import annotations

import pytest

from leger_core import hookimpl
from leger_core.backends import (
    FastBackends,
    format_reference,
    parse_reference,
    plan_for,
    read_plan,
)
from leger_core.context import Leger
from leger_core.errors import ConfigError, NotFoundError, UnsupportedError, UsageError
from leger_core.models import SecretInfo, SecretValue
from leger_core.strategies import SecretBackend


@pytest.mark.parametrize(
    ("reference", "parsed"),
    [
        ("pass:ai/openai", ("pass", "ai/openai")),
        ("pass:ssh/key#whole", ("pass", "ssh/key#whole")),
        ("my-vault_2:x", ("my-vault_2", "x")),
        ("setec:a:b", ("setec", "a:b")),
        ("leger/u1/openai", (None, "leger/u1/openai")),
        ("team/a:b", (None, "team/a:b")),  # a '/' before the ':': not a backend name
        ("Pass:x", (None, "Pass:x")),  # backend names are lowercase
        ("1pass:x", (None, "1pass:x")),
        ("pass:", (None, "pass:")),  # nothing after the ':'
        ("x" * 33 + ":y", (None, "x" * 33 + ":y")),  # longer than a backend name may be
    ],
)
def test_reference_syntax(reference, parsed):
    assert parse_reference(reference) == parsed


def test_format_then_parse_round_trips():
    assert parse_reference(format_reference("pass", "a:b/c")) == ("pass", "a:b/c")


def test_plan_fills_in_the_default_backend_only_where_none_is_named():
    plan = plan_for([("A", "team/a"), ("B", "pass:ai/b")], "setec")
    assert plan == [("A", "setec", "team/a"), ("B", "pass", "ai/b")]


class Recording:
    """A backend that counts get_many calls (the one-round-trip promise)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.calls: list[list[str]] = []

    def get_many(self, names):
        self.calls.append(list(names))
        return {n: SecretValue(self.values[n]) for n in names if n in self.values}


def test_read_plan_asks_each_backend_once_for_all_its_names():
    a, b = Recording({"x": "1", "y": "2"}), Recording({"z": "3"})
    plan = [("X", "a", "x"), ("Y", "a", "y"), ("Z", "b", "z"), ("X2", "a", "x")]
    values = read_plan(plan, {"a": a, "b": b}.__getitem__)
    assert {k: v.reveal() for k, v in values.items()} == {
        "X": b"1",
        "Y": b"2",
        "Z": b"3",
        "X2": b"1",
    }
    assert a.calls == [["x", "y"]] and b.calls == [["z"]]


def test_read_plan_names_a_missing_secret_and_its_backend():
    with pytest.raises(NotFoundError, match=r"'gone' \(K\) not found in backend 'a'"):
        read_plan([("K", "a", "gone")], lambda name: Recording({}))


class MemoryBackend:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = {k: SecretValue(v) for k, v in values.items()}
        self.closed = False

    def get(self, name, version=0):
        if name not in self.values:
            raise NotFoundError(f"secret {name!r} not found")
        return self.values[name]

    def get_many(self, names):
        return {n: self.values[n] for n in names if n in self.values}

    def put(self, name, value):
        raise UnsupportedError("read-only")

    def info(self, name):
        self.get(name)
        return SecretInfo(name, (1,), 1)

    def list(self):
        return [SecretInfo(n, (1,), 1) for n in sorted(self.values)]

    def delete(self, name):
        raise UnsupportedError("read-only")

    def close(self):
        self.closed = True


OPENED: list[MemoryBackend] = []


class TwoBackends:
    @hookimpl
    def leger_register_secret_backends(self, register):
        def make(values):
            def factory(leger):
                backend = MemoryBackend(values)
                OPENED.append(backend)
                return backend

            return factory

        register("setec", make({"team/a": "from-setec"}))
        register("vault", make({"team/a": "from-vault", "v/only": "vault-only"}))

    @hookimpl
    def leger_register_fast_backends(self, register):
        register("vault", "tests.test_core_backends:open_fast", ["vault.url"])


def open_fast(config):
    return MemoryBackend({"k": config.get("vault.url")})


@pytest.fixture
def leger(leger_pm, leger_register, leger_config):
    leger_register(TwoBackends(), name="two-backends")
    OPENED.clear()

    def make(data):
        leger_config.write(data)
        return Leger(leger_pm)

    return make


def test_backend_choice_option_then_service_then_global_then_setec(leger):
    services = {"s": {"env": {"A": "team/a"}}, "t": {"backend": "vault", "env": {"A": "team/a"}}}
    assert leger({"services": services}).backend_name("s") == "setec"
    lg = leger({"secrets": {"backend": "vault"}, "services": services})
    assert lg.backend_name("s") == "vault"
    lg = leger({"services": services})
    assert lg.backend_name("t") == "vault"
    assert lg.backend_name("t", override="setec") == "setec"
    assert lg.read_values(lg.secret_plan("s"))["A"].reveal() == b"from-setec"
    assert lg.read_values(lg.secret_plan("t"))["A"].reveal() == b"from-vault"
    assert lg.read_values(lg.secret_plan("s", "vault"))["A"].reveal() == b"from-vault"
    assert OPENED and all(b.closed for b in OPENED)  # every backend opened was closed


def test_a_reference_naming_its_backend_wins_over_every_default(leger):
    lg = leger({"services": {"s": {"backend": "setec", "env": {"A": "vault:v/only"}}}})
    assert lg.secret_plan("s", "setec") == [("A", "vault", "v/only")]
    assert lg.read_values(lg.secret_plan("s"))["A"].reveal() == b"vault-only"


def test_config_secrets_list_may_name_a_backend_without_the_account_prefix(leger):
    lg = leger({"secrets": {"prefix": "leger/u/"}, "services": {"s": {"secrets": ["vault:k-1"]}}})
    assert lg.secret_plan("s") == [("K_1", "vault", "k-1")]


def test_unknown_or_malformed_backend_is_an_error_before_anything_is_read(leger):
    lg = leger({"services": {"s": {"env": {"A": "nosuch:x"}}}})
    known = r"unknown secret backend 'nosuch'; known: setec, vault"
    with pytest.raises(NotFoundError, match=known):
        lg.secret_plan("s")
    lg = leger({"secrets": {"backend": "Not A Name"}, "services": {"s": {"env": {"A": "x"}}}})
    with pytest.raises(ConfigError, match=r"secrets\.backend"):
        lg.secret_plan("s")
    with pytest.raises(UsageError, match="--backend"):
        lg.secret_plan("s", "../x")
    assert OPENED == []


def test_a_read_only_backend_says_so_with_a_usage_exit_code(leger):
    backend = leger({}).secret_backend("vault")
    assert isinstance(backend, SecretBackend)
    with pytest.raises(UnsupportedError) as info:
        backend.put("x", SecretValue("v"))
    assert isinstance(info.value, UsageError) and info.value.exit_code == 2


def test_fast_backend_settings_record_target_and_config_then_open_without_plugins(leger):
    lg = leger({"vault": {"url": "https://vault.invalid"}})
    settings = lg.fast_backend_settings()
    assert settings == {
        "vault": {
            "target": "tests.test_core_backends:open_fast",
            "config": {"vault.url": "https://vault.invalid"},
        }
    }
    fast = FastBackends(settings)
    assert fast.available(["vault"]) and not fast.available(["vault", "setec"])
    backend = fast.open("vault")
    assert backend.get("k").reveal() == b"https://vault.invalid"
    assert fast.open("vault") is backend  # opened once
    fast.close()
    assert backend.closed
