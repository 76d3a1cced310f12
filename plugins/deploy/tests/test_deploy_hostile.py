"""Hostile releases are refused with a clear error, and nothing is installed."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from leger_plugin_deploy.manifest import sha256

GOOD = "[Container]\nImage=docker.io/library/busybox:latest\n"


def _manifest(files: dict[str, bytes], **overrides) -> bytes:
    entries = [{"path": p, "sha256": sha256(d), "size": len(d)} for p, d in sorted(files.items())]
    return json.dumps(
        {"version": 1, "deployment_name": "evil", "files": entries, **overrides}
    ).encode()


def _bundle(
    tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], name="evil.tar.gz"
) -> Path:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    path = tmp_path / name
    path.write_bytes(gzip.compress(raw.getvalue()))
    return path


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _with_manifest(files: dict[str, bytes]) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    return [_file("manifest.json", _manifest(files)), *(_file(p, d) for p, d in files.items())]


def _special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3
    return info, None


@pytest.fixture
def refused(cli, quadlets, deployments, systemctl):
    """Install ``bundle`` and check it is refused (exit 7) with ``words`` in the message,
    leaving no trace."""

    def check(bundle: Path, *words: str) -> str:
        result = cli("deploy", "install", str(bundle), "--yes", expect=7)
        for word in words:
            assert word in result.output, result.output
        assert not quadlets.exists() or list(quadlets.iterdir()) == []
        assert not deployments.exists() or list(deployments.iterdir()) == []
        assert systemctl.calls() == []
        return result.output

    return check


def test_a_well_formed_bundle_installs(cli, tmp_path, quadlets):
    bundle = _bundle(tmp_path, _with_manifest({"web.container": GOOD.encode()}))
    cli("deploy", "install", str(bundle), "--yes")
    assert (quadlets / "evil/web.container").read_text() == GOOD


def test_symlink_to_a_file_outside(refused, tmp_path):
    members = [*_with_manifest({"web.container": GOOD.encode()})]
    members.append(_special("passwd.env", tarfile.SYMTYPE, "/etc/passwd"))
    refused(_bundle(tmp_path, members), "'passwd.env' is a link", "/etc/passwd")


def test_relative_symlink_escaping(refused, tmp_path):
    members = [*_with_manifest({"web.container": GOOD.encode()})]
    members.append(_special("x.env", tarfile.SYMTYPE, "../../../../home/secret.env"))
    refused(_bundle(tmp_path, members), "is a link")


def test_hard_link(refused, tmp_path):
    members = [*_with_manifest({"web.container": GOOD.encode()})]
    members.append(_special("copy.container", tarfile.LNKTYPE, "/etc/shadow"))
    refused(_bundle(tmp_path, members), "is a link")


def test_dot_dot_path(refused, tmp_path):
    members = [*_with_manifest({"web.container": GOOD.encode()})]
    members.append(_file("../../.bashrc.env", b"X=1\n"))
    refused(_bundle(tmp_path, members), "escapes the release ('..')")


def test_absolute_path(refused, tmp_path):
    members = [*_with_manifest({"web.container": GOOD.encode()})]
    members.append(_file("/etc/containers/systemd/evil.container", GOOD.encode()))
    refused(_bundle(tmp_path, members), "absolute path")


def test_device_file(refused, tmp_path):
    members = [*_with_manifest({"web.container": GOOD.encode()})]
    members.append(_special("null.conf", tarfile.CHRTYPE))
    refused(_bundle(tmp_path, members), "'null.conf' is a device or special file")


def test_fifo(refused, tmp_path):
    members = [*_with_manifest({"web.container": GOOD.encode()})]
    members.append(_special("pipe.conf", tarfile.FIFOTYPE))
    refused(_bundle(tmp_path, members), "device or special file")


def test_ten_thousand_files(refused, tmp_path):
    files = {f"f{i:05d}.conf": b"" for i in range(10_000)}
    files["web.container"] = GOOD.encode()
    refused(_bundle(tmp_path, _with_manifest(files)), "more than 1000 entries")


def test_gzip_bomb(refused, tmp_path):
    # 48 MiB of zeros in 12 files under the per-file limit: gzip shrinks it ~1000:1.
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        tar.addfile(tarfile.TarInfo("manifest.json"), io.BytesIO(b""))
        zeros = bytes(4 * 1024 * 1024)
        for i in range(12):
            info = tarfile.TarInfo(f"z{i}.conf")
            info.size = len(zeros)
            tar.addfile(info, io.BytesIO(zeros))
    bundle = tmp_path / "bomb.tar.gz"
    bundle.write_bytes(gzip.compress(raw.getvalue(), compresslevel=9))
    assert bundle.stat().st_size < 200 * 1024
    refused(bundle, "gzip bomb")


def test_archive_expanding_past_the_total_limit(refused, tmp_path):
    # incompressible data, so the ratio check does not fire: the size budget does
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for i in range(6):
            data = os.urandom(12 * 1024 * 1024)
            info = tarfile.TarInfo(f"r{i}.conf")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    bundle = tmp_path / "big.tar.gz"
    bundle.write_bytes(gzip.compress(raw.getvalue(), compresslevel=1))
    refused(bundle, "more than 64 MiB")


def test_manifest_lies_about_a_checksum(refused, tmp_path):
    files = {"web.container": GOOD.encode()}
    manifest = json.loads(_manifest(files))
    manifest["files"][0]["sha256"] = sha256(b"something else")
    members = [
        _file("manifest.json", json.dumps(manifest).encode()),
        _file("web.container", GOOD.encode()),
    ]
    refused(_bundle(tmp_path, members), "web.container: sha256", "does not match manifest.json")


def test_manifest_lies_about_a_size(refused, tmp_path):
    files = {"web.container": GOOD.encode()}
    manifest = json.loads(_manifest(files))
    manifest["files"][0]["size"] += 1
    members = [
        _file("manifest.json", json.dumps(manifest).encode()),
        _file("web.container", GOOD.encode()),
    ]
    refused(_bundle(tmp_path, members), "size", "does not match manifest.json")


def test_a_file_the_manifest_does_not_list(refused, tmp_path):
    members = [*_with_manifest({"web.container": GOOD.encode()}), _file("extra.env", b"A=1\n")]
    refused(_bundle(tmp_path, members), "'extra.env' is in the release but not in manifest.json")


def test_a_file_the_manifest_lists_but_is_missing(refused, tmp_path):
    files = {"web.container": GOOD.encode(), "db.container": GOOD.encode()}
    members = [_file("manifest.json", _manifest(files)), _file("web.container", GOOD.encode())]
    refused(_bundle(tmp_path, members), "lists 'db.container' but it is missing")


def test_a_bundle_without_a_manifest(refused, tmp_path):
    refused(_bundle(tmp_path, [_file("web.container", GOOD.encode())]), "no manifest.json")


def test_a_manifest_without_checksums(refused, tmp_path):
    manifest = json.dumps({"version": 1, "files": ["web.container"]}).encode()
    members = [_file("manifest.json", manifest), _file("web.container", GOOD.encode())]
    refused(_bundle(tmp_path, members), "without a sha256")


def test_a_script_is_not_a_release_file(refused, tmp_path):
    files = {"web.container": GOOD.encode(), "install.sh": b"#!/bin/sh\nrm -rf ~\n"}
    refused(_bundle(tmp_path, _with_manifest(files)), "'install.sh' is neither a quadlet")


def test_duplicate_entries(refused, tmp_path):
    members = [*_with_manifest({"web.container": GOOD.encode()}), _file("web.container", b"x")]
    refused(_bundle(tmp_path, members), "appears twice")


def test_not_a_gzip_file(refused, tmp_path):
    bundle = tmp_path / "junk.tar.gz"
    bundle.write_bytes(b"this is not gzip at all" * 10)
    refused(bundle, "corrupt")


def test_a_symlink_in_a_git_repository(cli, repo, quadlets, deployments):
    os.symlink("/etc/passwd", repo.path / "passwd.env")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "sneaky")
    result = cli("deploy", "install", str(repo.path), "--yes", expect=7)
    assert "'passwd.env' is a link" in result.output
    assert not quadlets.exists() or list(quadlets.iterdir()) == []


def test_hostile_update_leaves_the_installed_release_alone(cli, tmp_path, machine):
    good = _bundle(tmp_path, _with_manifest({"web.container": GOOD.encode()}), "v1.tar.gz")
    cli("deploy", "install", str(good), "--yes")
    before = machine()
    members = [*_with_manifest({"web.container": GOOD.encode()})]
    members.append(_special("passwd.env", tarfile.SYMTYPE, "/etc/passwd"))
    evil = _bundle(tmp_path, members, "v1.tar.gz")  # the same file, replaced
    assert evil == good
    result = cli("update", "--yes", expect=7)
    assert "is a link" in result.output
    assert machine() == before


@pytest.mark.parametrize("size", [400_000, 60_000])
def test_a_crafted_pax_header_is_refused_fast(refused, tmp_path, size):
    # CVE-2024-6232: digits in a pax header cost an unpatched tarfile quadratic time (400 KB:
    # minutes; 60 KB, under the size bound: seconds). Refused from the header, before parsing.
    import time

    from leger_core.testing import pax_header_tar

    files = {"web.container": GOOD.encode()}
    tar = pax_header_tar(b"1" * size, {"manifest.json": _manifest(files), **files})
    bundle = tmp_path / "crafted.tar.gz"
    bundle.write_bytes(gzip.compress(tar, compresslevel=9))
    assert bundle.stat().st_size < 1500
    started = time.monotonic()
    output = refused(bundle, "refused:")
    assert time.monotonic() - started < 2.0
    assert "extended tar header of 400000 bytes" in output or "more than 64 digits" in output


@pytest.mark.parametrize("value", ["../../evil", "a/b", "x y", "-x@y"])
def test_a_service_name_that_is_not_a_unit_name_is_refused(refused, tmp_path, value):
    quadlet = f"{GOOD}ServiceName={value}\n".encode()
    bundle = _bundle(tmp_path, _with_manifest({"web.container": quadlet}))
    refused(bundle, "web.container:3:", "is not a valid systemd unit name")


def test_unit_names_reach_systemctl_after_a_double_dash(cli, tmp_path, quadlets, systemctl):
    # "-h.service" is a valid unit name; without "--" systemctl would read it as an option.
    files = {"-h.container": GOOD.encode(), "web.container": GOOD.encode()}
    cli("deploy", "install", str(_bundle(tmp_path, _with_manifest(files))), "--yes")
    assert (quadlets / "evil/-h.container").exists()
    calls = systemctl.raw_calls()
    assert ["start", "-h.service", "web.service"] in systemctl.calls()
    for call in calls:
        words = [a for a in call if a != "--user"]
        if words[0] != "daemon-reload":
            assert words[1] == "--", call
    cli("deploy", "remove", "evil", "--yes")
    assert [c for c in systemctl.calls() if c[0] == "stop"] == [
        ["stop", "-h.service", "web.service"]
    ]
