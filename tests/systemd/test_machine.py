"""The test machine itself: it boots to `running`, runs containers inside, and leaves nothing
behind on this host (no container, no cgroup directory in any hierarchy)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sdmachine

pytestmark = [pytest.mark.systemd]


def test_boots_runs_a_container_and_tears_down_cleanly(systemd_rootfs: Path) -> None:
    machine = sdmachine.Machine(systemd_rootfs)
    try:
        machine.boot()
        assert machine.systemctl("is-system-running").stdout.strip() == "running"
        out = machine.exec(["podman", "run", "--rm", sdmachine.IMAGE, "echo", "inside"]).stdout
        assert out.strip() == "inside"
        cid = machine.cid
        assert cid is not None
    finally:
        machine.close()
    assert sdmachine.leftover_cgroups(cid) == []
    assert not machine._tmp.exists()  # the private podman storage, its record of `name` too


def test_the_rootfs_is_cached_under_its_recipe(systemd_rootfs: Path) -> None:
    assert systemd_rootfs.name == f"{sdmachine.SUITE}-{sdmachine.rootfs_key()}"
    assert sdmachine.ensure_rootfs(quiet=True) == systemd_rootfs
    for rel in sdmachine.FILES:
        assert (systemd_rootfs / rel).read_text() == sdmachine.FILES[rel]
    masked = systemd_rootfs / "etc/systemd/system/systemd-modules-load.service"
    assert masked.is_symlink() and str(masked.readlink()) == "/dev/null"
