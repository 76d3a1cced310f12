"""``leger secrets sync --podman`` with real podman: the account's key reaches a container."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.podman


def test_sync_podman_refreshes_the_services_podman_secrets(
    logged_in, leger_cli, legerd_daemon, podman_env
):
    from leger_plugin_podman.injectors import podman_secret_name

    config = leger_cli.env["LEGER_CONFIG"]
    with open(config, "a") as fh:
        fh.write(
            '\n[services.cloudsvc]\nsecrets = ["openai_api_key"]\n'
            f'\n[podman]\nsocket = "{podman_env.service()}"\n'
        )
    env = {
        **legerd_daemon.env,
        "CONTAINERS_CONF": podman_env.env["CONTAINERS_CONF"],
        "CONTAINERS_STORAGE_CONF": podman_env.env["CONTAINERS_STORAGE_CONF"],
    }
    name = podman_secret_name("cloudsvc", "OPENAI_API_KEY")
    try:
        leger_cli("secrets", "set", "openai_api_key", input="sk-cloud-1")
        out = leger_cli("secrets", "sync", "--podman", env=env).stdout
        assert "podman   cloudsvc: OPENAI_API_KEY" in out
        run = podman_env.run_container(
            ["--secret", f"{name},type=env,target=K"], 'printf "[%s]" "$K"'
        )
        assert run.stdout == b"[sk-cloud-1]"

        def secret_id() -> bytes:
            return podman_env.run(["secret", "inspect", "--format", "{{.ID}}", name]).stdout

        first_id = secret_id()
        leger_cli("secrets", "sync", "--podman", env=env)  # nothing changed in the account
        assert secret_id() == first_id  # the podman secret was left alone

        leger_cli("secrets", "set", "openai_api_key", input="sk-cloud-2")
        leger_cli("secrets", "sync", "--podman", env=env)
        run = podman_env.run_container(
            ["--secret", f"{name},type=env,target=K"], 'printf "[%s]" "$K"'
        )
        assert run.stdout == b"[sk-cloud-2]"
        assert secret_id() != first_id  # changed: removed and created again (no --replace)
    finally:
        podman_env.run(["secret", "rm", name], check=False)
