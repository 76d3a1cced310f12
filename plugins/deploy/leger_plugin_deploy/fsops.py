"""File-tree operations the installer builds on: hashing a tree, writing one durably, and
swapping directories by rename."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from leger_core.fsutil import fsync_dir
from leger_plugin_deploy.manifest import sha256


def hash_tree(root: Path) -> dict[str, str]:
    """relative path → sha256 of every file under ``root``; a symlink or special file maps to
    a marker that never equals a digest (so it shows up as modified)."""
    out: dict[str, str] = {}
    if not root.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        for d in list(dirnames):
            if (base / d).is_symlink():
                out[(base / d).relative_to(root).as_posix()] = "symlink"
                dirnames.remove(d)
        for f in filenames:
            path = base / f
            rel = path.relative_to(root).as_posix()
            if path.is_symlink() or not path.is_file():
                out[rel] = "not-a-regular-file"
            else:
                out[rel] = sha256(path.read_bytes())
    return out


def read_tree(root: Path, files: Mapping[str, str]) -> dict[str, bytes]:
    """The files listed in ``files`` (path → sha256), checked against their sha256."""
    out: dict[str, bytes] = {}
    for rel, digest in files.items():
        path = root / rel
        if path.is_symlink():
            raise ValueError(f"{path} is a symlink")
        data = path.read_bytes()
        if sha256(data) != digest:
            raise ValueError(f"{path}: sha256 does not match the record")
        out[rel] = data
    return out


def write_file(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a new file durably (the caller renames the whole tree into place)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, mode)


def write_tree(root: Path, files: Mapping[str, bytes], mode: int = 0o644) -> None:
    """Create ``root`` (must not exist) holding ``files``, everything fsynced."""
    root.mkdir(mode=0o755, parents=False)
    dirs = {root}
    for rel in sorted(files):
        target = root / rel
        parent = target.parent
        if parent not in dirs:
            parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            dirs.add(parent)
        write_file(target, files[rel], mode)
    for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        fsync_dir(d)


def remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def rename(src: Path, dst: Path) -> None:
    os.rename(src, dst)
    fsync_dir(dst.parent)
