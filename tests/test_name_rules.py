"""The name rules of leger_core.names, held by every strategy alike.

The same service names and secret names go to each strategy's real entry point that checks
them (envfile's fetch, the podman and driver injectors, the driver's stored reference, the
initscript renderer, the config's service tables and the core's secret plan): every one accepts
and refuses the same set, with the same message naming the rule, and a refusal changes nothing.
A guard keeps plugins from growing a rule of their own again.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

from leger_core.backends import plan_for
from leger_core.builtins.config_services import leger_service_secrets
from leger_core.config import Config
from leger_core.errors import ConfigError, InvalidInputError, UnavailableError
from leger_core.names import (
    PODMAN_SECRET_RULE,
    SECRET_RULE,
    SERVICE_RULE,
    check_podman_secret_name,
    check_secret_name,
    check_service,
)
from leger_core.values import SecretValue
from leger_plugin_envfile.fetch import fetch
from leger_plugin_initscript.injector import write_script
from leger_plugin_podman.driver import REFERENCE, reference, store
from leger_plugin_podman.injectors import DriverInjector, PodmanInjector

ROOT = Path(__file__).resolve().parents[1]

# Accepted by every strategy (and short enough that the podman names made from them fit).
GOOD_SERVICES = ["web", "open-webui", "web.1", "Web_2", "a", "9lives", "s" * 52]
# Refused by every strategy.
BAD_SERVICES = [
    "",
    "-web",
    ".web",
    "@web",
    "web app",
    "web/x",
    "../etc",
    "web:1",
    "wéb",
    "web\n",
    "web$(id)",
    "web;rm",
    "a" * 129,
]
# Leger service names whose podman secret names podman would refuse: '@' (a systemd template
# instance), a leading '_', or too long for "SERVICE_env" / "leger-token-SERVICE" (64): name →
# (refused by the podman and driver injectors, refused by the init script's token name).
PODMAN_REFUSES = {
    "web@1": (True, True),
    "_web": (True, False),  # web_foo must not start with '_'; leger-token-_web is fine
    "w" * 53: (False, True),  # w…_foo has 57 characters, leger-token-w… 65
    "w" * 61: (True, True),
    "w" * 128: (True, True),
}

GOOD_SECRETS = [
    "team/key",
    "openai_api_key",
    "/leading/slash",
    "leger/u1/openai",
    "a@b:c+d=e",
    "-dash",
    ".dot",
    "k" * 256,
]
BAD_SECRETS = [
    "team key",
    "a\nb",
    "a\tb",
    'a"b',
    "a'b",
    "a$b",
    "a;b",
    "a\\b",
    "a,b",
    "clé",
    "k" * 257,
    "a#",
    "a#b#c",
]


def _error(call: Callable[[], object]) -> str | None:
    """The message of the name error ``call`` raises; None when the names got through."""
    try:
        call()
    except (InvalidInputError, ConfigError) as exc:
        return exc.message
    except UnavailableError:
        return None  # past the checks, at podman's (absent) socket
    return None


def _absent_podman(tmp_path: Path) -> str:
    # No podman listens here: getting as far as asking it means the names were accepted, and a
    # refusal (InvalidInputError) proves podman was never asked.
    return f"unix://{tmp_path}/no-podman.sock"


def _config(service: str, table: dict[str, object]) -> Config:
    return Config(Path("config.toml"), {"services": {service: table}})


# --- service names --------------------------------------------------------------------------


def service_entry_points(tmp_path: Path) -> dict[str, Callable[[str], str | None]]:
    url = _absent_podman(tmp_path)
    value = {"FOO": SecretValue(b"v")}

    def envfile(service: str) -> str | None:
        out = tmp_path / "env" / "out.env"
        out.parent.mkdir(exist_ok=True)
        read_calls: list[object] = []

        def read(plan: object) -> dict[str, SecretValue]:
            read_calls.append(plan)
            return value

        message = _error(lambda: fetch(service, [("FOO", "setec", "k")], read, str(out)))
        if message is not None:
            assert not read_calls and not out.exists(), "a refused service read or wrote"
        else:
            assert out.read_bytes().endswith(b"FOO=v\n")
            out.unlink()
        return message

    def initscript(service: str) -> str | None:
        path = tmp_path / "init" / "s.sh"
        message = _error(lambda: write_script(service, [("FOO", "k")], path))
        assert (message is None) == path.exists()
        if path.exists():
            path.unlink()
        return message

    return {
        "envfile fetch": envfile,
        "podman inject": lambda s: _error(lambda: PodmanInjector(url=url).inject(s, value)),
        "driver inject": lambda s: _error(
            lambda: DriverInjector(url=url).inject_refs(s, {"FOO": "team/key"})
        ),
        "initscript render": initscript,
        "config services": lambda s: _error(
            lambda: leger_service_secrets(service=s, config=_config(s, {"env": {"FOO": "k"}}))
        ),
    }


STRATEGIES = ["envfile fetch", "podman inject", "driver inject", "initscript render"]


@pytest.mark.parametrize("service", GOOD_SERVICES + BAD_SERVICES, ids=repr)
def test_every_strategy_accepts_and_refuses_the_same_service_names(service, tmp_path):
    expected = None if service in GOOD_SERVICES else check_message(check_service, service)
    assert expected is None or SERVICE_RULE in expected
    for name, attempt in service_entry_points(tmp_path).items():
        got = attempt(service)
        if expected is None:
            assert got is None, f"{name} refused {service!r}: {got}"
        else:
            assert got is not None, f"{name} accepted {service!r}"
            assert got.endswith(expected), f"{name}: {got!r}"


@pytest.mark.parametrize("service", PODMAN_REFUSES, ids=lambda s: s[:12])
def test_a_service_whose_podman_names_podman_refuses_is_refused_where_podman_names_are_made(
    service, tmp_path
):
    check_service(service)  # a Leger service name: envfile and the config take it
    points = service_entry_points(tmp_path)
    assert points["envfile fetch"](service) is None
    assert points["config services"](service) is None
    by_podman, by_initscript = PODMAN_REFUSES[service]
    for name, refused in (
        ("podman inject", by_podman),
        ("driver inject", by_podman),
        ("initscript render", by_initscript),
    ):
        got = points[name](service)
        if not refused:
            assert got is None, f"{name} refused {service!r}: {got}"
            continue
        assert got is not None, f"{name} accepted {service!r}"
        assert "podman would refuse the secret name" in got and PODMAN_SECRET_RULE in got, got


def test_a_refused_derived_name_says_how_to_name_it_instead(tmp_path):
    injector = PodmanInjector(url=_absent_podman(tmp_path))
    with pytest.raises(InvalidInputError) as raised:
        injector.inject("web@1", {"OPENAI_API_KEY": SecretValue(b"v")})
    assert "'web@1_openai_api_key' (made from service 'web@1' and OPENAI_API_KEY)" in str(
        raised.value
    )
    assert "Secret=NAME,type=env,target=OPENAI_API_KEY" in (raised.value.hint or "")


# --- secret names ---------------------------------------------------------------------------


def secret_entry_points(tmp_path: Path) -> dict[str, Callable[[str], str | None]]:
    url = _absent_podman(tmp_path)

    def envfile(name: str) -> str | None:
        out = tmp_path / "env" / "out.env"
        out.parent.mkdir(exist_ok=True)
        read_calls: list[object] = []

        def read(plan: object) -> dict[str, SecretValue]:
            read_calls.append(plan)
            return {"FOO": SecretValue(b"v")}

        message = _error(lambda: fetch("web", [("FOO", "setec", name)], read, str(out)))
        assert (message is None) == bool(read_calls) == out.exists()
        if out.exists():
            out.unlink()
        return message

    def initscript(name: str) -> str | None:
        path = tmp_path / "init" / "s.sh"
        message = _error(lambda: write_script("web", [("FOO", name)], path))
        assert (message is None) == path.exists()
        if path.exists():
            path.unlink()
        return message

    class Kept:
        """A backend that records what the driver would keep (nothing, on a refusal)."""

        def __init__(self) -> None:
            self.puts: list[str] = []

        def put(self, name: str, value: SecretValue) -> int:
            self.puts.append(name)
            return 1

    def driver_store(name: str) -> str | None:
        kept = Kept()
        message = _error(lambda: store(kept, "a" * 25, REFERENCE + name.encode()))
        assert (message is None) == bool(kept.puts)
        return message

    return {
        "core secret plan (podman, driver, initscript, sync)": lambda n: _error(
            lambda: plan_for([("FOO", n)], "setec")
        ),
        "envfile fetch": envfile,
        "driver inject": lambda n: _error(
            lambda: DriverInjector(url=url).inject_refs("web", {"FOO": n})
        ),
        "driver store": driver_store,
        "driver lookup": lambda n: _error(lambda: reference(REFERENCE + n.encode())),
        "initscript render": initscript,
        "config services env": lambda n: _error(
            lambda: leger_service_secrets(service="web", config=_config("web", {"env": {"FOO": n}}))
        ),
        "config services env, with a backend": lambda n: _error(
            lambda: leger_service_secrets(
                service="web", config=_config("web", {"env": {"FOO": f"pass:{n}"}})
            )
        ),
    }


@pytest.mark.parametrize("secret", GOOD_SECRETS + BAD_SECRETS, ids=lambda s: repr(s[:20]))
def test_every_strategy_accepts_and_refuses_the_same_secret_names(secret, tmp_path):
    for name, attempt in secret_entry_points(tmp_path).items():
        got = attempt(secret)
        if secret in GOOD_SECRETS:
            assert got is None, f"{name} refused {secret!r}: {got}"
        else:
            assert got is not None, f"{name} accepted {secret!r}"
            assert f"a secret name is {SECRET_RULE}" in got, f"{name}: {got!r}"


def test_a_backend_option_is_taken_by_every_strategy_but_the_initscript(tmp_path):
    """pass's NAME#whole: an option of the backend; the init script speaks only to legerd."""
    points = secret_entry_points(tmp_path)
    initscript = points.pop("initscript render")
    for name, attempt in points.items():
        assert attempt("ssh/deploy#whole") is None, name
    assert SECRET_RULE in (initscript("ssh/deploy#whole") or "")


def check_message(check: Callable[[str], object], text: str) -> str:
    try:
        check(text)
    except InvalidInputError as exc:
        return exc.message
    raise AssertionError(f"{text!r} was accepted")


def test_the_messages_name_the_rule():
    assert check_message(check_service, "a b") == (
        "invalid service name 'a b': a service name is 1 to 128 letters, digits, '_', '.', "
        "'@' and '-', the first a letter, digit or '_'"
    )
    assert check_message(lambda n: check_secret_name(n, "FOO"), "a b").startswith(
        "FOO: invalid secret name 'a b': a secret name is 1 to 256 letters, digits and "
        "_ . @ : + = / -"
    )
    assert PODMAN_SECRET_RULE in check_message(check_podman_secret_name, "a@b")


# --- no plugin keeps a rule of its own -------------------------------------------------------

RULE_WORDS = ("SERVICE_NAME", "SECRET_NAME")


def _rule_definitions(path: Path) -> list[str]:
    """Names assigned at module level (or in a class) that look like a service or secret
    name rule, e.g. ``SERVICE_NAME = re.compile(...)`` or ``_SECRET_NAME = NameRule(...)``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name) and any(w in target.id.upper() for w in RULE_WORDS):
                where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                found.append(f"{where}:{node.lineno}: {target.id}")
    return found


def test_no_plugin_defines_its_own_service_or_secret_name_rule():
    modules = [
        p
        for p in (ROOT / "plugins").glob("*/leger_plugin_*/**/*.py")
        if "build" not in p.relative_to(ROOT).parts
    ]
    assert len(modules) > 20  # the glob found the plugins
    offenders = [d for p in modules for d in _rule_definitions(p)]
    assert offenders == [], "use leger_core.names instead:\n" + "\n".join(offenders)


def test_the_guard_sees_a_rule_defined_in_a_plugin(tmp_path):
    """The guard itself can fail: a module defining its own rule is found."""
    module = ROOT / "plugins" / "envfile" / "leger_plugin_envfile" / "fetch.py"
    copy = tmp_path / "copy.py"
    copy.write_text(module.read_text() + '\n_SERVICE_NAME = re.compile(r"[a-z]+")\n')
    assert [d.rsplit(": ", 1)[1] for d in _rule_definitions(copy)] == ["_SERVICE_NAME"]
