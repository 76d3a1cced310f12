"""What changes between the installed files and a release: a file list and unified diffs."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass
class Changes:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def summary(self) -> str:
        return f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed"

    def as_dict(self) -> dict[str, list[str]]:
        return {"added": self.added, "changed": self.changed, "removed": self.removed}


def compare(old: Mapping[str, str], new: Mapping[str, str]) -> Changes:
    """``old`` and ``new`` map relative paths to sha256."""
    changes = Changes()
    for path in sorted(set(old) | set(new)):
        if path not in old:
            changes.added.append(path)
        elif path not in new:
            changes.removed.append(path)
        elif old[path] != new[path]:
            changes.changed.append(path)
        else:
            changes.unchanged.append(path)
    return changes


def _text(data: bytes | None) -> list[str] | None:
    if data is None:
        return []
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def render(
    changes: Changes,
    old_content: Callable[[str], bytes | None],
    new_content: Mapping[str, bytes],
    *,
    contents: bool = True,
) -> list[str]:
    """The file list, then (with ``contents``) a unified diff of every text file that changes;
    added and removed files are diffed against nothing."""
    lines: list[str] = []
    for mark, label, paths in (
        ("+", "added", changes.added),
        ("~", "changed", changes.changed),
        ("-", "removed", changes.removed),
    ):
        lines.extend(f"  {mark} {label:<8} {p}" for p in paths)
    if not contents:
        return lines
    for path in changes.added + changes.changed + changes.removed:
        before = _text(old_content(path) if path not in changes.added else None)
        after = _text(new_content.get(path))
        if before is None or after is None:
            lines.append(f"Binary file {path} differs")
            continue
        from_name = "/dev/null" if path in changes.added else f"a/{path}"
        to_name = "/dev/null" if path in changes.removed else f"b/{path}"
        for line in difflib.unified_diff(before, after, from_name, to_name):
            lines.append(line.rstrip("\n"))
            if not line.endswith("\n") and line[:1] in " +-":
                lines.append("\\ No newline at end of file")
    return lines
