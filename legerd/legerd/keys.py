"""The key hierarchy: a key-encryption key in ``keys/main.key`` wraps a random data key in
``keys/data.key``; the data key encrypts the database.

Rotating the key-encryption key re-wraps the data key only, so no secret is re-encrypted and
nothing is re-typed. Each step of a rotation leaves a ``data.key`` that has a wrap for whatever
``main.key`` is on disk at that moment, so a crash at any point still opens.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from leger_core.fsutil import atomic_write
from legerd.errors import StateError

KEK_PREFIX = b"legerd-kek-v1:"
DATAKEY_FORMAT = "legerd-datakey-v1"


def fingerprint(kek: bytes) -> str:
    """A short public name for a key-encryption key (not secret: a hash of 256 random bits)."""
    return hashlib.sha256(b"legerd kek fingerprint|" + kek).hexdigest()[:16]


def _wrap_ad(fp: str) -> bytes:
    # Binds a wrap to the key that made it and to what it is (a data key, not a database).
    return f"{DATAKEY_FORMAT}|{fp}".encode()


class KeyFiles:
    """The two key files of a state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir / "keys"
        self.main = self.dir / "main.key"
        self.data = self.dir / "data.key"

    def exists(self) -> bool:
        return self.main.exists() or self.data.exists()

    # --- reading ---------------------------------------------------------------------------

    def read_kek(self) -> bytes:
        try:
            raw = self.main.read_bytes().strip()
        except FileNotFoundError:
            raise StateError(
                f"{self.main} is missing: without it the secrets cannot be decrypted; "
                "restore it from your backup (legerd will not make a new one over existing data)"
            ) from None
        if not raw.startswith(KEK_PREFIX):
            raise StateError(f"{self.main} is not a legerd key file")
        try:
            kek = base64.b64decode(raw[len(KEK_PREFIX) :], validate=True)
        except ValueError:
            raise StateError(f"{self.main} is damaged (not base64)") from None
        if len(kek) != 32:
            raise StateError(f"{self.main} is damaged (wrong length)")
        return kek

    def _read_wraps(self) -> list[dict[str, str]]:
        try:
            doc = json.loads(self.data.read_bytes())
        except FileNotFoundError:
            raise StateError(f"{self.data} is missing; restore it from your backup") from None
        except ValueError:
            raise StateError(f"{self.data} is damaged (not JSON)") from None
        if not isinstance(doc, dict) or doc.get("format") != DATAKEY_FORMAT:
            raise StateError(f"{self.data} is not a legerd data key file")
        wraps = doc.get("wraps")
        if not isinstance(wraps, list):
            raise StateError(f"{self.data} is damaged (no wraps)")
        return wraps

    def load_data_key(self) -> tuple[bytes, str]:
        """The data key and the fingerprint of the key-encryption key that unwrapped it."""
        kek = self.read_kek()
        fp = fingerprint(kek)
        for wrap in self._read_wraps():
            if not isinstance(wrap, dict) or wrap.get("kek") != fp:
                continue
            try:
                nonce = base64.b64decode(wrap["nonce"])
                sealed = base64.b64decode(wrap["sealed"])
                data_key = AESGCM(kek).decrypt(nonce, sealed, _wrap_ad(fp))
            except (KeyError, ValueError, TypeError, InvalidTag):
                raise StateError(
                    f"{self.data} failed authentication with {self.main}: the file was tampered "
                    "with or damaged; legerd refuses to start and changed nothing"
                ) from None
            return data_key, fp
        raise StateError(
            f"{self.main} (key {fp}) is not the key that wraps {self.data}: wrong key file? "
            "legerd refuses to start and changed nothing"
        )

    # --- writing ---------------------------------------------------------------------------

    def _write_kek(self, path: Path, kek: bytes) -> None:
        atomic_write(path, KEK_PREFIX + base64.b64encode(kek) + b"\n", mode=0o600)

    def _write_wraps(self, data_key: bytes, keks: list[bytes]) -> None:
        wraps = []
        for kek in keks:
            fp = fingerprint(kek)
            nonce = os.urandom(12)
            sealed = AESGCM(kek).encrypt(nonce, data_key, _wrap_ad(fp))
            wraps.append(
                {
                    "kek": fp,
                    "nonce": base64.b64encode(nonce).decode(),
                    "sealed": base64.b64encode(sealed).decode(),
                }
            )
        doc = {"format": DATAKEY_FORMAT, "wraps": wraps}
        atomic_write(self.data, json.dumps(doc, indent=1).encode() + b"\n", mode=0o600)

    def create(self) -> bytes:
        """New key-encryption key and data key; returns the data key."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        kek = AESGCM.generate_key(bit_length=256)
        data_key = AESGCM.generate_key(bit_length=256)
        self._write_kek(self.main, kek)
        self._write_wraps(data_key, [kek])
        return data_key

    def rotate(self) -> tuple[str, str]:
        """Re-wrap the data key under a new key-encryption key; returns (old, new) fingerprints.

        Order: (1) data.key gets wraps for both keys, (2) main.key is replaced, (3) data.key
        keeps only the new wrap. A crash between any two steps leaves a pair that opens.
        """
        data_key, old_fp = self.load_data_key()
        old_kek = self.read_kek()
        new_kek = AESGCM.generate_key(bit_length=256)
        self._write_wraps(data_key, [old_kek, new_kek])
        self._write_kek(self.main, new_kek)
        self._write_wraps(data_key, [new_kek])
        return old_fp, fingerprint(new_kek)
