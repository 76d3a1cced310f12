"""Which secrets a service needs, from config; identity from config."""

from __future__ import annotations

import json

import pytest

from leger_core import hookimpl
from leger_core.context import Leger
from leger_core.errors import ConfigError, NotFoundError
from leger_core.models import ServiceSecret


def _leger(pm, leger_config, data):
    leger_config.write(data)
    return Leger(pm)


def test_config_secrets_become_upper_case_env_vars_with_the_prefix(leger_pm, leger_config):
    leger = _leger(
        leger_pm,
        leger_config,
        {
            "secrets": {"prefix": "leger/u1/"},
            "services": {
                "openwebui": {
                    "secrets": ["openai_api_key"],
                    "env": {"ANTHROPIC_API_KEY": "team/anthropic"},
                }
            },
        },
    )
    assert leger.service_secrets("openwebui") == [
        ServiceSecret("ANTHROPIC_API_KEY", "team/anthropic", "config"),
        ServiceSecret("OPENAI_API_KEY", "leger/u1/openai_api_key", "config"),
    ]


def test_default_prefix_is_the_logged_in_accounts(leger_pm, leger_config, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    (tmp_path / "state/leger").mkdir(parents=True)
    (tmp_path / "state/leger/account.json").write_text(json.dumps({"user_uuid": "abc"}))
    leger = _leger(leger_pm, leger_config, {"services": {"web": {"secrets": ["k"]}}})
    assert leger.service_secrets("web")[0].secret == "leger/abc/k"


def test_unknown_service_lists_the_known_ones(leger_pm, leger_config):
    leger = _leger(leger_pm, leger_config, {"services": {"b": {}, "a": {"secrets": []}}})
    with pytest.raises(NotFoundError, match=r"unknown service 'zzz'; known: a, b"):
        leger.service_secrets("zzz")


@pytest.mark.parametrize(
    "table",
    [
        {"secrets": "not-a-list"},
        {"secrets": ["ok"], "env": {"BAD NAME": "x"}},
        {"env": {"OK": 3}},
    ],
)
def test_malformed_service_config_is_a_config_error(leger_pm, leger_config, table):
    leger = _leger(leger_pm, leger_config, {"services": {"svc": table}})
    with pytest.raises(ConfigError):
        leger.service_secrets("svc")


def test_first_answer_for_an_env_var_wins_and_plugins_merge(leger_pm, leger_config, leger_register):
    class FromRelease:
        @hookimpl
        def leger_service_secrets(self, service, config):
            if service != "web":
                return None
            return [
                ServiceSecret("OPENAI_API_KEY", "release/openai", "manifest"),
                ServiceSecret("GROQ_API_KEY", "release/groq", "manifest"),
            ]

    leger_register(FromRelease(), name="release")
    leger = _leger(leger_pm, leger_config, {"services": {"web": {"secrets": ["openai_api_key"]}}})
    got = {s.env: s for s in leger.service_secrets("web")}
    assert got["OPENAI_API_KEY"].source == "config"  # config (tryfirst) wins
    assert got["GROQ_API_KEY"].secret == "release/groq"


def test_identity_from_config(leger_pm, leger_config):
    leger = _leger(
        leger_pm,
        leger_config,
        {"identity": {"user_id": "u1", "email": "a@b.c", "tailnet": "t", "device_id": "d"}},
    )
    identity = leger.identity()
    assert identity is not None
    assert identity["user_id"] == "u1" and identity["source"] == "config"


def test_incomplete_identity_is_a_config_error(leger_pm, leger_config):
    leger = _leger(leger_pm, leger_config, {"identity": {"user_id": "u1"}})
    with pytest.raises(ConfigError, match="missing email, tailnet, device_id"):
        leger.identity()
