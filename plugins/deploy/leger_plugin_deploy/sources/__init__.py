"""Release sources: ``git``, ``bundle`` and ``manifest``. Each fetches a release's files,
checks them (safe paths, allowed types, sha256 against ``manifest.json``) and writes them into
``dest``; installing is someone else's job (:mod:`leger_plugin_deploy.installer`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from leger_core.strategies import FetchedRelease
from leger_plugin_deploy.archive import ReleaseRefused
from leger_plugin_deploy.manifest import Manifest, parse_manifest, sha256, verify_files
from leger_plugin_deploy.release import split_release

Report = Callable[[str], None]


def quiet(_: str) -> None:
    """The default reporter: says nothing."""


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024 or unit == "MiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def finish(
    all_files: Mapping[str, bytes],
    dest: Path,
    *,
    version: str | None,
    require_checksums: bool,
    metadata: dict[str, Any],
) -> FetchedRelease:
    """Split ``all_files`` into what is installed, check it against ``manifest.json`` and write
    it into ``dest``. ``version`` None means: the manifest's version."""
    split = split_release(all_files)
    manifest: Manifest | None = None
    if split.manifest is not None:
        manifest = parse_manifest(split.manifest, require_checksums=require_checksums)
        verify_files(manifest, split.files, complete=manifest.files is not None)
    elif require_checksums:
        raise ReleaseRefused("refused: the release has no manifest.json")
    if version is None:
        version = (manifest.version if manifest else None) or "unversioned"
    write_tree(dest, split.files)
    return FetchedRelease(
        path=dest,
        version=version,
        files={path: sha256(data) for path, data in split.files.items()},
        metadata={
            **metadata,
            "manifest": manifest.raw if manifest else None,
            "ignored": split.ignored,
        },
    )


def write_tree(dest: Path, files: Mapping[str, bytes]) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for path, data in files.items():
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
