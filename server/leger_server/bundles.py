"""Bundle uploads: a ``.tar.gz`` streamed to a staging file with a size limit, then checked
member by member without unpacking it anywhere.

A bundle holds ``manifest.json`` and the files it lists::

    {"deployment_name": "openwebui",
     "files": [{"path": "openwebui.container", "sha256": "…", "size": 123}, …],
     "services": ["openwebui"] | [{"name": "openwebui", …}],
     "secrets_required": ["openai_api_key"]}

Refused as a whole (nothing stored): not gzip/tar, an absolute path, ``..``, a link, a device
or anything but a regular file or directory, a duplicate, too many files, more bytes than
allowed unpacked, a file missing from the manifest or listed but absent, a size or sha256 that
does not match, an extended (pax/GNU) header over 64 KiB or of a shape that makes Python's
``tarfile`` slow (CVE-2024-6232), or inspection running past its time limit. Headers are
checked by :class:`leger_core.targuard.TarGuard` before ``tarfile`` parses them, and every byte
of the tar stream (headers and padding included) counts against ``max_unpacked``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tarfile
import tempfile
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from leger_core.targuard import TarRefused, open_guarded_tar
from leger_server.errors import InvalidInput, TooLarge

MANIFEST = "manifest.json"
MANIFEST_MAX = 1024 * 1024
_SHA = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")


class BundleRejected(InvalidInput):
    code = "invalid_bundle"


@dataclass
class StagedBundle:
    """A validated upload waiting in the staging dir to be stored."""

    path: Path
    size: int
    sha256: str
    manifest: dict[str, Any] = field(default_factory=dict)

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


async def stage_stream(
    chunks: AsyncIterator[bytes], staging_dir: Path, *, limit: int
) -> tuple[Path, int, str]:
    """Write ``chunks`` to a new file under ``staging_dir``; refuse (and delete it) past
    ``limit`` bytes. Returns the path, the size and the sha256."""
    staging_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, name = tempfile.mkstemp(dir=staging_dir, prefix="upload-", suffix=".tar.gz")
    path = Path(name)
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as fh:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"bundles are limited to {limit} bytes")
                digest.update(chunk)
                fh.write(chunk)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise
    return path, size, digest.hexdigest()


def _member_path(name: str) -> str:
    if not name or "\\" in name or "\x00" in name:
        raise BundleRejected(f"bundle member {name!r} has an invalid name")
    if name.startswith("/"):
        raise BundleRejected(f"bundle member {name!r} has an absolute path")
    parts = [p for p in PurePosixPath(name).parts if p != "."]
    if any(p == ".." for p in parts):
        raise BundleRejected(f"bundle member {name!r} leaves the bundle ('..')")
    if not parts:
        return ""
    return "/".join(parts)


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, keep: bool) -> tuple[str, bytes]:
    fh = tar.extractfile(member)
    if fh is None:
        raise BundleRejected(f"bundle member {member.name!r} cannot be read")
    digest = hashlib.sha256()
    kept = bytearray()
    while chunk := fh.read(64 * 1024):
        digest.update(chunk)
        if keep:
            kept += chunk
    return digest.hexdigest(), bytes(kept)


def inspect_bundle(
    path: Path, *, max_files: int, max_unpacked: int, time_limit: float | None = None
) -> dict[str, Any]:
    """Check the bundle at ``path``; return its validated manifest or raise BundleRejected.

    Meant for a worker thread: the guard keeps each step of ``tarfile``'s parsing short, so
    the GIL is never held for long, and ``time_limit`` (seconds) bounds the whole inspection."""
    seen: dict[str, tuple[str, int]] = {}
    manifest_raw: bytes | None = None
    total = 0
    dirs = 0
    try:
        with open(path, "rb") as raw:
            tar, _guard = open_guarded_tar(
                raw, compressed=True, max_bytes=max_unpacked, time_limit=time_limit
            )
            with tar:
                for member in tar:
                    rel = _member_path(member.name)
                    if member.isdir():
                        # Empty entries cost parsing time too: bound them like files.
                        dirs += 1
                        if dirs > max_files:
                            raise BundleRejected(
                                f"bundles may hold at most {max_files} directories"
                            )
                        continue
                    if not member.isreg():
                        kind = "link" if (member.issym() or member.islnk()) else "special file"
                        raise BundleRejected(f"bundle member {member.name!r} is a {kind}")
                    if rel in seen:
                        raise BundleRejected(f"bundle member {rel!r} appears twice")
                    if len(seen) >= max_files:
                        raise BundleRejected(f"bundles may hold at most {max_files} files")
                    total += member.size
                    if total > max_unpacked:
                        raise BundleRejected(f"bundle unpacks to more than {max_unpacked} bytes")
                    is_manifest = rel == MANIFEST
                    if is_manifest and member.size > MANIFEST_MAX:
                        raise BundleRejected("manifest.json is too large")
                    sha, data = _read_member(tar, member, keep=is_manifest)
                    seen[rel] = (sha, member.size)
                    if is_manifest:
                        manifest_raw = data
    except TarRefused as exc:
        raise BundleRejected(f"bundle refused: {exc}") from None
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise BundleRejected(f"not a valid .tar.gz bundle: {type(exc).__name__}") from None
    if manifest_raw is None:
        raise BundleRejected("the bundle has no manifest.json")
    seen.pop(MANIFEST)
    return validate_manifest(manifest_raw, seen)


def _names(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BundleRejected(f"manifest {field} must be a list")
    out = []
    for item in value:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise BundleRejected(f"manifest {field} has an invalid entry")
        out.append(name)
    return out


def validate_manifest(raw: bytes, present: dict[str, tuple[str, int]]) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BundleRejected("manifest.json is not valid JSON") from None
    if not isinstance(data, dict):
        raise BundleRejected("manifest.json must be a JSON object")
    name = data.get("deployment_name") or data.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BundleRejected("manifest deployment_name must be 1-128 of [A-Za-z0-9_.-]")
    files = data.get("files")
    if not isinstance(files, list) or not files:
        raise BundleRejected("manifest files must be a non-empty list")
    listed: dict[str, dict[str, Any]] = {}
    for entry in files:
        if not isinstance(entry, dict):
            raise BundleRejected("each manifest files entry needs path, sha256 and size")
        path = entry.get("path", entry.get("name"))
        sha = entry.get("sha256")
        size = entry.get("size")
        if not isinstance(path, str) or not isinstance(sha, str) or not _SHA.fullmatch(sha):
            raise BundleRejected("each manifest files entry needs path, sha256 and size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BundleRejected(f"manifest size of {path!r} must be a whole number")
        rel = _member_path(path)
        if rel in listed or rel == MANIFEST or not rel:
            raise BundleRejected(f"manifest lists {path!r} twice or invalidly")
        listed[rel] = {"path": rel, "sha256": sha, "size": size}
    missing = sorted(set(listed) - set(present))
    unlisted = sorted(set(present) - set(listed))
    if missing:
        raise BundleRejected(f"files listed in the manifest are missing: {', '.join(missing)}")
    if unlisted:
        raise BundleRejected(f"files not listed in the manifest: {', '.join(unlisted)}")
    for rel, entry in listed.items():
        sha, size = present[rel]
        if size != entry["size"]:
            raise BundleRejected(f"{rel!r} is {size} bytes, the manifest says {entry['size']}")
        if sha != entry["sha256"]:
            raise BundleRejected(f"{rel!r} does not match its sha256 in the manifest")
    return {
        "deployment_name": name,
        "files": sorted(listed.values(), key=lambda e: e["path"]),
        "services": _names(data.get("services"), "services"),
        "secrets_required": _names(data.get("secrets_required"), "secrets_required"),
    }
