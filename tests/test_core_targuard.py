"""TarGuard: hostile tar headers are refused before ``tarfile`` parses them; ordinary archives
(Python's pax and GNU formats, ``git archive``) read exactly as without it."""

from __future__ import annotations

import gzip
import io
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from leger_core.errors import InvalidInputError
from leger_core.targuard import MAX_EXTENDED_IN_A_ROW, TarGuard, TarRefused, open_guarded_tar
from leger_core.testing import pax_header_tar

FILES = {"manifest.json": b"{}", "web.container": b"[Container]\nImage=x\n"}


def _read(data: bytes, *, compressed: bool = False, **kwargs) -> dict[str, bytes]:
    kwargs.setdefault("max_bytes", 10 * 2**20)
    tar, _ = open_guarded_tar(io.BytesIO(data), compressed=compressed, **kwargs)
    out = {}
    with tar:
        for member in tar:
            fh = tar.extractfile(member) if member.isreg() else None
            out[member.name] = fh.read() if fh else member.linkname.encode()
    return out


def _plain(data: bytes) -> dict[str, bytes]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
        for member in tar:
            fh = tar.extractfile(member) if member.isreg() else None
            out[member.name] = fh.read() if fh else member.linkname.encode()
    return out


def _record(key: str, value: bytes) -> bytes:
    """One pax record, ``LEN key=value\\n`` with LEN counting itself."""
    body = b" %s=%s\n" % (key.encode(), value)
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length += 1
    return b"%d%s" % (length, body)


def _refused(data: bytes, *words: str, **kwargs) -> TarRefused:
    started = time.monotonic()
    with pytest.raises(TarRefused) as caught:
        _read(data, **kwargs)
    # Refused from the header alone: an unguarded tarfile spends seconds to minutes here.
    assert time.monotonic() - started < 1.0
    for word in words:
        assert word in str(caught.value), str(caught.value)
    assert isinstance(caught.value, InvalidInputError)  # exit code 7 in the CLI
    return caught.value


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT])
def test_ordinary_archives_read_as_without_the_guard(fmt):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tar:
        long_dir = "d" * 90 + "/" + "e" * 60 if fmt != tarfile.USTAR_FORMAT else "d" * 50
        for i in range(4):
            data = bytes([i]) * (i * 700)
            info = tarfile.TarInfo(f"{long_dir}/{i}-é.conf" if fmt == tarfile.PAX_FORMAT else
                                   f"{long_dir}/{i}.conf")  # fmt: skip
            info.size = len(data)
            info.mtime = 1.5 if fmt == tarfile.PAX_FORMAT else 1
            tar.addfile(info, io.BytesIO(data))
        folder = tarfile.TarInfo("folder")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        link = tarfile.TarInfo("link")
        link.type = tarfile.SYMTYPE
        link.linkname = "x" * (300 if fmt != tarfile.USTAR_FORMAT else 30)
        tar.addfile(link)
    data = raw.getvalue()
    assert _read(data) == _plain(data) and len(_plain(data)) == 6
    assert _read(gzip.compress(data), compressed=True) == _plain(data)


def test_git_archive_output_reads(tmp_path: Path):
    # git writes a pax global header (the commit id) in front of the files
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "web.container").write_text("[Container]\n")
    (repo / ("n" * 120 + ".conf")).write_text("long name\n")

    def git(*args: str) -> bytes:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=repo, env=env, check=True, capture_output=True,
        ).stdout  # fmt: skip

    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "x")
    data = git("archive", "--format=tar", "HEAD")
    assert _read(data) == _plain(data)
    assert _read(data)["web.container"] == b"[Container]\n"


def test_a_huge_pax_header_is_refused_from_its_size():
    data = gzip.compress(pax_header_tar(b"1" * 400_000, FILES), 9)
    assert len(data) < 1500  # ~1 KB on the wire
    _refused(data, "extended tar header of 400000 bytes", compressed=True)


@pytest.mark.parametrize("kind", [b"x", b"g", b"L", b"K"])
def test_every_kind_of_extended_header_is_bounded(kind):
    _refused(pax_header_tar(b"a" * 70_000, FILES, kind=kind), "at most 65536")


def test_a_digit_run_within_the_size_bound_is_refused():
    # 60 KB of digits in a well-formed record: small enough for the size bound, still
    # seconds of quadratic parsing in an unpatched tarfile
    record = _record("comment", b"1" * 60_000)
    assert record.startswith(b"60015 comment=")
    _refused(pax_header_tar(record, FILES), "run of more than 64 digits")


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"garbage without records", "malformed"),
        (b"99 path=a\n", "wrong length"),
        (b"7 path\n", "no keyword"),
        (b"12 size=100\n", "'size' refused"),
        (_record("GNU.sparse.major", b"1"), "GNU.sparse.major"),
    ],
)
def test_pax_records_must_be_well_formed_and_keep_boundaries(payload, words):
    _refused(pax_header_tar(payload, FILES), words)


def test_a_well_formed_pax_header_passes():
    record = _record("path", b"web.container")
    assert record == b"22 path=web.container\n"
    assert _read(pax_header_tar(record, {"ignored-name": b"data"})) == {"web.container": b"data"}


def test_extended_headers_in_a_row_are_bounded():
    one = pax_header_tar(_record("a", b"bcdef"), {})[: 2 * tarfile.BLOCKSIZE]  # header + payload
    member = pax_header_tar(b"", FILES)[tarfile.BLOCKSIZE :]  # the rest: files and end blocks
    assert _read(one * MAX_EXTENDED_IN_A_ROW + member).keys() == FILES.keys()
    _refused(one * (MAX_EXTENDED_IN_A_ROW + 1) + member, "extended tar headers in a row")


def test_header_bytes_count_against_the_limit():
    # each file is one byte, but the pax headers around them add up to ~300 KB
    record = _record("comment", b"c" * 30_000)
    chunks = [pax_header_tar(record, {f"f{i}": b"x"})[: -2 * tarfile.BLOCKSIZE] for i in range(10)]
    data = b"".join(chunks) + b"\0" * 2 * tarfile.BLOCKSIZE
    assert len(_read(data, max_bytes=400_000)) == 10
    _refused(data, "unpacks to more than 200000 bytes (headers included)", max_bytes=200_000)


def test_sparse_members_are_refused():
    sparse = tarfile.TarInfo("holes.conf")
    sparse.type = tarfile.GNUTYPE_SPARSE
    data = sparse.tobuf(format=tarfile.GNU_FORMAT) + b"\0" * 1024
    _refused(data, "GNU sparse file")


def test_reading_stops_at_the_time_limit():
    class Slow(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            time.sleep(0.05)
            chunk = self.data.read(min(len(buffer), 512))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    many = {f"f{i}": b"x" * 1000 for i in range(100)}
    data = pax_header_tar(b"", many)
    guard = TarGuard(Slow(data), max_bytes=10**7, time_limit=0.3)
    started = time.monotonic()
    with (
        pytest.raises(TarRefused, match=r"took longer than 0.3 s"),
        tarfile.open(fileobj=io.BufferedReader(guard, 512), mode="r|") as tar,
    ):
        for _member in tar:
            pass
    assert time.monotonic() - started < 2.0


def test_a_zero_time_limit_refuses_at_once():
    with pytest.raises(TarRefused, match="took longer than 0 s"):
        _read(pax_header_tar(b"", FILES), time_limit=0)
