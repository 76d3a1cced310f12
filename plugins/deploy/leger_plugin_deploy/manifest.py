"""``manifest.json``: what a release holds, each file's sha256 and size, its services and the
secrets they need.

    {
      "version": 3,
      "deployment_name": "ai-stack",
      "created_at": "2025-10-16T14:00:00Z",
      "files": [{"path": "openwebui.container", "sha256": "…", "size": 512}, …],
      "services": [{"name": "openwebui", "type": "container", "image": "…",
                    "secrets_required": ["openai_api_key"]}],
      "secrets_required": ["openai_api_key"]
    }

``checksum: "sha256:…"`` is accepted for ``sha256`` (the seeds' older shape).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leger_core.names import ACCOUNT_SECRET_NAME, ACCOUNT_SECRET_RULE, SERVICE_NAME, SERVICE_RULE
from leger_plugin_deploy.archive import ReleaseRefused, check_relpath

MANIFEST_NAME = "manifest.json"
MAX_MANIFEST = 1024 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class FileEntry:
    path: str
    sha256: str | None
    size: int | None


@dataclass
class Manifest:
    raw: dict[str, Any]
    files: dict[str, FileEntry] | None  # None: the manifest does not list files

    @property
    def version(self) -> str | None:
        value = self.raw.get("version")
        return None if value is None else str(value)

    @property
    def deployment_name(self) -> str | None:
        value = self.raw.get("deployment_name") or self.raw.get("name")
        return value if isinstance(value, str) else None

    def service_secrets(self) -> dict[str, list[str]]:
        """service name → the secret names its manifest entry says it needs."""
        out: dict[str, list[str]] = {}
        for svc in self.raw.get("services") or []:
            if isinstance(svc, dict) and isinstance(svc.get("name"), str):
                names = svc.get("secrets_required") or svc.get("secrets") or []
                out[svc["name"]] = [n for n in names if isinstance(n, str)]
        return out

    def service_names(self) -> list[str]:
        names = []
        for svc in self.raw.get("services") or []:
            if isinstance(svc, dict) and isinstance(svc.get("name"), str):
                names.append(svc["name"])
            elif isinstance(svc, str):
                names.append(svc)
        return names


def parse_manifest(data: bytes, *, require_checksums: bool) -> Manifest:
    """Parse and check the shape of a manifest; with ``require_checksums`` every file entry
    must carry a sha256 and a size (bundles and manifest sources)."""
    if len(data) > MAX_MANIFEST:
        raise ReleaseRefused("refused: manifest.json is larger than 1 MiB")
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReleaseRefused(f"refused: manifest.json is not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ReleaseRefused("refused: manifest.json must be a JSON object")
    # The names a release asks for are the account's (leger secrets sync brings <prefix>NAME).
    for key in ("secrets_required",):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(
            isinstance(v, str) and ACCOUNT_SECRET_NAME.fullmatch(v) for v in value
        ):
            raise ReleaseRefused(
                f"refused: manifest.json {key} must be a list of secret names "
                f"({ACCOUNT_SECRET_RULE})"
            )
    services = raw.get("services", [])
    if not isinstance(services, list):
        raise ReleaseRefused("refused: manifest.json services must be a list")
    for svc in services:
        # "secrets" (the seeds' older key) is read when "secrets_required" is absent: its
        # strings are names too (anything else in it has always been skipped).
        for key in ("secrets_required", "secrets"):
            names = svc.get(key, []) if isinstance(svc, dict) else []
            if key == "secrets":
                names = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
            if not isinstance(names, list) or not all(
                isinstance(n, str) and ACCOUNT_SECRET_NAME.fullmatch(n) for n in names
            ):
                raise ReleaseRefused(
                    f"refused: manifest.json services[].{key} must list secret names "
                    f"({ACCOUNT_SECRET_RULE})"
                )
            name = svc.get("name") if isinstance(svc, dict) else None
            if names and isinstance(name, str) and not SERVICE_NAME.fullmatch(name):
                raise ReleaseRefused(
                    f"refused: manifest.json service {name[:80]!r} has secrets but is not a "
                    f"Leger service name ({SERVICE_RULE})"
                )
    listed = raw.get("files")
    if listed is None:
        if require_checksums:
            raise ReleaseRefused("refused: manifest.json does not list the release's files")
        return Manifest(raw, None)
    if not isinstance(listed, list):
        raise ReleaseRefused("refused: manifest.json files must be a list")
    files: dict[str, FileEntry] = {}
    for item in listed:
        entry = _file_entry(item, require_checksums)
        if entry.path in files:
            raise ReleaseRefused(f"refused: manifest.json lists {entry.path!r} twice")
        files[entry.path] = entry
    return Manifest(raw, files)


def _file_entry(item: Any, require_checksums: bool) -> FileEntry:
    if isinstance(item, str):
        if require_checksums:
            raise ReleaseRefused(f"refused: manifest.json lists {item!r} without a sha256")
        return FileEntry(check_relpath(item), None, None)
    if not isinstance(item, dict) or not isinstance(item.get("path"), str):
        raise ReleaseRefused("refused: manifest.json files[] entries need a 'path'")
    path = check_relpath(item["path"])
    digest = item.get("sha256")
    if digest is None and isinstance(item.get("checksum"), str):
        algo, _, digest = item["checksum"].partition(":")
        if algo != "sha256":
            raise ReleaseRefused(f"refused: manifest.json: {path}: only sha256 checksums")
    if digest is not None and not (isinstance(digest, str) and _HEX64.fullmatch(digest.lower())):
        raise ReleaseRefused(f"refused: manifest.json: {path}: sha256 is not 64 hex digits")
    size = item.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise ReleaseRefused(f"refused: manifest.json: {path}: size must be a whole number")
    if require_checksums and (digest is None or size is None):
        raise ReleaseRefused(f"refused: manifest.json lists {path!r} without sha256 and size")
    return FileEntry(path, digest.lower() if digest else None, size)


def verify_files(manifest: Manifest, files: Mapping[str, bytes], *, complete: bool) -> None:
    """Every file the manifest lists is present with its sha256 and size; with ``complete``,
    every file present is listed. Raises :class:`ReleaseRefused` naming the first mismatch."""
    if manifest.files is None:
        return
    for path, entry in sorted(manifest.files.items()):
        data = files.get(path)
        if data is None:
            raise ReleaseRefused(f"refused: manifest.json lists {path!r} but it is missing")
        if entry.size is not None and entry.size != len(data):
            raise ReleaseRefused(
                f"refused: {path}: size {len(data)} does not match manifest.json ({entry.size})"
            )
        if entry.sha256 is not None and entry.sha256 != sha256(data):
            raise ReleaseRefused(
                f"refused: {path}: sha256 {sha256(data)[:12]}… does not match manifest.json "
                f"({entry.sha256[:12]}…)"
            )
    if complete:
        extra = sorted(set(files) - set(manifest.files))
        if extra:
            raise ReleaseRefused(
                f"refused: {extra[0]!r} is in the release but not in manifest.json"
            )


def refresh_manifest(base: Mapping[str, Any] | None, files: Mapping[str, bytes]) -> dict[str, Any]:
    """``base`` with its ``files`` list recomputed from ``files`` (for ``leger deploy manifest``
    and ``leger deploy bundle``)."""
    out = dict(base or {})
    out["files"] = [
        {"path": path, "sha256": sha256(data), "size": len(data)}
        for path, data in sorted(files.items())
    ]
    return out
