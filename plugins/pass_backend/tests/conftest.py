"""A throwaway GnuPG home with a key made here, and a fresh password store per test."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from leger_core.models import SecretValue
from leger_plugin_pass.backend import PassBackend

KEY_UID = "leger-test <leger-test@example.invalid>"


@pytest.fixture(scope="session")
def gnupg_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(
        ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", KEY_UID, "default", "default",
         "never"],
        env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    try:
        yield home
    finally:
        # The agent gpg started for this home, and only that one.
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, capture_output=True)


class PassStore:
    def __init__(self, root: Path, gnupg: Path) -> None:
        self.dir = root
        self.env = {"GNUPGHOME": str(gnupg), "PASSWORD_STORE_DIR": str(root)}

    def run(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["pass", *args],
            env={**os.environ, **self.env},
            input=input,
            capture_output=True,
            timeout=60,
        )

    def insert(self, name: str, data: bytes) -> None:
        """What a user does: ``pass insert -m`` with the entry on stdin."""
        proc = self.run("insert", "--multiline", "--force", name, input=data)
        assert proc.returncode == 0, proc.stderr

    def backend(self) -> PassBackend:
        return PassBackend(str(self.dir))


@pytest.fixture
def pass_store(tmp_path: Path, gnupg_home: Path, monkeypatch: pytest.MonkeyPatch) -> PassStore:
    store = PassStore(tmp_path / "password-store", gnupg_home)
    monkeypatch.setenv("GNUPGHOME", str(gnupg_home))
    proc = store.run("init", "leger-test@example.invalid")
    assert proc.returncode == 0, proc.stderr
    return store


__all__ = ["PassStore", "SecretValue"]
