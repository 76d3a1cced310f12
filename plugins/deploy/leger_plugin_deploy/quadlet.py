"""Quadlet files: systemd's unit-file syntax (systemd.syntax(7)) and podman's quadlet keys.

The parser keeps every entry with its line number so that messages read ``file:line: message``
(like a compiler's), and keeps repeated keys in order (``Secret=`` may appear many times).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from leger_core.names import PODMAN_SECRET_NAME, PODMAN_SECRET_RULE
from leger_plugin_deploy.quadlet_keys import QUADLET_KEYS, REQUIRED, SYSTEMD_SECTIONS, TYPES

QUADLET_SUFFIXES = frozenset(TYPES)
ASSET_SUFFIXES = frozenset({".env", ".yaml", ".yml", ".conf"})

_SECTION = re.compile(r"\[([^\[\]]+)\]")
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
# systemd's unit names (unit_name_is_valid), not Leger's service names (leger_core.names): a
# quadlet's stem is letters, digits, ":", "-", "_", ".", "\\", and "@" for templates; a name
# ServiceName= gives has the same characters without "@" (it names one unit, not a template),
# and at most 256 characters with the ".service" suffix. The name reaches systemctl, so it must
# never be a path, an option or something systemd would read differently.
_UNIT_CHARS = r"[A-Za-z0-9:_.\\-]"
_UNIT_STEM = re.compile(rf"{_UNIT_CHARS}+(@{_UNIT_CHARS}*)?")
_UNIT_NAME = re.compile(rf"{_UNIT_CHARS}+")
MAX_LINE = 1024 * 1024  # systemd's own limit on a (joined) line
UNIT_NAME_MAX = 256


@dataclass(frozen=True)
class Diagnostic:
    path: str
    line: int
    message: str
    level: str = "error"  # or "warning"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.level}: {self.message}"


@dataclass(frozen=True)
class Entry:
    section: str
    key: str
    value: str
    line: int


@dataclass
class UnitFile:
    """A parsed unit file: entries in file order, sections with the line they start on."""

    path: str
    entries: list[Entry] = field(default_factory=list)
    sections: dict[str, int] = field(default_factory=dict)

    def values(self, section: str, key: str) -> list[str]:
        """Every value of ``key`` in ``section``, honouring systemd's rule that an empty
        assignment resets the list."""
        out: list[str] = []
        for entry in self.entries:
            if entry.section == section and entry.key == key:
                if entry.value == "":
                    out.clear()
                else:
                    out.append(entry.value)
        return out

    def last(self, section: str, key: str) -> str | None:
        values = self.values(section, key)
        return values[-1] if values else None


def parse(text: str, path: str) -> tuple[UnitFile, list[Diagnostic]]:
    """Parse ``text`` with systemd's syntax: ``[Section]`` headers, ``Key=Value`` entries,
    ``#``/``;`` comments, and lines ending in ``\\`` continued on the next (comment lines inside
    a continuation are skipped)."""
    unit = UnitFile(path)
    problems: list[Diagnostic] = []
    section: str | None = None
    pending: list[str] = []  # parts of a continued line
    pending_line = 0

    def handle(line: str, lineno: int) -> None:
        nonlocal section
        if len(line) > MAX_LINE:
            problems.append(Diagnostic(path, lineno, "line is longer than 1 MiB"))
            return
        match = _SECTION.fullmatch(line)
        if line.startswith("["):
            if not match:
                problems.append(Diagnostic(path, lineno, f"malformed section header {line!r}"))
                return
            section = match.group(1)
            unit.sections.setdefault(section, lineno)
            return
        if "=" not in line:
            problems.append(Diagnostic(path, lineno, f"expected Key=Value, got {line!r}"))
            return
        key, value = line.split("=", 1)
        key, value = key.strip(), value.strip()
        if not _KEY.fullmatch(key):
            problems.append(Diagnostic(path, lineno, f"invalid key name {key!r}"))
            return
        if section is None:
            problems.append(Diagnostic(path, lineno, f"{key}= is outside of any [Section]"))
            return
        unit.entries.append(Entry(section, key, value, lineno))

    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        stripped = line.strip()
        if pending:
            if stripped.startswith(("#", ";")):
                continue  # systemd: a comment inside a continuation is ignored
            if stripped.endswith("\\"):
                pending.append(stripped[:-1])
                continue
            pending.append(stripped)
            handle(" ".join(pending).strip(), pending_line)
            pending = []
            continue
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if stripped.endswith("\\"):
            pending = [stripped[:-1]]
            pending_line = lineno
            continue
        handle(stripped, lineno)
    if pending:
        # systemd accepts a trailing backslash at the end of the file; say so, then use it.
        problems.append(
            Diagnostic(path, pending_line, "continuation '\\' at the end of the file", "warning")
        )
        handle(" ".join(pending).strip(), pending_line)
    return unit, problems


def decode(data: bytes, path: str) -> tuple[str | None, list[Diagnostic]]:
    if b"\x00" in data:
        return None, [Diagnostic(path, 0, "contains NUL bytes; not a text file")]
    try:
        return data.decode("utf-8").removeprefix("\ufeff"), []
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [Diagnostic(path, line, "is not valid UTF-8")]


def quadlet_type(path: str) -> str | None:
    suffix = PurePosixPath(path).suffix
    return suffix if suffix in QUADLET_SUFFIXES else None


def validate_quadlet(data: bytes, path: str) -> tuple[UnitFile | None, list[Diagnostic]]:
    """Parse and check one quadlet file: its own section, known keys, required keys."""
    text, problems = decode(data, path)
    if text is None:
        return None, problems
    kind = quadlet_type(path)
    assert kind is not None
    own_section, known_keys, _ = TYPES[kind]
    stem = PurePosixPath(path).stem
    if not _UNIT_STEM.fullmatch(stem):
        problems.append(Diagnostic(path, 0, f"{stem!r} is not a valid systemd unit name"))
    unit, syntax = parse(text, path)
    problems.extend(syntax)
    if own_section not in unit.sections:
        problems.append(Diagnostic(path, 0, f"a {kind} file needs a [{own_section}] section"))
    for name, line in unit.sections.items():
        if name in (own_section, "Quadlet") or name in SYSTEMD_SECTIONS or name.startswith("X-"):
            continue
        problems.append(Diagnostic(path, line, f"unknown section [{name}]", "warning"))
    for entry in unit.entries:
        if entry.section == own_section and entry.key not in known_keys:
            problems.append(
                Diagnostic(
                    path, entry.line, f"unknown key {entry.key}= in [{own_section}]", "warning"
                )
            )
        elif entry.section == "Quadlet" and entry.key not in QUADLET_KEYS:
            problems.append(
                Diagnostic(path, entry.line, f"unknown key {entry.key}= in [Quadlet]", "warning")
            )
    problems.extend(_check_service_name(unit, own_section, path))
    problems.extend(_check_secret_names(unit, path))
    required = REQUIRED.get(kind)
    if required and own_section in unit.sections:
        keys, message = required
        if not any(unit.values(own_section, k) for k in keys):
            problems.append(Diagnostic(path, unit.sections[own_section], message))
    return unit, sorted(problems, key=lambda d: d.line)


def _check_service_name(unit: UnitFile, section: str, path: str) -> list[Diagnostic]:
    explicit = [e for e in unit.entries if e.section == section and e.key == "ServiceName"]
    for entry in explicit:
        base = entry.value.removesuffix(".service")
        if entry.value and not _UNIT_NAME.fullmatch(base):
            return [
                Diagnostic(
                    path,
                    entry.line,
                    f"ServiceName={entry.value[:80]!r} is not a valid systemd unit name "
                    "(letters, digits and : _ . \\ - only)",
                )
            ]
    name = service_name(path, unit)
    if len(name) > UNIT_NAME_MAX:
        line = explicit[-1].line if explicit else 0
        return [Diagnostic(path, line, f"the unit name {name[:40]}… is longer than 256 characters")]
    return []


def _check_secret_names(unit: UnitFile, path: str) -> list[Diagnostic]:
    """``Secret=NAME,…``: NAME is created and looked up in podman, so it must be a name podman
    accepts (leger_core.names.PODMAN_SECRET_NAME, the stricter of podman 4 and 5)."""
    problems: list[Diagnostic] = []
    for entry in unit.entries:
        if entry.section != "Container" or entry.key != "Secret":
            continue
        name = entry.value.split(",", 1)[0].strip()
        if name and not PODMAN_SECRET_NAME.fullmatch(name):
            problems.append(
                Diagnostic(
                    path,
                    entry.line,
                    f"Secret={name[:80]!r}: podman would refuse this secret name "
                    f"(a podman secret name is {PODMAN_SECRET_RULE})",
                )
            )
    return problems


def validate_env(data: bytes, path: str) -> list[Diagnostic]:
    """An env file podman/systemd will read: ``NAME=value`` lines and comments."""
    text, problems = decode(data, path)
    if text is None:
        return problems
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        name = line.removeprefix("export ").split("=", 1)[0].strip()
        if "=" not in line or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name):
            problems.append(Diagnostic(path, lineno, f"expected NAME=value, got {line[:40]!r}"))
    return problems


def validate_text(data: bytes, path: str) -> list[Diagnostic]:
    return decode(data, path)[1]


def service_name(path: str, unit: UnitFile | None) -> str:
    """The systemd service quadlet generates for ``path``: ``web.container`` → ``web.service``,
    ``db.volume`` → ``db-volume.service``; ``ServiceName=`` overrides."""
    kind = quadlet_type(path)
    assert kind is not None
    section, _, suffix = TYPES[kind]
    if unit is not None:
        explicit = unit.last(section, "ServiceName")
        if explicit:
            return explicit if explicit.endswith(".service") else explicit + ".service"
    return f"{PurePosixPath(path).stem}{suffix}.service"


@dataclass(frozen=True)
class SecretRef:
    """A ``Secret=`` line: podman secret ``name`` delivered as env ``target`` or as a file."""

    name: str
    type: str
    target: str | None


def secret_refs(unit: UnitFile) -> list[SecretRef]:
    """The ``Secret=`` lines of a container: ``name[,type=env|mount][,target=…]``."""
    refs: list[SecretRef] = []
    for value in unit.values("Container", "Secret"):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not parts:
            continue
        options: dict[str, str] = {}
        for part in parts[1:]:
            key, _, val = part.partition("=")
            options[key.strip()] = val.strip()
        refs.append(SecretRef(parts[0], options.get("type", "mount"), options.get("target")))
    return refs
