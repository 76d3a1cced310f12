"""Reading untrusted tar streams without letting ``tarfile`` parse a hostile header.

Python's ``tarfile`` before 3.12.6 / 3.11.10 parses pax extended headers with regular
expressions that take quadratic time on long runs of digits (CVE-2024-6232), holding the GIL
all the while: a 1 KB ``.tar.gz`` holding a few hundred KB of pax header freezes the process
for minutes. Requiring a patched Python is not a defence for those who run an older one, so
:class:`TarGuard` sits between the decompressed stream and ``tarfile`` and checks every
header block *before* ``tarfile`` sees it:

- extended headers (pax ``x``/``g``/``X``, GNU long name ``L`` / long link ``K``) may hold at
  most :data:`MAX_EXTENDED_HEADER` bytes, and at most :data:`MAX_EXTENDED_IN_A_ROW` of them
  may precede one member (``tarfile`` recurses once per extended header);
- a pax header must be well-formed records (``LEN KEY=VALUE\\n``, each length exact) with no
  run of more than :data:`MAX_DIGIT_RUN` digits, which makes ``tarfile``'s own parse linear;
- pax ``size`` and ``GNU.sparse.*`` keys and GNU sparse members are refused: they move member
  boundaries, and the guard must agree with ``tarfile`` on where each header starts;
- every byte of the archive (headers, padding and contents) counts against ``max_bytes``, and
  reading stops with an error once ``time_limit`` seconds have passed.

The guard finds header boundaries the way ``tarfile`` does: each 512-byte header is decoded
with the public :meth:`tarfile.TarInfo.frombuf`, and contents are skipped for regular files and
unknown types only (``tarfile`` reads no contents after a directory, link or device header).
A block ``tarfile`` would stop at (end-of-archive zeros, a bad checksum) ends the checking:
``tarfile`` reads no further headers either.
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
import time
from typing import IO, Any

from leger_core.errors import InvalidInputError

__all__ = [
    "MAX_DIGIT_RUN",
    "MAX_EXTENDED_HEADER",
    "MAX_EXTENDED_IN_A_ROW",
    "TarGuard",
    "TarRefused",
    "open_guarded_tar",
]

BLOCK = tarfile.BLOCKSIZE
MAX_EXTENDED_HEADER = 64 * 1024
MAX_EXTENDED_IN_A_ROW = 8
MAX_DIGIT_RUN = 64

_PAX_TYPES = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)
_GNU_LONG_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
_RECORD_LENGTH = re.compile(rb"([0-9]{1,20}) ")
_LONG_DIGITS = re.compile(rb"[0-9]{%d}" % (MAX_DIGIT_RUN + 1))


class TarRefused(InvalidInputError):
    """The tar stream is unsafe to hand to ``tarfile``; nothing was extracted."""


def _blocks(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _mib(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n} bytes"


class TarGuard(io.RawIOBase):
    """A pass-through reader over a *decompressed* tar stream that refuses hostile headers.

    Wrap it in :class:`io.BufferedReader` and give that to ``tarfile.open(mode="r|")``; or use
    :func:`open_guarded_tar`. ``header_bytes`` and ``archive_bytes`` say what it has counted.
    """

    def __init__(
        self,
        inner: IO[bytes],
        *,
        max_bytes: int,
        time_limit: float | None = None,
        max_extended: int = MAX_EXTENDED_HEADER,
    ) -> None:
        self.inner = inner
        self.max_bytes = max_bytes
        self.max_extended = max_extended
        self.time_limit = time_limit
        self.deadline = None if time_limit is None else time.monotonic() + time_limit
        self.archive_bytes = 0  # every byte up to the end-of-archive block
        self.header_bytes = 0  # header blocks plus extended-header contents
        self._header = bytearray()
        self._skip = 0  # contents (and padding) of the current member still to pass
        self._extended: bytearray | None = None
        self._extended_need = 0
        self._extended_type = b""
        self._extended_size = 0
        self._in_a_row = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise TarRefused(f"reading the archive took longer than {self.time_limit:g} s")
        data = self.inner.read(len(buffer))
        if not self._done:
            self._feed(data)
        n = len(data)
        buffer[:n] = data
        return n

    def _feed(self, data: bytes) -> None:
        view = memoryview(data)
        pos = 0
        while pos < len(view) and not self._done:
            if self._skip:
                step = min(self._skip, len(view) - pos)
                self._skip -= step
            elif self._extended is not None:
                step = min(self._extended_need - len(self._extended), len(view) - pos)
                self._extended += view[pos : pos + step]
                if len(self._extended) == self._extended_need:
                    self._check_extended(bytes(self._extended))
                    self._extended = None
            else:
                step = min(BLOCK - len(self._header), len(view) - pos)
                self._header += view[pos : pos + step]
                if len(self._header) == BLOCK:
                    block = bytes(self._header)
                    self._header.clear()
                    self._on_header(block)
                    if self._done:  # the end-of-archive block is not counted as contents
                        break
            pos += step
            self.archive_bytes += step
            if self.archive_bytes > self.max_bytes:
                raise TarRefused(
                    f"the archive unpacks to more than {_mib(self.max_bytes)} (headers included)"
                )

    def _on_header(self, block: bytes) -> None:
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError:
            # End of archive, or a block tarfile refuses: tarfile reads no header past it.
            self._done = True
            return
        self.header_bytes += BLOCK
        kind = info.type
        if kind in _PAX_TYPES or kind in _GNU_LONG_TYPES:
            self._in_a_row += 1
            if self._in_a_row > MAX_EXTENDED_IN_A_ROW:
                raise TarRefused(f"more than {MAX_EXTENDED_IN_A_ROW} extended tar headers in a row")
            if info.size > self.max_extended:
                raise TarRefused(
                    f"an extended tar header of {info.size} bytes"
                    f" (at most {self.max_extended} are allowed)"
                )
            self._extended_type = kind
            self._extended_size = info.size
            self._extended_need = _blocks(info.size)
            self.header_bytes += self._extended_need
            if self._extended_need:
                self._extended = bytearray()
            else:
                self._check_extended(b"")
            return
        self._in_a_row = 0
        if kind == tarfile.GNUTYPE_SPARSE:
            raise TarRefused(f"{info.name!r} is a GNU sparse file; archives hold plain files")
        # tarfile skips contents only for regular files and types it does not know.
        if info.isreg() or kind not in tarfile.SUPPORTED_TYPES:
            self._skip = _blocks(info.size)

    def _check_extended(self, block: bytes) -> None:
        if self._extended_type in _GNU_LONG_TYPES:
            return  # a NUL-terminated name: tarfile reads it in linear time
        if _LONG_DIGITS.search(block):
            raise TarRefused(
                f"a pax header holds a run of more than {MAX_DIGIT_RUN} digits"
                " (CVE-2024-6232 pattern)"
            )
        payload = block[: self._extended_size]
        pos = 0
        while pos < len(payload):
            match = _RECORD_LENGTH.match(payload, pos)
            if match is None:
                raise TarRefused("a pax header record is malformed")
            end = pos + int(match[1])
            if end > len(payload) or end <= match.end() + 1 or payload[end - 1] != 0x0A:
                raise TarRefused("a pax header record has a wrong length")
            equals = payload.find(b"=", match.end(), end - 1)
            if equals <= match.end():
                raise TarRefused("a pax header record has no keyword")
            keyword = payload[match.end() : equals]
            if keyword == b"size" or keyword.startswith(b"GNU.sparse."):
                # Both move where tarfile looks for the next header.
                raise TarRefused(f"pax header key {keyword.decode(errors='replace')!r} refused")
            pos = end


def open_guarded_tar(
    stream: IO[bytes],
    *,
    compressed: bool,
    max_bytes: int,
    time_limit: float | None = None,
) -> tuple[tarfile.TarFile, TarGuard]:
    """``tarfile.open(mode="r|")`` over ``stream`` (gunzipped first if ``compressed``) with a
    :class:`TarGuard` in between. Raises :class:`TarRefused` (also while iterating) or
    ``tarfile.TarError``; close the returned ``TarFile`` when done."""
    inner: IO[bytes] = gzip.GzipFile(fileobj=stream, mode="rb") if compressed else stream  # type: ignore[assignment]
    guard = TarGuard(inner, max_bytes=max_bytes, time_limit=time_limit)
    reader = io.BufferedReader(guard, buffer_size=64 * 1024)
    return tarfile.open(fileobj=reader, mode="r|"), guard
