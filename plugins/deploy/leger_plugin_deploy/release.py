"""What a release may hold, and checking it before anything is installed.

Quadlets (``.container .volume .network .pod .kube .image .build``) and assets (``.env .yaml
.yml .conf``) are installed; ``manifest.json`` is read; documentation and dotfiles of a git
repository (``README*``, ``*.md``, ``.gitignore``, ``.github/``) are skipped; anything else is
refused so that a release cannot drop scripts or binaries into the quadlet directory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from leger_core.errors import InvalidInputError
from leger_core.names import SERVICE_NAME, SERVICE_RULE
from leger_plugin_deploy.archive import ReleaseRefused, check_relpath
from leger_plugin_deploy.manifest import MANIFEST_NAME, Manifest
from leger_plugin_deploy.quadlet import (
    ASSET_SUFFIXES,
    Diagnostic,
    UnitFile,
    quadlet_type,
    secret_refs,
    service_name,
    validate_env,
    validate_quadlet,
    validate_text,
)

_DOC_NAMES = re.compile(r"(README|LICEN[CS]E|COPYING|NOTICE|CHANGELOG|AUTHORS)([._-].*)?", re.I)
_DOC_SUFFIXES = {".md", ".txt", ".rst"}
# Services run units from these quadlet types; volumes, networks, images and builds are
# resources the services pull in.
SERVICE_TYPES = {".container", ".kube", ".pod"}


def classify(path: str) -> str:
    """``quadlet``, ``asset``, ``manifest``, ``ignored`` or ``refused``."""
    if path == MANIFEST_NAME:
        return "manifest"
    pure = PurePosixPath(path)
    if any(part.startswith(".") for part in pure.parts[:-1]):
        return "ignored"  # .git/, .github/, …
    if pure.name.startswith(".") and pure.name != ".env":
        return "ignored"
    if quadlet_type(path):
        return "quadlet"
    if pure.name == ".env" or pure.suffix in ASSET_SUFFIXES:
        return "asset"
    if _DOC_NAMES.fullmatch(pure.name) or pure.suffix.lower() in _DOC_SUFFIXES:
        return "ignored"
    return "refused"


def check_allowed(path: str) -> str:
    """The kind of ``path`` (see :func:`classify`); a file a release may not hold is refused."""
    kind = classify(path)
    if kind == "refused":
        raise ReleaseRefused(
            f"refused: {path!r} is neither a quadlet (.container .volume .network .pod "
            ".kube .image .build) nor an asset (.env .yaml .yml .conf)"
        )
    return kind


@dataclass
class SplitRelease:
    files: dict[str, bytes]  # what is installed
    manifest: bytes | None
    ignored: list[str]


def split_release(all_files: Mapping[str, bytes]) -> SplitRelease:
    files: dict[str, bytes] = {}
    ignored: list[str] = []
    manifest = None
    for raw_path, data in sorted(all_files.items()):
        path = check_relpath(raw_path)
        kind = check_allowed(path)
        if kind == "manifest":
            manifest = data
        elif kind == "ignored":
            ignored.append(path)
        else:
            files[path] = data
    if not any(quadlet_type(p) for p in files):
        raise ReleaseRefused("refused: the release holds no quadlet files")
    return SplitRelease(files, manifest, ignored)


@dataclass
class CheckedRelease:
    units: dict[str, str] = field(default_factory=dict)  # quadlet path → service unit
    # service name → {"unit": …, "file": …, "secrets": [{"name", "env", "from"}]}
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    # asset path → units whose quadlets refer to it (restarted when it changes)
    asset_units: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[Diagnostic] = field(default_factory=list)


def env_name(secret: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", secret).upper()


def check_release(files: Mapping[str, bytes], manifest: Manifest | None) -> CheckedRelease:
    """Validate every file; raise :class:`InvalidInputError` listing every error (as
    ``file:line: message``), else return units, services and warnings."""
    out = CheckedRelease()
    errors: list[Diagnostic] = []
    parsed: dict[str, UnitFile] = {}
    basenames: dict[str, str] = {}
    for path, data in sorted(files.items()):
        if quadlet_type(path):
            unit, problems = validate_quadlet(data, path)
            base = PurePosixPath(path).name
            if base in basenames:
                problems.append(
                    Diagnostic(path, 0, f"same file name as {basenames[base]}; quadlet reads one")
                )
            basenames[base] = path
            if unit is not None:
                parsed[path] = unit
        elif path.endswith(".env"):
            problems = validate_env(data, path)
        else:
            problems = validate_text(data, path)
        for problem in problems:
            (errors if problem.level == "error" else out.warnings).append(problem)
    owners: dict[str, str] = {}
    for path, unit in parsed.items():
        name = service_name(path, unit)
        if name in owners:
            errors.append(Diagnostic(path, 0, f"{owners[name]} also generates {name}"))
        owners[name] = path
        out.units[path] = name
    errors.extend(_check_service_stems(parsed, manifest))
    if errors:
        # warnings too: an unknown key is often the typo behind a missing one
        shown = sorted([*errors, *out.warnings], key=lambda d: (d.path, d.line))
        listing = "\n".join(f"  {d}" for d in shown)
        raise InvalidInputError(f"the release is not valid; nothing was changed:\n{listing}")
    _collect_services(out, parsed, manifest)
    _collect_asset_units(out, parsed, files)
    return out


def _check_service_stems(
    parsed: Mapping[str, UnitFile], manifest: Manifest | None
) -> list[Diagnostic]:
    """A service whose secrets Leger delivers is named by its quadlet's stem, so the stem must
    be a Leger service name too (leger_core.names.SERVICE_NAME), not only a systemd unit name."""
    wanted = manifest.service_secrets() if manifest else {}
    problems: list[Diagnostic] = []
    for path, unit in parsed.items():
        pure = PurePosixPath(path)
        if pure.suffix not in SERVICE_TYPES or "@" in pure.stem:
            continue
        if (secret_refs(unit) or wanted.get(pure.stem)) and not SERVICE_NAME.fullmatch(pure.stem):
            problems.append(
                Diagnostic(
                    path,
                    0,
                    f"{pure.stem!r} names a service with secrets but is not a Leger service "
                    f"name (a service name is {SERVICE_RULE})",
                )
            )
    return problems


def _collect_services(
    out: CheckedRelease, parsed: Mapping[str, UnitFile], manifest: Manifest | None
) -> None:
    wanted = manifest.service_secrets() if manifest else {}
    for path, unit in parsed.items():
        pure = PurePosixPath(path)
        if pure.suffix not in SERVICE_TYPES or "@" in pure.stem:
            continue
        secrets: list[dict[str, str]] = []
        for ref in secret_refs(unit):
            env = ref.target if ref.type == "env" and ref.target else env_name(ref.name)
            secrets.append({"name": ref.name, "env": env, "from": "quadlet"})
        for name in wanted.get(pure.stem, []):
            secrets.append({"name": name, "env": env_name(name), "from": "manifest"})
        out.services[pure.stem] = {"unit": out.units[path], "file": path, "secrets": secrets}
    for name, secret_names in wanted.items():
        if name not in out.services:  # a manifest service without a quadlet of that name
            out.services[name] = {
                "unit": None,
                "file": None,
                "secrets": [
                    {"name": n, "env": env_name(n), "from": "manifest"} for n in secret_names
                ],
            }


def _collect_asset_units(
    out: CheckedRelease, parsed: Mapping[str, UnitFile], files: Mapping[str, bytes]
) -> None:
    for asset in files:
        if quadlet_type(asset):
            continue
        base = PurePosixPath(asset).name
        users: set[str] = set()
        for path, unit in parsed.items():
            dropin_dir = f"{PurePosixPath(path).name}.d"
            if dropin_dir in PurePosixPath(asset).parts or any(
                base in entry.value for entry in unit.entries
            ):
                users.add(out.units[path])
        out.asset_units[asset] = sorted(users)
