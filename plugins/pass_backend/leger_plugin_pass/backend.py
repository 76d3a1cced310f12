"""The ``pass`` backend: each secret is a password-store entry, written by ``pass`` and read
with GnuPG as ``pass show`` reads it.

An entry's value is its first line, as ``pass`` itself treats it (``pass -c`` copies the first
line; the lines after it are notes such as ``login: me``). ``NAME#whole`` asks for the whole
entry, byte for byte (a key file, a certificate). password-store keeps no versions: the
current entry is version 1.

Where the store is: config ``[pass] store_dir``, else ``$PASSWORD_STORE_DIR``, else
``~/.password-store`` (pass's own default). GnuPG finds its keys as it always does
(``$GNUPGHOME``, the agent). This module is the fast entry of the backend, imported on every
container start that reads from pass: standard library only, and no ``re``.
"""

from __future__ import annotations

import os
import subprocess

from leger_core.errors import (
    ConfigError,
    DeniedError,
    InvalidInputError,
    NotFoundError,
    UnavailableError,
)
from leger_core.names import ALNUM
from leger_core.values import SecretInfo, SecretValue

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

WHOLE = "#whole"
_NAME_CHARS = frozenset(ALNUM + "_.@+=,-")
MAX_NAME = 256
TIMEOUT = 60.0  # a gpg that waits for a passphrase nobody types must not hang a start forever


def check_name(name: str) -> str:
    """A store path: ``/``-separated parts of letters, digits and ``_.@+=,-``, none empty,
    starting with ``.`` or ``-`` (no ``..``, no option-like names, no hidden files)."""
    parts = name.split("/")
    if (
        not name
        or len(name) > MAX_NAME
        or not all(p and p[0] not in ".-" and _NAME_CHARS.issuperset(p) for p in parts)
    ):
        raise InvalidInputError(
            f"invalid pass entry name {name!r}: use '/'-separated parts of letters, digits "
            "and '_.@+=,-', each not starting with '.' or '-'"
        )
    return name


def split_whole(name: str) -> tuple[str, bool]:
    """``"ssh/key#whole"`` → ``("ssh/key", True)``."""
    if name.endswith(WHOLE):
        return check_name(name[: -len(WHOLE)]), True
    return check_name(name), False


def first_line(data: bytes) -> bytes:
    return data.split(b"\n", 1)[0]


class PassBackend:
    def __init__(
        self, store_dir: str | None = None, command: str = "pass", gpg: str = "gpg"
    ) -> None:
        self.store_dir = os.path.expanduser(
            store_dir or os.environ.get("PASSWORD_STORE_DIR") or "~/.password-store"
        )
        self.command = command
        self.gpg = gpg

    def __repr__(self) -> str:
        return f"PassBackend({self.store_dir!r})"

    # --- reading -----------------------------------------------------------------------------

    def get(self, name: str, version: int = 0) -> SecretValue:
        entry, whole = split_whole(name)
        if version not in (0, 1):
            raise NotFoundError(
                f"pass entry {entry!r} has no version {version} (password-store keeps one)"
            )
        self._require(entry)
        return self._value(self._finish(entry, self._show(entry)), whole)

    def get_many(self, names: Sequence[str]) -> dict[str, SecretValue]:
        """Every ``pass show`` runs at the same time: GnuPG's decryptions overlap."""
        started: list[tuple[str, str, bool, subprocess.Popen[bytes]]] = []
        values: dict[str, SecretValue] = {}
        try:
            for name in dict.fromkeys(names):
                entry, whole = split_whole(name)
                if os.path.isfile(self._path(entry)):
                    started.append((name, entry, whole, self._show(entry)))
            for name, entry, whole, proc in started:
                values[name] = self._value(self._finish(entry, proc), whole)
        finally:
            for *_, proc in started:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        return values

    def info(self, name: str) -> SecretInfo:
        entry, _ = split_whole(name)
        self._require(entry)
        return SecretInfo(name=entry, versions=(1,), active_version=1)

    # --- writing -----------------------------------------------------------------------------

    def put(self, name: str, value: SecretValue) -> int:
        entry, _ = split_whole(name)
        if os.path.isfile(self._path(entry)) and self.get(entry + WHOLE) == value:
            return 1  # unchanged: no re-encryption, no git commit
        self._run(["insert", "--multiline", "--force", "--", entry], value.reveal(), entry)
        return 1

    def delete(self, name: str) -> None:
        entry, _ = split_whole(name)
        self._require(entry)
        self._run(["rm", "--force", "--", entry], None, entry)

    # --- plumbing ----------------------------------------------------------------------------

    def _path(self, entry: str) -> str:
        return os.path.join(self.store_dir, entry + ".gpg")

    def _require(self, entry: str) -> None:
        if not os.path.isfile(self._path(entry)):
            raise NotFoundError(f"pass entry {entry!r} not found in {self.store_dir}")

    @staticmethod
    def _value(data: bytes, whole: bool) -> SecretValue:
        return SecretValue(data if whole else first_line(data))

    def _env(self) -> dict[str, str]:
        return {**os.environ, "PASSWORD_STORE_DIR": self.store_dir}

    def _spawn(
        self, argv: list[str], stdin: int | None, program: str | None = None
    ) -> subprocess.Popen[bytes]:
        try:
            return subprocess.Popen(
                argv,
                stdin=stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._env(),
            )
        except FileNotFoundError:
            raise UnavailableError(
                f"{program or argv[0]!r} is not installed",
                hint="install password-store and GnuPG (Debian: apt-get install pass)",
            ) from None

    def _show(self, entry: str) -> subprocess.Popen[bytes]:
        """Decrypt the entry's file with gpg, exactly as ``pass show`` does (same options,
        ``$PASSWORD_STORE_GPG_OPTS`` first), without pass's shell wrapper: that wrapper costs
        about three times the decryption on every container start. Writes go through ``pass``
        (recipients from ``.gpg-id``, git commits)."""
        extra = os.environ.get("PASSWORD_STORE_GPG_OPTS", "").split()
        argv = [self.gpg, "-d", *extra, "--quiet", "--yes", "--compress-algo=none"]
        argv += ["--no-encrypt-to", "--batch", "--use-agent", "--", self._path(entry)]
        return self._spawn(argv, subprocess.DEVNULL)

    def _finish(
        self, entry: str, proc: subprocess.Popen[bytes], data: bytes | None = None
    ) -> bytes:
        try:
            out, err = proc.communicate(data, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise UnavailableError(
                f"pass did not answer for {entry!r} in {TIMEOUT:.0f} s",
                hint="is GnuPG waiting for a passphrase? unlock the key in gpg-agent first",
            ) from None
        if proc.returncode != 0:
            self._raise_for(entry, err)
        return out

    def _run(self, args: list[str], data: bytes | None, entry: str) -> bytes:
        stdin = subprocess.PIPE if data is not None else subprocess.DEVNULL
        proc = self._spawn([self.command, *args], stdin)
        return self._finish(entry, proc, data)

    def _raise_for(self, entry: str, stderr: bytes) -> None:
        # pass's and gpg's messages name files and keys, never decrypted data.
        text = stderr.decode("utf-8", "replace").strip().splitlines()
        detail = text[-1] if text else "no message"
        if "not in the password store" in detail:
            raise NotFoundError(f"pass entry {entry!r} not found in {self.store_dir}")
        if "pass init" in " ".join(text):
            raise ConfigError(
                f"the password store at {self.store_dir} is not initialised",
                hint="run `pass init GPG-ID`",
            )
        if any("No secret key" in line or "decryption failed" in line for line in text):
            raise DeniedError(f"GnuPG cannot decrypt pass entry {entry!r}: {detail}")
        raise UnavailableError(f"pass failed for {entry!r}: {detail}")

    # Last in the class: below it, ``list`` names this method, not the builtin.
    def list(self) -> list[SecretInfo]:
        """The store's entries (file names only: nothing is decrypted)."""
        names = []
        for root, dirs, files in os.walk(self.store_dir):
            dirs[:] = [d for d in dirs if not d.startswith(".")]  # .git, .extensions
            rel = os.path.relpath(root, self.store_dir)
            for file in files:
                if file.endswith(".gpg") and not file.startswith("."):
                    entry = file[: -len(".gpg")]
                    names.append(entry if rel == "." else f"{rel}/{entry}")
        return [SecretInfo(name=n, versions=(1,), active_version=1) for n in sorted(names)]


def open_backend(config: Any) -> PassBackend:
    """The backend from config ``[pass] store_dir``, ``command`` and ``gpg`` (also the fast
    entry)."""

    def text(key: str) -> str | None:
        value = config.get(key) if config is not None else None
        return value if isinstance(value, str) and value else None

    return PassBackend(
        text("pass.store_dir"), text("pass.command") or "pass", text("pass.gpg") or "gpg"
    )


def backend_factory(leger: Any) -> PassBackend:
    return open_backend(leger.config)
