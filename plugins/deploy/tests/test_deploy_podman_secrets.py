"""The podman secrets a release names, with real podman 4.3 (runc) and a real legerd on this
machine; systemd is the stand-in ``systemctl`` (the same flows under real systemd and podman 5
are in tests/systemd/test_deploy_systemd.py).

* a secret two services share is not removed by one of them while the other still names it.
"""

from __future__ import annotations

import secrets as pysecrets

import pytest

import leger_plugin_podman.plugin
import leger_plugin_setec.plugin
from leger_core.models import SecretValue

pytestmark = pytest.mark.podman

# What examples/ names with Secret= (postgres_password in litellm and postgres alike).
NAMED = ["anthropic_api_key", "litellm_master_key", "openai_api_key", "postgres_password"]


@pytest.fixture
def podman_secrets(home, podman_env, legerd_daemon, leger_register, monkeypatch):
    """The deploy CLI with the podman strategy on a private podman API and legerd as the
    backend; ``.put(name)`` stores a value in legerd; ``.names()`` lists podman's secrets."""
    leger_register(leger_plugin_podman.plugin, name="podman")
    leger_register(leger_plugin_setec.plugin, name="setec")
    for key, value in legerd_daemon.env.items():
        monkeypatch.setenv(key, value)
    url = podman_env.service()
    (home / "leger-config.toml").write_text(
        f'[deploy]\nsecrets_strategy = "podman"\n\n[podman]\nsocket = "{url}"\n'
        '\n[secrets]\nprefix = ""\n'
    )
    assert podman_env.secret_names() == [], "a test before this one left podman secrets"

    class Secrets:
        def __init__(self) -> None:
            self.values: dict[str, str] = {}

        def put(self, *names: str) -> None:
            with legerd_daemon.client() as client:
                for name in names:
                    value = self.values[name] = f"{name}-{pysecrets.token_hex(8)}"
                    client.activate(name, client.put(name, SecretValue(value)))

        def names(self) -> list[str]:
            return podman_env.secret_names()

        def create_by_hand(self, name: str, value: bytes) -> None:
            podman_env.run(["secret", "create", name, "-"], input=value)

    yield Secrets()
    for name in podman_env.secret_names():
        podman_env.run(["secret", "rm", name])


# --- a shared secret ------------------------------------------------------------------------------


def test_a_shared_secret_is_kept_while_another_service_names_it(
    cli, repo, podman_secrets, podman_env
):
    """postgres_password is named by litellm and postgres; the podman secret is labelled with
    litellm (the first). When litellm's release drops it, `inject podman litellm` must not take
    it from postgres; once no service names it, it goes."""
    podman_secrets.put(*NAMED)
    cli("deploy", "install", str(repo.path), "--yes")
    first = podman_env.secret_inspect("postgres_password")
    assert first["Spec"]["Labels"]["leger.service"] == "litellm"  # type: ignore[index]
    text = repo.read("litellm.container").decode()
    text = text.replace("Secret=postgres_password,type=env,target=POSTGRES_PASSWORD\n", "")
    repo.commit("litellm no longer needs the database password", litellm__container=text)
    cli("update", "ai-stack", "--yes")

    inject = cli("inject", "podman", "litellm")
    assert "kept: postgres_password (named by postgres)" in inject.stdout
    assert "removed" not in inject.stdout
    assert podman_env.secret_inspect("postgres_password")["ID"] == first["ID"]
    out = podman_env.run_container(
        ["--secret", "postgres_password,type=env,target=P"], 'printf %s "$P"'
    )
    assert out.stdout.decode() == podman_secrets.values["postgres_password"]
    assert "unchanged: POSTGRES_PASSWORD" in cli("inject", "podman", "postgres").stdout

    # postgres drops it too: now litellm's inject removes the secret it made.
    text = repo.read("postgres.container").decode()
    text = text.replace("Secret=postgres_password,type=env,target=POSTGRES_PASSWORD\n", "")
    repo.commit("no password", postgres__container=text)
    cli("update", "ai-stack", "--yes")
    assert "removed: postgres_password" in cli("inject", "podman", "litellm").stdout
    assert "postgres_password" not in podman_secrets.names()
