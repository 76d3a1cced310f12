"""The whole life of a deployment from a real local git repository."""

from __future__ import annotations

import json

import pytest

from leger_core.context import Leger
from leger_core.errors import NotFoundError


def _bump_litellm(repo, tag: str = "main-v1.56.0") -> str:
    text = repo.read("litellm.container").decode().replace("main-v1.55.8", tag)
    return repo.commit("litellm " + tag, litellm__container=text)


def test_install_update_rollback_with_a_real_git_repository(cli, repo, systemctl, quadlets):
    first = repo.git("rev-parse", "HEAD").strip()
    result = cli("deploy", "install", str(repo.path), "--yes")
    assert f"Fetching {repo.path} (default branch) …" in result.output  # progress, on stderr
    assert "Installed ai-stack" in result.output
    target = quadlets / "ai-stack"
    v1 = {p.name: p.read_bytes() for p in target.iterdir()}
    assert v1["litellm.container"] == repo.read("litellm.container")
    assert "manifest.json" not in v1 and "README.md" not in v1
    calls = systemctl.calls()
    assert calls[0] == ["daemon-reload"]
    assert calls[1][0] == "start" and "litellm.service" in calls[1]
    assert all(c[0] == "is-active" for c in calls[2:])

    second = _bump_litellm(repo)
    systemctl.clear()
    diff = cli("deploy", "diff", "ai-stack").output
    assert f"{first[:12]} → {second[:12]}" in diff
    assert "~ changed  litellm.container" in diff
    assert "-Image=ghcr.io/berriai/litellm:main-v1.55.8" in diff
    assert "+Image=ghcr.io/berriai/litellm:main-v1.56.0" in diff
    assert systemctl.calls() == []  # diff changes nothing

    result = cli("update", "--yes")
    assert "Updated ai-stack" in result.output
    assert (target / "litellm.container").read_bytes() == repo.read("litellm.container")
    assert systemctl.calls() == [
        ["daemon-reload"],
        ["restart", "litellm.service"],
        ["is-active", "litellm.service"],
    ]

    systemctl.clear()
    result = cli("deploy", "rollback", "ai-stack", "--yes")
    assert "Rolled back ai-stack" in result.output
    assert {p.name: p.read_bytes() for p in target.iterdir()} == v1
    assert systemctl.calls() == [
        ["daemon-reload"],
        ["restart", "litellm.service"],
        ["is-active", "litellm.service"],
    ]
    listed = json.loads(cli("deploy", "list", "--json").output)
    assert listed[0]["version"] == first
    assert listed[0]["previous_version"] == second


def test_rollback_twice_returns_to_the_newer_version(cli, repo, quadlets):
    cli("deploy", "install", str(repo.path), "--yes")
    _bump_litellm(repo)
    cli("update", "--yes")
    v2 = (quadlets / "ai-stack/litellm.container").read_bytes()
    cli("deploy", "rollback", "ai-stack", "--yes")
    cli("deploy", "rollback", "ai-stack", "--yes")
    assert (quadlets / "ai-stack/litellm.container").read_bytes() == v2


def test_update_with_nothing_new_fetches_no_file(cli, repo, systemctl, git_log):
    cli("deploy", "install", str(repo.path), "--yes")
    systemctl.clear()
    before = len(git_log())
    result = cli("update", "--yes")
    assert "ai-stack is up to date" in result.output
    ran = [line.split()[0] for line in git_log()[before:]]
    assert ran == ["ls-remote"]  # asked for the commit id only: no fetch, no archive
    assert systemctl.calls() == []


def test_new_and_removed_quadlets_are_started_and_stopped(cli, repo, systemctl, quadlets):
    cli("deploy", "install", str(repo.path), "--yes")
    searx = "[Container]\nImage=docker.io/searxng/searxng:latest\nNetwork=ai-stack.network\n"
    repo.commit("add searxng, drop the openwebui volume", searxng__container=searx)
    systemctl.clear()
    cli("update", "--yes")
    assert ["start", "searxng.service"] in systemctl.calls()
    assert (quadlets / "ai-stack/searxng.container").read_text() == searx

    text = (
        repo.read("openwebui.container")
        .decode()
        .replace("Volume=openwebui.volume:/app/backend/data\n", "")
    )
    repo.commit("no volume", openwebui__volume=None, openwebui__container=text)
    systemctl.clear()
    cli("update", "--yes")
    calls = systemctl.calls()
    assert calls[0] == ["stop", "openwebui-volume.service"]  # before its file goes away
    assert ["restart", "openwebui.service"] in calls
    assert not (quadlets / "ai-stack/openwebui.volume").exists()


def test_a_changed_asset_restarts_the_units_that_use_it(cli, repo, systemctl):
    cli("deploy", "install", str(repo.path), "--yes")
    yaml = repo.read("litellm.yaml").decode() + "\nlitellm_settings:\n  drop_params: true\n"
    repo.commit("tune litellm", litellm__yaml=yaml)
    systemctl.clear()
    cli("update", "--yes")
    restarts = [c for c in systemctl.calls() if c[0] == "restart"]
    assert restarts == [["restart", "litellm.service"]]


def test_branch_is_followed(cli, repo, quadlets):
    repo.git("checkout", "-q", "-b", "staging")
    text = repo.read("postgres.container").decode().replace("16-alpine", "17-alpine")
    repo.commit("postgres 17 on staging", postgres__container=text)
    repo.git("checkout", "-q", "main")
    cli("deploy", "install", str(repo.path), "--branch", "staging", "--name", "ai-staging", "--yes")
    assert "17-alpine" in (quadlets / "ai-staging/postgres.container").read_text()
    result = cli("deploy", "install", str(repo.path), "--branch", "nope", "--name", "x", expect=4)
    assert "no branch 'nope'" in result.output


def test_dry_run_and_a_declined_prompt_change_nothing(cli, repo, systemctl, machine):
    before = machine()
    result = cli("deploy", "install", str(repo.path), "--dry-run")
    assert "+ added    postgres.container" in result.output and "Dry run" in result.output
    result = cli("deploy", "install", str(repo.path), input="n\n")
    assert "Nothing was changed" in result.output
    assert machine() == before
    assert systemctl.calls() == []
    cli("deploy", "install", str(repo.path), input="y\n")
    assert (machine()) != before


def test_files_edited_by_hand_block_an_update(cli, repo, quadlets, machine):
    cli("deploy", "install", str(repo.path), "--yes")
    (quadlets / "ai-stack/postgres.container").write_text("[Container]\nImage=mine\n")
    _bump_litellm(repo)
    before = machine()
    result = cli("update", "--yes", expect=8)
    assert "changed outside leger (postgres.container)" in result.output
    assert machine() == before


def test_an_existing_folder_not_installed_by_leger_is_not_overwritten(cli, repo, quadlets):
    (quadlets / "ai-stack").mkdir(parents=True)
    (quadlets / "ai-stack/mine.container").write_text("[Container]\nImage=x\n")
    result = cli("deploy", "install", str(repo.path), "--yes", expect=8)
    assert "was not installed by leger" in result.output
    assert [p.name for p in (quadlets / "ai-stack").iterdir()] == ["mine.container"]


def test_two_deployments_cannot_ship_the_same_quadlet_name(cli, repo):
    cli("deploy", "install", str(repo.path), "--yes")
    result = cli("deploy", "install", str(repo.path), "--name", "again", "--yes", expect=8)
    assert "clashes with" in result.output


def test_remove_stops_units_and_deletes_files_and_state(
    cli, repo, systemctl, quadlets, deployments
):
    cli("deploy", "install", str(repo.path), "--yes")
    systemctl.clear()
    result = cli("deploy", "remove", "ai-stack", "--yes")
    assert "Removed ai-stack" in result.output
    assert systemctl.calls()[0][0] == "stop" and "postgres.service" in systemctl.calls()[0]
    assert systemctl.calls()[1] == ["daemon-reload"]
    assert not (quadlets / "ai-stack").exists()
    assert not (deployments / "ai-stack").exists()
    assert "No deployments installed" in cli("deploy", "list").output


def test_status_reports_units_and_intact_files(cli, repo, systemctl):
    cli("deploy", "install", str(repo.path), "--yes")
    systemctl.fail("is-active postgres.service")
    rows = json.loads(cli("deploy", "status", "--json").output)
    assert rows[0]["intact"] is True
    assert rows[0]["units"]["postgres.service"] == "failed"
    assert rows[0]["units"]["litellm.service"] == "active"
    assert "openai_api_key" in rows[0]["services"]["litellm"]


def test_unknown_deployment_is_not_found(cli):
    result = cli("deploy", "rollback", "nope", "--yes", expect=4)
    assert "no deployment named 'nope'" in result.output


def test_rollback_without_a_previous_version(cli, repo):
    cli("deploy", "install", str(repo.path), "--yes")
    result = cli("deploy", "rollback", "ai-stack", "--yes", expect=4)
    assert "no previous version" in result.output


def test_services_secrets_come_from_quadlets_and_the_manifest(cli, repo, leger_pm, home):
    cli("deploy", "install", str(repo.path), "--yes")
    leger = Leger(leger_pm)
    litellm = {s.env: s for s in leger.service_secrets("litellm")}
    assert litellm["OPENAI_API_KEY"].secret == "openai_api_key"
    assert litellm["OPENAI_API_KEY"].source == "quadlet"
    assert litellm["LITELLM_MASTER_KEY"].secret == "litellm_master_key"
    openwebui = {s.env: s for s in leger.service_secrets("openwebui")}
    assert openwebui["WEBUI_SECRET_KEY"].source == "manifest"
    assert {"litellm", "openwebui", "postgres"} <= set(leger.service_names())


def test_service_secrets_use_the_configured_prefix(cli, repo, leger_pm, home):
    cli("deploy", "install", str(repo.path), "--yes")
    cli("config", "set", "secrets.prefix", "team/")
    leger = Leger(leger_pm)
    names = {s.secret for s in leger.service_secrets("postgres")}
    assert names == {"team/postgres_password"}


def test_a_service_of_no_deployment_is_unknown(cli, leger_pm):
    with pytest.raises(NotFoundError):
        Leger(leger_pm).service_secrets("nothing-here")


def test_one_failing_deployment_does_not_stop_the_others(cli, repo, tmp_path, systemctl):
    from leger_plugin_deploy.authoring import make_bundle

    bundle = tmp_path / "other.tar.gz"
    other = tmp_path / "other"
    other.mkdir()
    (other / "web.container").write_text("[Container]\nImage=docker.io/library/nginx\n")
    (other / "manifest.json").write_text('{"version": 1, "deployment_name": "other"}')
    make_bundle(other, bundle)
    cli("deploy", "install", str(bundle), "--yes")
    cli("deploy", "install", str(repo.path), "--yes")
    bundle.unlink()  # the bundle's source is gone
    _bump_litellm(repo)
    result = cli("update", "--yes", expect=4)
    assert "Updated ai-stack" in result.output
    assert "bundle" in result.output and "no such file" in result.output
    assert "the update of other failed" in result.output


def test_secrets_inputs_name_the_state_files(cli, repo, deployments):
    import leger_plugin_deploy

    cli("deploy", "install", str(repo.path), "--yes")
    inputs = leger_plugin_deploy.leger_service_secrets_inputs(None)
    assert inputs == [str(deployments), str(deployments / "ai-stack/state.json")]


def test_a_hand_written_quadlet_of_the_same_name_blocks_the_install(cli, repo, quadlets):
    quadlets.mkdir(parents=True)
    (quadlets / "postgres.container").write_text("[Container]\nImage=mine\n")
    result = cli("deploy", "install", str(repo.path), "--yes", expect=8)
    assert "postgres.container clashes with" in result.output
    assert sorted(p.name for p in quadlets.iterdir()) == ["postgres.container"]


def test_force_replaces_hand_edits_and_rollback_brings_them_back(cli, repo, quadlets):
    cli("deploy", "install", str(repo.path), "--yes")
    edited = "[Container]\nImage=docker.io/library/postgres:mine\n"
    (quadlets / "ai-stack/postgres.container").write_text(edited)
    (quadlets / "ai-stack/extra.conf").write_text("# mine\n")
    _bump_litellm(repo)
    result = cli("update", "--yes", "--force")
    assert "~ changed  postgres.container" in result.output
    assert "- removed  extra.conf" in result.output
    assert (quadlets / "ai-stack/postgres.container").read_bytes() == repo.read(
        "postgres.container"
    )
    cli("deploy", "rollback", "ai-stack", "--yes")
    assert (quadlets / "ai-stack/postgres.container").read_text() == edited
    assert (quadlets / "ai-stack/extra.conf").read_text() == "# mine\n"
