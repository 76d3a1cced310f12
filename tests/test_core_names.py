"""Each NameRule on the container-start path must accept exactly what its regular expression
(the rule it replaced, and the one legerd or podman applies) accepts."""

from __future__ import annotations

import json
import random
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from leger_core.names import (
    ACCOUNT_SECRET_NAME,
    BACKEND_NAME,
    ENV_NAME,
    PODMAN_SECRET_NAME,
    SECRET_NAME,
    SECRET_OPTION,
    SERVICE_NAME,
    NameRule,
)
from leger_plugin_podman.driver import SECRET_ID

RULES = [
    (SERVICE_NAME, r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,127}", 128),
    (ENV_NAME, r"[A-Za-z_][A-Za-z0-9_]*", 300),
    (SECRET_ID, r"[A-Za-z0-9]{1,64}", 64),
    (SECRET_NAME, r"[A-Za-z0-9_.@:+=/-]{1,256}", 256),
    (SECRET_OPTION, r"[A-Za-z0-9][A-Za-z0-9_.,=-]{0,63}", 64),
    # podman 4.3's rule as tried (a trailing '_' is accepted, a trailing '.' or '-' is not);
    # podman 5.4 accepts all of these (1-253 characters without '=', '/', ',' or NUL).
    (PODMAN_SECRET_NAME, r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?", 64),
    (ACCOUNT_SECRET_NAME, r"[A-Za-z0-9_.-]{1,128}", 128),
    (BACKEND_NAME, r"[a-z][a-z0-9_-]{0,31}", 32),
]
# Letters, digits, every punctuation the rules name and some they do not, and non-ASCII
# letters and digits (str.isalnum() would take those; the rules must not).
ALPHABET = "aZ09_.@:+=/-- \t\n$;'\"\\*é٣ＡßK#,"


@pytest.mark.parametrize(("rule", "pattern", "longest"), RULES, ids=lambda r: str(r)[:20])
def test_rule_accepts_exactly_what_its_pattern_accepts(rule, pattern, longest):
    compiled = re.compile(pattern)
    rng = random.Random(pattern)
    samples = ["", "a", "_", "-", "9", ".x", "a" * longest, "a" * (longest + 1), "a_", "a.", "a-"]
    for _ in range(4000):
        length = rng.choice([1, 2, 3, 5, 8, longest - 1, longest, longest + 1])
        samples.append("".join(rng.choice(ALPHABET) for _ in range(max(length, 0))))
    for text in samples:
        assert rule.fullmatch(text) == bool(compiled.fullmatch(text)), (pattern, text)


def test_every_strategy_uses_the_one_env_name_rule():
    """envfile, podman, initscript and the config's service tables once had a copy each."""
    from leger_core.builtins import config_services
    from leger_plugin_envfile import envformat
    from leger_plugin_initscript import render
    from leger_plugin_podman import injectors

    for module in (config_services, envformat, render, injectors):
        assert module.ENV_NAME is ENV_NAME, module.__name__


def test_unbounded_rule_has_no_length_limit():
    rule = NameRule("a", "ab")
    assert rule.fullmatch("a" + "b" * 10_000)
    assert not rule.fullmatch("b")


# --- every name rule refuses a trailing newline ------------------------------------------------
# ``re.match(r"^...$")`` accepts "name\n" ($ matches before a final newline): the server stored a
# secret called "nl\n" (issue 11). Each rule is called through the code that applies it, with a
# name it accepts; the same name plus "\n" must be refused.


def _raises(check: Callable[[str], object], *errors: type[Exception]) -> Callable[[str], bool]:
    """``refused(text)``: True when ``check(text)`` raises one of ``errors``."""

    def refused(text: str) -> bool:
        try:
            check(text)
        except errors:
            return True
        return False

    return refused


def _name_rules() -> list[tuple[str, Callable[[str], bool], str]]:
    from leger_core.builtins.config_services import leger_service_secrets
    from leger_core.config import Config, _split_key
    from leger_core.errors import ConfigError, InvalidInputError, NotFoundError
    from leger_core.names import check_service
    from leger_plugin_deploy.deployer import detect_source
    from leger_plugin_deploy.manifest import ReleaseRefused, parse_manifest
    from leger_plugin_deploy.quadlet import validate_quadlet
    from leger_plugin_deploy.release import classify
    from leger_plugin_deploy.sources.git import _ref
    from leger_plugin_deploy.state import check_name as deployment_name
    from leger_plugin_envfile.envformat import render as render_env_file
    from leger_plugin_initscript.render import check as check_initscript
    from leger_plugin_podman.driver import reference, secret_id
    from leger_plugin_podman.injectors import PodmanInjector
    from leger_server.blobs import _check_key
    from leger_server.bundles import BundleRejected, validate_manifest
    from leger_server.errors import InvalidInput
    from leger_server.identity import IdentityClaim
    from leger_server.release_store import ReleaseStore, check_git_url
    from leger_server.secret_store import check_name as secret_name
    from legerd.errors import BadRequest, StateError
    from legerd.store import check_name as legerd_secret_name
    from legerd.tokens import add_token

    def legerd_token(name: str) -> object:
        with tempfile.TemporaryDirectory() as state:
            return add_token(Path(state), name)

    def services(table: dict[str, object]) -> object:
        config = Config(Path("config.toml"), {"services": {"web": table}})
        return leger_service_secrets(service="web", config=config)

    def manifest(raw: dict[str, object]) -> object:
        return parse_manifest(json.dumps(raw).encode(), require_checksums=False)

    def server_manifest(name: str, digest: str) -> object:
        files = [{"path": "a.container", "sha256": digest, "size": 1}]
        raw = json.dumps({"deployment_name": name, "files": files}).encode()
        return validate_manifest(raw, {"a.container": (digest, 1)})

    def server_release(body: dict[str, str]) -> object:
        # Names are checked before the database is touched: a store without one will do.
        store = ReleaseStore.__new__(ReleaseStore)
        try:
            return store.create_git("u", {"git_url": "https://example.com/r.git", **body})
        except AttributeError:
            return None  # got past the checks to the (absent) database: accepted

    def podman_injector(service: str, env: str = "FOO") -> object:
        injector = PodmanInjector.__new__(PodmanInjector)
        return injector._checked(service, {env: "s"})

    sha = "0" * 64
    claim = {f: "x" for f in ("device_id", "user_id", "email", "tailnet", "hostname")}
    return [
        ("core config key", _raises(_split_key, InvalidInputError), "secrets"),
        (
            "core services env",
            _raises(lambda n: services({"env": {n: "s"}}), ConfigError),
            "OPENAI_API_KEY",
        ),
        (
            "core services secret",
            _raises(lambda n: services({"secrets": [n]}), ConfigError),
            "OPENAI_API_KEY",
        ),
        (
            "deploy release name",
            lambda n: _raises(detect_source, NotFoundError)(n) or detect_source(n)[0] != "bundle",
            "openwebui",
        ),
        ("deploy deployment name", _raises(deployment_name, InvalidInputError), "openwebui"),
        ("deploy git branch", _raises(_ref, InvalidInputError), "main"),
        (
            "deploy manifest secret",
            _raises(lambda n: manifest({"secrets_required": [n]}), ReleaseRefused),
            "openai_api_key",
        ),
        (
            "deploy manifest sha256",
            _raises(lambda d: manifest({"files": [{"path": "a", "sha256": d}]}), ReleaseRefused),
            sha,
        ),
        (
            "deploy quadlet unit name",
            lambda n: any(
                "unit name" in p.message
                for p in validate_quadlet(b"[Container]\nImage=x\n", f"{n}.container")[1]
            ),
            "openwebui",
        ),
        ("deploy doc file name", lambda n: classify(n) != "ignored", "README"),
        ("envfile service", _raises(check_service, InvalidInputError), "web"),
        (
            "envfile env name",
            _raises(lambda e: render_env_file([(e, "s", b"v")]), InvalidInputError),
            "FOO",
        ),
        (
            "podman secret id",
            _raises(lambda i: secret_id({"SECRET_ID": i}), InvalidInputError),
            "a" * 25,
        ),
        (
            "podman secret reference",
            _raises(lambda n: reference(b"leger:" + n.encode()), InvalidInputError),
            "team/key",
        ),
        ("podman injector service", _raises(podman_injector, InvalidInputError), "web"),
        (
            "podman injector env",
            _raises(lambda e: podman_injector("web", e), InvalidInputError),
            "FOO",
        ),
        (
            "initscript service",
            _raises(lambda s: check_initscript(s, [("FOO", "k")]), InvalidInputError),
            "web",
        ),
        (
            "initscript env",
            _raises(lambda e: check_initscript("web", [(e, "k")]), InvalidInputError),
            "FOO",
        ),
        (
            "initscript secret",
            _raises(lambda k: check_initscript("web", [("FOO", k)]), InvalidInputError),
            "team/key",
        ),
        ("server secret name", _raises(secret_name, InvalidInput), "nl"),
        ("legerd secret name", _raises(legerd_secret_name, BadRequest), "team/openai key"),
        ("legerd token name", _raises(legerd_token, StateError), "laptop"),
        ("server blob key", _raises(_check_key, ValueError), "bundles/u/1.tar.gz"),
        (
            "server bundle name",
            _raises(lambda n: server_manifest(n, sha), BundleRejected),
            "openwebui",
        ),
        (
            "server bundle sha256",
            _raises(lambda d: server_manifest("x", d), BundleRejected),
            sha,
        ),
        (
            "server identity field",
            _raises(lambda v: IdentityClaim.parse({**claim, "user_id": v}), InvalidInput),
            "u1",
        ),
        ("server git ssh url", _raises(check_git_url, InvalidInput), "git@example.com:a/b.git"),
        (
            "server release name",
            _raises(lambda n: server_release({"name": n}), InvalidInput),
            "openwebui",
        ),
        (
            "server git branch",
            _raises(lambda b: server_release({"name": "x", "git_branch": b}), InvalidInput),
            "main",
        ),
    ]


@pytest.mark.parametrize(
    ("rule", "refused", "good"), [pytest.param(*rule, id=rule[0]) for rule in _name_rules()]
)
def test_name_rule_refuses_a_trailing_newline(rule, refused, good):
    assert not refused(good), f"{rule}: {good!r} should be accepted"
    assert refused(good + "\n"), f"{rule}: {good + chr(10)!r} was accepted"
