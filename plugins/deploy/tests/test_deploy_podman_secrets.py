"""The podman secrets a release names, with real podman 4.3 (runc) and a real legerd on this
machine; systemd is the stand-in ``systemctl`` (the same flows under real systemd and podman 5
are in tests/systemd/test_deploy_systemd.py).

* ``--dry-run`` (text and ``--json``) lists the secrets a real change would create or refuse
  for, and changes nothing;
* a change that fails and is rolled back removes the podman secrets it created, and only those;
* a secret two services share is not removed by one of them while the other still names it.
"""

from __future__ import annotations

import json
import secrets as pysecrets
import subprocess
from pathlib import Path

import pytest

import leger_plugin_podman.plugin
import leger_plugin_setec.plugin
from leger_core.models import SecretValue
from leger_plugin_deploy.authoring import refresh_manifest_file

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


def _release(path: Path, files: dict[str, str]) -> str:
    """A git repository holding ``files`` (and its manifest.json) at ``path``."""
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text)
    refresh_manifest_file(path)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "release"]):
        subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True)
    return str(path)


# --- dry run ------------------------------------------------------------------------------------


def test_dry_run_lists_the_secrets_a_real_install_would_refuse_and_changes_nothing(
    cli, repo, podman_secrets, machine, systemctl
):
    podman_secrets.put("openai_api_key", "litellm_master_key")
    podman_secrets.create_by_hand("postgres_password", b"made by hand")
    before = machine(), podman_secrets.names()

    dry = cli("deploy", "install", str(repo.path), "--dry-run", expect=3)
    assert (
        "podman secrets (podman strategy): there: postgres_password; would create: "
        "litellm_master_key, openai_api_key; MISSING: anthropic_api_key"
    ) in dry.stdout
    assert "Dry run: nothing was changed." in dry.stdout
    assert "anthropic_api_key (Secret= of litellm, env ANTHROPIC_API_KEY)" in dry.stderr

    as_json = cli("deploy", "install", str(repo.path), "--dry-run", "--json", expect=3)
    (row,) = json.loads(as_json.stdout)
    assert row["name"] == "ai-stack" and row["action"] == "install"
    assert {"litellm.service", "postgres.service"} <= set(row["start"])
    assert row["secrets"] == {
        "strategy": "podman",
        "present": ["postgres_password"],
        "create": ["litellm_master_key", "openai_api_key"],
        "missing": [
            {
                "name": "anthropic_api_key",
                "service": "litellm",
                "env": "ANTHROPIC_API_KEY",
                "reference": "anthropic_api_key",
                "backend": "setec",
            }
        ],
    }
    assert (machine(), podman_secrets.names()) == before
    assert systemctl.calls() == []

    # Exactly what the real install refuses for.
    real = cli("deploy", "install", str(repo.path), "--yes", expect=3)
    refused = [line.split()[0] for line in real.stderr.splitlines() if "(Secret= of" in line]
    assert refused == [m["name"] for m in row["secrets"]["missing"]]
    assert (machine(), podman_secrets.names()) == before

    # With every value there, the dry run says what it would create, and still creates nothing.
    podman_secrets.put("anthropic_api_key")
    dry = cli("deploy", "install", str(repo.path), "--dry-run")
    assert "would create: anthropic_api_key, litellm_master_key, openai_api_key" in dry.stdout
    assert "MISSING" not in dry.stdout
    (row,) = json.loads(cli("deploy", "install", str(repo.path), "--dry-run", "--json").stdout)
    assert row["secrets"]["missing"] == []
    assert (machine(), podman_secrets.names()) == before
    for value in podman_secrets.values.values():
        assert value not in dry.output + as_json.output


def test_update_dry_run_lists_a_new_missing_secret(cli, repo, podman_secrets, machine):
    podman_secrets.put(*NAMED)
    cli("deploy", "install", str(repo.path), "--yes")
    text = repo.read("litellm.container").decode()
    text = text.replace("[Container]\n", "[Container]\nSecret=groq_api_key,type=env,target=GROQ\n")
    repo.commit("groq", litellm__container=text)
    before = machine(), podman_secrets.names()

    dry = cli("update", "ai-stack", "--dry-run", expect=3)
    assert "MISSING: groq_api_key" in dry.stdout
    assert "there: anthropic_api_key, litellm_master_key, openai_api_key, postgres_password" in (
        dry.stdout
    )
    assert "groq_api_key (Secret= of litellm, env GROQ)" in dry.stderr
    rows = json.loads(cli("update", "--dry-run", "--json", expect=3).stdout)
    assert [(r["name"], r["action"], r["changes"]["changed"]) for r in rows] == [
        ("ai-stack", "update", ["litellm.container"])
    ]
    assert [m["name"] for m in rows[0]["secrets"]["missing"]] == ["groq_api_key"]
    assert (machine(), podman_secrets.names()) == before


def test_json_without_dry_run_is_refused_and_changes_nothing(cli, repo, machine, systemctl):
    before = machine()
    for args in (["deploy", "install", str(repo.path)], ["update"], ["deploy", "rollback", "x"]):
        result = cli(*args, "--json", "--yes", expect=2)
        assert "--json goes with --dry-run" in result.output
    assert machine() == before and systemctl.calls() == []


# --- a failed change removes what it created ------------------------------------------------------


def test_a_failed_install_removes_the_podman_secrets_it_created_and_only_those(
    cli, repo, podman_secrets, machine, systemctl
):
    podman_secrets.put(*NAMED)
    podman_secrets.create_by_hand("postgres_password", b"made by hand")
    systemctl.fail("is-active litellm.service")
    failed = cli("deploy", "install", str(repo.path), "--yes", expect=1)
    assert "Rolled back" in failed.stderr
    assert (
        "Removed the podman secrets it had created: anthropic_api_key, litellm_master_key, "
        "openai_api_key"
    ) in failed.stderr
    # The one that was there before stays.
    assert podman_secrets.names() == ["postgres_password"]
    assert [path for path, data in machine().items() if data is not None] == []  # no file

    systemctl.ok()
    cli("deploy", "install", str(repo.path), "--yes")
    assert podman_secrets.names() == NAMED


def test_a_failed_update_removes_only_the_secret_it_created(cli, repo, podman_secrets, systemctl):
    podman_secrets.put(*NAMED, "groq_api_key")
    cli("deploy", "install", str(repo.path), "--yes")
    assert podman_secrets.names() == NAMED
    text = repo.read("litellm.container").decode()
    text = text.replace("[Container]\n", "[Container]\nSecret=groq_api_key,type=env,target=GROQ\n")
    repo.commit("groq", litellm__container=text)
    systemctl.fail("is-active litellm.service")
    failed = cli("update", "ai-stack", "--yes", expect=1)
    assert "Created podman secrets (podman strategy): groq_api_key" in failed.stdout
    assert "Removed the podman secrets it had created: groq_api_key" in failed.stderr
    assert podman_secrets.names() == NAMED


def test_a_secret_it_created_that_another_deployment_names_is_kept(
    cli, repo, podman_secrets, systemctl, home, tmp_path
):
    """Another deployment (installed with the check off) names openai_api_key: an install
    that creates it and then fails leaves it, and says why."""
    podman_secrets.put(*NAMED)
    config = home / "leger-config.toml"
    with_podman = config.read_text()
    config.write_text(with_podman.replace('"podman"', '"none"', 1))
    web = "[Container]\nImage=localhost/web\nSecret=openai_api_key,type=env,target=KEY\n"
    cli("deploy", "install", _release(tmp_path / "web", {"web.container": web}), "--yes")
    config.write_text(with_podman)
    assert podman_secrets.names() == []
    systemctl.fail("is-active litellm.service")
    failed = cli("deploy", "install", str(repo.path), "--yes", expect=1)
    assert "Removed the podman secrets it had created: anthropic_api_key, " in failed.stderr
    assert "Kept podman secrets it had created: openai_api_key (named by web)" in failed.stderr
    assert podman_secrets.names() == ["openai_api_key"]


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
