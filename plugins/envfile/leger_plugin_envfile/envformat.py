"""The env file format: one ``NAME=value`` per line that podman and systemd read back the same.

podman's ``--env-file`` takes everything after the first ``=`` verbatim (no quotes, no escapes;
lines are split by Go's bufio.Scanner, which drops a trailing ``\\r`` and caps a line at 64 KiB).
systemd's ``EnvironmentFile=`` strips whitespace around an unquoted value, treats a backslash as
an escape, a leading quote as quoting, and skips invalid UTF-8 and control characters. There is
no quoting both understand, so a value is written verbatim and a value that one of them would
read differently is refused — never silently changed. Errors name the secret, never the value.

Standard library only: this runs on every container start (see :mod:`leger_plugin_envfile.fast`).
"""

from __future__ import annotations

import os

from leger_core.errors import InvalidInputError
from leger_core.names import ENV_NAME

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from collections.abc import Iterable

# Go's bufio.Scanner default token limit, minus the name, '=' and a little slack.
MAX_LINE = 64 * 1024 - 1


def value_problem(value: bytes) -> str | None:
    """Why ``value`` cannot be written to an env file, or None when it can."""
    if b"\n" in value:
        return "a newline"
    if b"\r" in value:
        return "a carriage return"
    if b"\x00" in value:
        return "a NUL byte"
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return "bytes that are not UTF-8 text"
    if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in text):
        return "a control character"
    if "\\" in text:
        return "a backslash (systemd reads it as an escape)"
    if text != text.strip(" \t"):
        return "leading or trailing whitespace (systemd strips it)"
    if text[:1] in ("'", '"'):
        return "a leading quote (systemd reads it as quoting)"
    return None


def render(entries: Iterable[tuple[str, str, bytes]]) -> bytes:
    """The file for ``(env name, secret name, value)`` entries, checked all first: either every
    line is written exactly or an :class:`InvalidInputError` naming the secret is raised."""
    lines: list[bytes] = [b"# Written by leger secrets fetch; removed by leger secrets clean.\n"]
    seen: set[str] = set()
    for env, secret, value in entries:
        if not ENV_NAME.fullmatch(env):
            raise InvalidInputError(f"{env!r} is not a valid environment variable name")
        if env in seen:
            raise InvalidInputError(f"environment variable {env} is given twice")
        seen.add(env)
        problem = value_problem(value)
        if problem is not None:
            raise InvalidInputError(
                f"secret {secret!r} ({env}) cannot go into an env file: its value contains "
                f"{problem}",
                hint="use the podman or initscript strategy for this secret",
            )
        line = env.encode() + b"=" + value + b"\n"
        if len(line) > MAX_LINE:
            raise InvalidInputError(
                f"secret {secret!r} ({env}) is too long for an env file (podman reads at most "
                f"{MAX_LINE} bytes per line)"
            )
        lines.append(line)
    return b"".join(lines)


def parse(data: bytes) -> dict[str, bytes]:
    """Read an env file the way podman's ``--env-file`` does (for tests and ``inject`` checks)."""
    result: dict[str, bytes] = {}
    for raw in data.split(b"\n"):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        stripped = line.lstrip(b" \t")
        if not stripped or stripped.startswith(b"#"):
            continue
        name, sep, value = stripped.partition(b"=")
        if sep:
            result[name.decode()] = value
    return result


def write_private(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600 from the first byte: a temp file in
    the same directory, fsync, rename, fsync the directory. Readers see the old file or the new
    one, never part of one.

    Like :func:`leger_core.fsutil.atomic_write`, without importing ``tempfile`` (its imports
    cost milliseconds on every container start)."""
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)  # in case of an unusual umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:  # noqa: SIM105 (contextlib costs ~3 ms a container start)
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def ensure_private_dir(path: str) -> None:
    """Create ``path`` (mode 0700) or tighten it if it is ours and too open."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    st = os.stat(path)
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        os.chmod(path, 0o700)
