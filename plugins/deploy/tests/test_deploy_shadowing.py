"""A release may not generate a unit that another unit already answers to: a unit file systemd
loads from elsewhere, a quadlet Leger does not manage, or another deployment's unit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from leger_plugin_deploy.archive import bundle_bytes, dumps_manifest
from leger_plugin_deploy.manifest import sha256
from leger_plugin_deploy.systemd import unit_search_path


@pytest.fixture
def unit_dir(home: Path) -> Path:
    path = home / ".config/systemd/user"  # LEGER_SYSTEMD_UNIT_PATH in the tests' home
    path.mkdir(parents=True)
    return path


def _nothing_installed(quadlets: Path, deployments: Path, systemctl) -> None:
    assert not (quadlets / "ai-stack").exists()
    assert not deployments.exists() or list(deployments.iterdir()) == []
    assert systemctl.calls() == []


def test_a_unit_file_of_the_same_name_blocks_the_install(
    cli, repo, unit_dir, quadlets, deployments, systemctl
):
    (unit_dir / "litellm.service").write_text("[Service]\nExecStart=/bin/true\n")
    result = cli("deploy", "install", str(repo.path), "--yes", expect=8)
    assert "litellm.container would generate litellm.service" in result.output
    assert f"would shadow {unit_dir / 'litellm.service'}" in result.output
    _nothing_installed(quadlets, deployments, systemctl)


def test_a_masked_unit_blocks_the_install(cli, repo, unit_dir, quadlets, deployments, systemctl):
    (unit_dir / "postgres.service").symlink_to("/dev/null")
    result = cli("deploy", "install", str(repo.path), "--yes", expect=8)
    assert "would shadow" in result.output and "postgres.service" in result.output
    _nothing_installed(quadlets, deployments, systemctl)


def test_a_drop_in_for_the_unit_does_not_block(cli, repo, unit_dir, quadlets):
    (unit_dir / "litellm.service.d").mkdir()
    (unit_dir / "litellm.service.d/override.conf").write_text("[Service]\nNice=5\n")
    cli("deploy", "install", str(repo.path), "--yes")
    assert (quadlets / "ai-stack/litellm.container").exists()


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("mine.container", "[Container]\nImage=x\nServiceName=postgres\n"),
        ("postgres.kube", "[Kube]\nYaml=x.yaml\n"),
    ],
    ids=["service-name", "other-type"],
)
def test_a_loose_quadlet_generating_the_same_unit_blocks_the_install(
    cli, repo, quadlets, deployments, systemctl, name, text
):
    quadlets.mkdir(parents=True)
    (quadlets / name).write_text(text)
    result = cli("deploy", "install", str(repo.path), "--yes", expect=8)
    assert "postgres.container would generate postgres.service" in result.output
    assert f"{quadlets / name} (not managed by leger) generates too" in result.output
    _nothing_installed(quadlets, deployments, systemctl)


def test_a_loose_fifo_named_like_a_quadlet_does_not_hang_the_check(cli, repo, quadlets):
    quadlets.mkdir(parents=True)
    os.mkfifo(quadlets / "pipe.container")
    cli("deploy", "install", str(repo.path), "--yes")


def test_another_deployment_cannot_take_a_unit_through_service_name(cli, repo, tmp_path):
    cli("deploy", "install", str(repo.path), "--yes")
    files = {"sneaky.container": b"[Container]\nImage=x\nServiceName=litellm\n"}
    manifest = {
        "version": 1,
        "deployment_name": "other",
        "files": [{"path": p, "sha256": sha256(d), "size": len(d)} for p, d in files.items()],
    }
    other = tmp_path / "other.tar.gz"
    other.write_bytes(bundle_bytes({"manifest.json": dumps_manifest(manifest), **files}))
    result = cli("deploy", "install", str(other), "--yes", expect=8)
    assert "clashes with litellm.container of deployment 'ai-stack'" in result.output


def test_an_update_of_the_same_deployment_keeps_its_units(cli, repo):
    cli("deploy", "install", str(repo.path), "--yes")
    repo.commit("tweak", litellm__yaml="model_list: []\n")
    cli("update", "--yes")


def test_default_unit_directories(monkeypatch, home, cli, repo, quadlets, systemctl):
    monkeypatch.delenv("LEGER_SYSTEMD_UNIT_PATH")
    system = unit_search_path(user=False)
    assert Path("/etc/systemd/system") in system and Path("/usr/lib/systemd/system") in system
    assert not any("generator" in str(p) for p in system)
    user = unit_search_path(user=True)
    assert user[:2] == [home / ".config/systemd/user.control", home / ".config/systemd/user"]
    assert Path("/usr/lib/systemd/user") in user
    # a user deployment sees the user's own units
    monkeypatch.setenv("LEGER_SYSTEMD_SCOPE", "user")
    (home / ".config/systemd/user").mkdir(parents=True)
    (home / ".config/systemd/user/openwebui.service").write_text("[Service]\n")
    result = cli("deploy", "install", str(repo.path), "--yes", expect=8)
    assert "would shadow" in result.output and "openwebui.service" in result.output
    assert systemctl.calls() == []
