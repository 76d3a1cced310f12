"""Releases of the logged-in leger-server account, through ``leger-plugin-cloud`` (imported
only when such a release is asked for, so this plugin works without it).

A release is named by its name (the bundle's ``deployment_name``, or a git source's name) or
by a bundle version number. A git release is installed from its ``git_url`` and branch; a
bundle release is downloaded (sha256 checked by the client) and then checked file by file
against its ``manifest.json`` like any bundle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leger_core.errors import NotFoundError, UnavailableError
from leger_plugin_deploy.sources import Report, human_size


def client(leger: Any) -> Any:
    try:
        from leger_plugin_cloud.session import current_client
    except ImportError:
        raise UnavailableError(
            "installing releases of your leger account needs leger-plugin-cloud",
            hint="pip install leger-plugin-cloud",
        ) from None
    return current_client(leger)


def lookup(leger: Any, ref: str) -> dict[str, Any]:
    """The newest release called ``ref`` (or bundle version ``ref``) of the account."""
    with client(leger) as api:
        if ref.isdigit():
            found: dict[str, Any] = api.get_release(ref)
            return found
        releases = api.list_releases(ref)
    if not releases:
        raise NotFoundError(
            f"no release named {ref!r} in your leger account",
            hint="`leger releases list` shows them",
        )
    return max(releases, key=lambda r: (int(r.get("version") or 0), str(r.get("created_at"))))


def latest_version(leger: Any, ref: str) -> str:
    return str(lookup(leger, ref)["version"])


def download(
    leger: Any, ref: str, workdir: Path, report: Report, version: str | None = None
) -> tuple[Path, dict[str, Any]]:
    """Download the bundle of release ``ref`` (its newest version, or ``version``)."""
    release = lookup(leger, version or ref)
    if release.get("kind") != "bundle":
        raise NotFoundError(f"release {ref!r} is a git source, not a bundle")
    size = release.get("bundle_size_bytes")
    label = f"{release.get('name')} v{release['version']}"
    report(f"Downloading release {label} ({human_size(size) if size else '?'}) …")
    shown = {"pct": -1}

    def progress(done: int, total: int | None) -> None:
        if total:
            pct = done * 100 // total
            if pct // 25 > shown["pct"] // 25:
                shown["pct"] = pct
                report(f"  {pct}% of {human_size(total)}")

    with client(leger) as api:
        path: Path = api.download_release(release["id"], workdir / "bundle.tar.gz", progress)
    info = {
        "id": release.get("id"),
        "name": release.get("name"),
        "version": release["version"],
        "deployment_name": release.get("deployment_name"),
        "sha256": release.get("sha256"),
    }
    return path, info
