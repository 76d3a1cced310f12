"""Secret values at rest: AES-256-GCM, a fresh 96-bit nonce per write, associated data binding
the user, the name and the version (a record copied to another user, name or version fails to
decrypt), and the master key's id stored with each record so keys rotate without downtime."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from leger_server.settings import KeySet

ENCRYPTION_VERSION = 1


class DecryptError(Exception):
    """A record did not decrypt: wrong key, tampered, or moved. Never carries the value."""


@dataclass(frozen=True)
class Sealed:
    ciphertext: bytes
    nonce: bytes
    key_id: str
    encryption_version: int = ENCRYPTION_VERSION

    def __repr__(self) -> str:
        return f"Sealed(key_id={self.key_id!r}, {len(self.ciphertext)} bytes)"


def associated_data(user_uuid: str, name: str, version: int) -> bytes:
    return json.dumps(["leger-secret", ENCRYPTION_VERSION, user_uuid, name, version]).encode()


class SecretCipher:
    """Seals with the active key; opens with whichever key a record names. A key id it does not
    know makes it re-read the keys file once (another worker may have rotated)."""

    def __init__(self, keys: KeySet) -> None:
        self._keys = keys
        self._lock = threading.Lock()

    @property
    def active_key(self) -> str:
        return self._keys.active_key

    def seal(self, plaintext: bytes, *, user_uuid: str, name: str, version: int) -> Sealed:
        key_id = self._keys.active_key
        nonce = os.urandom(12)
        ct = AESGCM(self._keys.encryption_keys[key_id]).encrypt(
            nonce, plaintext, associated_data(user_uuid, name, version)
        )
        return Sealed(ct, nonce, key_id)

    def open(self, sealed: Sealed, *, user_uuid: str, name: str, version: int) -> bytes:
        key = self._key(sealed.key_id)
        try:
            return AESGCM(key).decrypt(
                sealed.nonce, sealed.ciphertext, associated_data(user_uuid, name, version)
            )
        except InvalidTag:
            raise DecryptError(
                f"secret {name!r} does not decrypt with key {sealed.key_id!r}"
            ) from None

    def _key(self, key_id: str) -> bytes:
        key = self._keys.encryption_keys.get(key_id)
        if key is None:
            self._reload()
            key = self._keys.encryption_keys.get(key_id)
        if key is None:
            raise DecryptError(f"unknown encryption key id {key_id!r}")
        return key

    def _reload(self) -> None:
        source = self._keys.source
        if source is None:
            return
        with self._lock:
            try:
                self._keys = KeySet.from_json(json.loads(source.read_text()), source=source)
            except (OSError, ValueError):
                return
