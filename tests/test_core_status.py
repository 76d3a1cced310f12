"""`leger status`: every plugin's checks on one screen, exit 1 when something needs action."""

from __future__ import annotations

import json
import threading

from leger_core import hookimpl
from leger_core.status import StatusCheck


class _Store:
    def __init__(self, ok: bool) -> None:
        self.ok = ok

    @hookimpl
    def leger_status(self, leger):
        return [
            StatusCheck(
                "backend",
                "memory",
                ok=self.ok,
                summary="reachable" if self.ok else "not reachable",
                action=None if self.ok else "start the memory store",
            )
        ]


class _Broken:
    @hookimpl
    def leger_status(self, leger):
        raise RuntimeError("sk-live-do-not-show")


def test_healthy_checks_exit_zero(leger_register, leger_invoke, leger_config):
    leger_register(_Store(ok=True), name="store")
    result = leger_invoke(["status"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("config  ") and "ok" in lines[0]
    assert "backend  ok    memory: reachable" in result.output


def test_a_failing_check_shows_its_action_and_exits_one(leger_register, leger_invoke, leger_config):
    leger_register(_Store(ok=False), name="store")
    result = leger_invoke(["status"])
    assert result.exit_code == 1
    assert "backend  FAIL  memory: not reachable" in result.output
    assert "→ start the memory store" in result.output


def test_json_lists_every_check(leger_register, leger_invoke, leger_config):
    leger_register(_Store(ok=False), name="store")
    result = leger_invoke(["status", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False
    assert [(c["section"], c["ok"]) for c in report["checks"]] == [
        ("config", True),
        ("backend", False),
    ]
    assert report["checks"][1]["action"] == "start the memory store"


def test_a_plugin_that_breaks_is_one_failed_check_and_hides_nothing(
    leger_register, leger_invoke, leger_config
):
    leger_register(_Store(ok=True), name="store")
    leger_register(_Broken(), name="broken")
    result = leger_invoke(["status"])
    assert result.exit_code == 1
    assert "memory: reachable" in result.output
    assert "broken: the status check failed: RuntimeError" in result.output
    assert "sk-live-do-not-show" not in result.output  # an exception's text may hold anything


class _Waiting:
    """A check that passes only if the other two are running at the same moment."""

    def __init__(self, barrier: threading.Barrier) -> None:
        self.barrier = barrier

    @hookimpl
    def leger_status(self, leger):
        self.barrier.wait()  # BrokenBarrierError after the timeout if checks ran one by one
        return [StatusCheck("backend", "waiting", ok=True, summary="met the others")]


def test_checks_run_at_the_same_time(leger_register, leger_invoke, leger_config):
    barrier = threading.Barrier(3, timeout=5)
    for i in range(3):
        leger_register(_Waiting(barrier), name=f"waiting{i}")
    result = leger_invoke(["status"])
    assert result.exit_code == 0, result.output
    assert result.output.count("met the others") == 3


def test_a_broken_config_file_needs_action(leger_invoke, leger_config):
    leger_config.path.write_text("[services\n")
    result = leger_invoke(["status"])
    assert result.exit_code == 1
    assert "config  FAIL" in result.output


def test_works_with_nothing_installed_or_configured(run_leger):
    result = run_leger("status", env={"LEGER_LOAD_PLUGINS": ""})
    assert result.returncode == 0, result.stderr
    assert "no file: defaults" in result.stdout


class _Held:
    """A backend that holds some names (and never hands out a value to `status`)."""

    def __init__(self, names, error=None):
        self.names = names
        self.error = error

    def list(self):
        from leger_core.values import SecretInfo

        if self.error:
            raise self.error
        return [SecretInfo(n, (1,), 1) for n in self.names]

    def get_many(self, names):
        raise AssertionError("leger status must not read values")

    @hookimpl
    def leger_register_secret_backends(self, register):
        register("held", lambda leger: self)


def _services(leger_config):
    leger_config.write(
        {
            "secrets": {"backend": "held", "prefix": ""},
            "services": {
                "openwebui": {"secrets": ["openai_api_key"]},
                "litellm": {"secrets": ["openai_api_key", "anthropic_api_key"]},
            },
        }
    )


def test_each_service_says_which_secrets_are_missing(leger_register, leger_invoke, leger_config):
    _services(leger_config)
    leger_register(_Held({"openai_api_key"}), name="held")
    result = leger_invoke(["status", "--json"])
    assert result.exit_code == 1, result.output
    checks = {
        c["name"]: c for c in json.loads(result.output)["checks"] if c["section"] == "service"
    }
    assert checks["openwebui"]["ok"] is True
    assert checks["openwebui"]["summary"] == "1 secret(s) present in held"
    assert checks["litellm"]["ok"] is False
    assert checks["litellm"]["facts"]["missing"] == ["anthropic_api_key (ANTHROPIC_API_KEY, held)"]
    assert "leger secrets set" in checks["litellm"]["action"]


def test_a_backend_that_is_down_is_named_on_each_service(
    leger_register, leger_invoke, leger_config
):
    from leger_core.errors import UnavailableError

    _services(leger_config)
    down = UnavailableError("the store is not running", hint="start the store")
    leger_register(_Held(set(), error=down), name="held")
    result = leger_invoke(["status"])
    assert result.exit_code == 1
    assert "litellm: cannot check its secrets: backend 'held': the store is not running" in (
        result.output
    )
    assert "→ start the store" in result.output
