"""For people who write releases: validate a folder, refresh its manifest, pack a bundle."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from leger_core.errors import InvalidInputError
from leger_core.fsutil import atomic_write
from leger_plugin_deploy.archive import DEFAULT_LIMITS, ReleaseRefused, bundle_bytes, dumps_manifest
from leger_plugin_deploy.manifest import (
    MANIFEST_NAME,
    parse_manifest,
    refresh_manifest,
    verify_files,
)
from leger_plugin_deploy.quadlet import quadlet_type, validate_quadlet
from leger_plugin_deploy.release import check_release, classify, split_release


def collect_dir(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` except ``.git``; symlinks and special files are refused."""
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        base = Path(dirpath)
        for d in dirnames:
            if (base / d).is_symlink():
                raise ReleaseRefused(f"refused: {base / d} is a symlink")
        for name in sorted(filenames):
            path = base / name
            rel = path.relative_to(root).as_posix()
            if classify(rel) == "ignored":
                continue
            if path.is_symlink() or not path.is_file():
                raise ReleaseRefused(f"refused: {path} is a symlink or special file")
            files[rel] = path.read_bytes()
            if len(files) > DEFAULT_LIMITS.max_files:
                raise ReleaseRefused(f"refused: more than {DEFAULT_LIMITS.max_files} files")
    return files


def validate_path(path: Path) -> list[str]:
    """Warnings as ``file:line: warning: …``; errors raise :class:`InvalidInputError`."""
    if path.is_file():
        if not quadlet_type(path.name):
            raise InvalidInputError(f"{path} is not a quadlet file")
        _, problems = validate_quadlet(path.read_bytes(), str(path))
        errors = [str(p) for p in problems if p.level == "error"]
        if errors:
            raise InvalidInputError("invalid quadlet:\n" + "\n".join(f"  {e}" for e in errors))
        return [str(p) for p in problems]
    split = split_release(collect_dir(path))
    manifest = None
    if split.manifest is not None:
        manifest = parse_manifest(split.manifest, require_checksums=False)
        verify_files(manifest, split.files, complete=manifest.files is not None)
    checked = check_release(split.files, manifest)
    return [str(w) for w in checked.warnings]


def _manifest_base(root: Path) -> dict[str, Any]:
    try:
        raw = (root / MANIFEST_NAME).read_bytes()
    except FileNotFoundError:
        return {"version": 1, "deployment_name": root.resolve().name}
    return parse_manifest(raw, require_checksums=False).raw


def refresh_manifest_file(root: Path) -> int:
    split = split_release(collect_dir(root))
    manifest = refresh_manifest(_manifest_base(root), split.files)
    atomic_write(root / MANIFEST_NAME, dumps_manifest(manifest))
    return len(split.files)


def make_bundle(root: Path, out: Path) -> int:
    """A bundle of the release in ``root`` with a manifest listing every file's sha256."""
    split = split_release(collect_dir(root))
    manifest = refresh_manifest(_manifest_base(root), split.files)
    check_release(
        split.files, parse_manifest(json.dumps(manifest).encode(), require_checksums=True)
    )
    data = bundle_bytes({**split.files, MANIFEST_NAME: dumps_manifest(manifest)})
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, data)
    return len(split.files)
