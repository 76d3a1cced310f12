"""Reading release archives safely, and writing bundles.

A release archive comes from a server or a git repository that may be hostile, so it is read
as a stream with limits enforced *while* decompressing (file count, per-file and total size,
compression ratio), every member is passed through the stdlib ``tarfile`` "data" filter, and
anything but regular files and directories (links, devices, fifos) is refused outright.
Every header is checked by :class:`leger_core.targuard.TarGuard` before ``tarfile`` parses it
(bounded extended headers, CVE-2024-6232), and reading stops after ``Limits.max_seconds``.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from leger_core.errors import InvalidInputError
from leger_core.targuard import TarGuard, TarRefused


@dataclass(frozen=True)
class Limits:
    max_files: int = 1000
    max_file_size: int = 16 * 1024 * 1024
    max_total_size: int = 64 * 1024 * 1024
    max_ratio: int = 100  # uncompressed : compressed, checked once past ratio_floor bytes
    ratio_floor: int = 4 * 1024 * 1024
    max_depth: int = 8
    max_name: int = 255
    max_seconds: float = 60.0  # wall time to read the whole archive


DEFAULT_LIMITS = Limits()


class ReleaseRefused(InvalidInputError):
    """A release that is unsafe or does not match its manifest; nothing was installed."""


def check_relpath(name: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """``name`` as a clean relative POSIX path inside the release, or :class:`ReleaseRefused`."""
    if "\x00" in name or "\\" in name:
        raise ReleaseRefused(f"refused: unsafe file name {name!r}")
    if name.startswith("/"):
        raise ReleaseRefused(f"refused: absolute path {name!r} in release")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts:
        raise ReleaseRefused(f"refused: empty path {name!r} in release")
    if ".." in parts:
        raise ReleaseRefused(f"refused: path {name!r} escapes the release ('..')")
    if len(parts) > limits.max_depth or any(len(p) > limits.max_name for p in parts):
        raise ReleaseRefused(f"refused: path {name[:80]!r} is too deep or too long")
    return "/".join(parts)


class _Counting(io.RawIOBase):
    """Counts bytes read from the compressed input (for the ratio check)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


def _budget(limits: Limits) -> int:
    """Bytes the decompressed tar stream may hold: tar headers and padding ride on top of
    file contents (extended headers count against this too, see TarGuard)."""
    return limits.max_total_size + (limits.max_files + 16) * 1536


class _Bounded(io.RawIOBase):
    """Refuses to yield more than the limits allow: stops a gzip bomb while it expands."""

    def __init__(self, inner: IO[bytes], limits: Limits, compressed: _Counting | None) -> None:
        self.inner = inner
        self.limits = limits
        self.compressed = compressed
        self.count = 0
        self.budget = _budget(limits)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self.inner.read(len(buffer))
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise ReleaseRefused(f"refused: the archive is corrupt ({exc})") from None
        n = len(data)
        buffer[:n] = data
        self.count += n
        if self.count > self.budget:
            raise ReleaseRefused(
                f"refused: the archive expands beyond {self.limits.max_total_size // 2**20} MiB"
                " (a gzip bomb?)"
            )
        if self.compressed is not None and self.count > self.limits.ratio_floor:
            ratio = self.count / max(self.compressed.count, 1)
            if ratio > self.limits.max_ratio:
                raise ReleaseRefused(
                    f"refused: the archive expands more than {self.limits.max_ratio}:1"
                    " (a gzip bomb?)"
                )
        return n


def read_tar(
    stream: IO[bytes], *, compressed: bool = True, limits: Limits = DEFAULT_LIMITS
) -> dict[str, bytes]:
    """Every regular file of a tar stream as ``relative path → bytes``; refuses links, devices,
    absolute or escaping paths, duplicates, and archives over the limits."""
    counting = _Counting(stream) if compressed else None
    inner: IO[bytes] = (
        gzip.GzipFile(fileobj=counting, mode="rb") if counting else stream  # type: ignore[assignment]
    )
    bounded = io.BufferedReader(_Bounded(inner, limits, counting), buffer_size=64 * 1024)
    guard = TarGuard(bounded, max_bytes=_budget(limits), time_limit=limits.max_seconds)
    try:
        return _read_guarded(io.BufferedReader(guard, buffer_size=64 * 1024), limits)
    except TarRefused as exc:
        raise ReleaseRefused(f"refused: {exc}") from None


def _read_guarded(stream: IO[bytes], limits: Limits) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    members = 0
    with tempfile.TemporaryDirectory(prefix="leger-tar-") as tmp:
        try:
            tar = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 - `with` below
        except tarfile.TarError as exc:
            raise ReleaseRefused(f"refused: not a tar archive ({exc})") from None
        with tar:
            try:
                for member in tar:
                    members += 1
                    if members > limits.max_files:
                        raise ReleaseRefused(
                            f"refused: the archive has more than {limits.max_files} entries"
                        )
                    name = _check_member(member, tmp, limits)
                    if member.isdir():
                        continue
                    if name in files:
                        raise ReleaseRefused(f"refused: {name!r} appears twice in the archive")
                    total += member.size
                    if total > limits.max_total_size:
                        raise ReleaseRefused(
                            f"refused: the files add up to more than "
                            f"{limits.max_total_size // 2**20} MiB"
                        )
                    member.name = name
                    # Extracted through the data filter into a private directory, then read
                    # back: the filter is a second line of defence behind the checks above.
                    tar.extract(member, tmp, filter="data", set_attrs=False)
                    target = Path(tmp, name)
                    files[name] = target.read_bytes()
                    target.unlink()
            except tarfile.FilterError as exc:
                raise ReleaseRefused(f"refused: {exc}") from None
            except (tarfile.TarError, EOFError, gzip.BadGzipFile, OSError) as exc:
                if isinstance(exc, ReleaseRefused):
                    raise
                raise ReleaseRefused(f"refused: the archive is corrupt ({exc})") from None
    return files


def _check_member(member: tarfile.TarInfo, tmp: str, limits: Limits) -> str:
    raw = member.name
    if raw.startswith("/"):
        raise ReleaseRefused(f"refused: absolute path {raw!r} in release")
    if member.issym() or member.islnk():
        raise ReleaseRefused(
            f"refused: {raw!r} is a link (to {member.linkname!r}); releases hold plain files only"
        )
    if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
        raise ReleaseRefused(f"refused: {raw!r} is a device or special file")
    if not (member.isreg() or member.isdir()):
        raise ReleaseRefused(f"refused: {raw!r} is not a regular file")
    name = check_relpath(raw, limits)
    tarfile.data_filter(member, tmp)  # raises FilterError for anything it would not extract
    if member.isreg() and member.size > limits.max_file_size:
        raise ReleaseRefused(
            f"refused: {name!r} is larger than {limits.max_file_size // 2**20} MiB"
        )
    return name


def read_tar_file(path: Path, limits: Limits = DEFAULT_LIMITS) -> dict[str, bytes]:
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InvalidInputError(f"cannot read bundle {path}: {exc.strerror}") from None
    with fh:
        return read_tar(fh, compressed=True, limits=limits)


def write_bundle(files: Mapping[str, bytes], out: IO[bytes]) -> None:
    """A reproducible ``.tar.gz`` of ``files``: sorted, mtime 0, root-owned, mode 0644."""
    with (
        gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in sorted(files):
            data = files[name]
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))


def bundle_bytes(files: Mapping[str, bytes]) -> bytes:
    buf = io.BytesIO()
    write_bundle(files, buf)
    return buf.getvalue()


def dumps_manifest(manifest: Mapping[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode()
