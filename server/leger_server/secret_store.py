"""Per-user encrypted secrets. Every method takes the caller's ``user_uuid`` and touches only
that user's rows. Values go in and out as text and are never logged."""

from __future__ import annotations

import re
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, RowMapping

from leger_server.crypto import DecryptError, Sealed, SecretCipher
from leger_server.db import read_connection, secrets
from leger_server.errors import ApiError, Conflict, InvalidInput, NotFound, TooLarge
from leger_server.users import iso, now

NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}")


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or name in (".", ".."):
        raise InvalidInput(
            "invalid secret name: use 1-128 letters, digits, '_', '.' or '-'",
            code="invalid_name",
        )
    return name


def _meta(row: RowMapping) -> dict[str, Any]:
    return {
        "name": row["name"],
        "version": row["version"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "last_accessed": iso(row["last_accessed"]),
    }


# A user's secrets by name, built once (only the parameters change per call): every column
# when the values are wanted, else only what _meta shows (no ciphertext read for nothing).
_ALL = (
    sa.select(secrets)
    .where(secrets.c.user_uuid == sa.bindparam("user_uuid"))
    .order_by(secrets.c.name)
)
_NAMES = (
    sa.select(
        secrets.c.name,
        secrets.c.version,
        secrets.c.created_at,
        secrets.c.updated_at,
        secrets.c.last_accessed,
    )
    .where(secrets.c.user_uuid == sa.bindparam("user_uuid"))
    .order_by(secrets.c.name)
)


class SecretStore:
    def __init__(self, engine: Engine, cipher: SecretCipher, *, max_value: int = 64 * 1024):
        self.engine = engine
        self.cipher = cipher
        self.max_value = max_value

    def __repr__(self) -> str:
        return "SecretStore()"

    def _open(self, row: RowMapping) -> str:
        sealed = Sealed(row["ciphertext"], row["nonce"], row["key_id"], row["encryption_version"])
        try:
            plain = self.cipher.open(
                sealed, user_uuid=row["user_uuid"], name=row["name"], version=row["version"]
            )
        except DecryptError:
            raise ApiError(
                "a stored secret could not be decrypted",
                code="decrypt_failed",
                status=500,
                action="the server's encryption keys are incomplete; ask its operator",
            ) from None
        return plain.decode("utf-8")

    def list(
        self,
        user_uuid: str,
        *,
        include_values: bool = False,
        conn: sa.Connection | None = None,
    ) -> list[dict[str, Any]]:
        """The user's secrets, with their values when asked (which records last_accessed, in
        a transaction of its own); names and dates are read on ``conn`` when given."""
        params = {"user_uuid": user_uuid}
        if not include_values:  # names and dates only: a read, no last_accessed to record
            if conn is not None:
                return [_meta(row) for row in conn.execute(_NAMES, params).mappings()]
            with read_connection(self.engine) as own:
                return [_meta(row) for row in own.execute(_NAMES, params).mappings()]
        with self.engine.begin() as conn:
            rows = conn.execute(_ALL, params).mappings().all()
            out = [{**_meta(row), "value": self._open(row)} for row in rows]
            if rows:
                # Stamp the rows in one order, skipping any another request holds (a sync of
                # the same account stamping them at this very moment). One UPDATE of all the
                # user's rows locked them in the order it found them, so two syncs at once
                # could deadlock on PostgreSQL: a 500 after a second's wait.
                mine = (
                    sa.select(secrets.c.secret_id)
                    .where(secrets.c.user_uuid == user_uuid)
                    .order_by(secrets.c.secret_id)
                    .with_for_update(skip_locked=True)
                )
                conn.execute(
                    secrets.update()
                    .where(secrets.c.secret_id.in_(mine.scalar_subquery()))
                    .values(last_accessed=now())
                )
            return out

    def get(self, user_uuid: str, name: str) -> dict[str, Any]:
        check_name(name)
        with self.engine.begin() as conn:
            row = self._row(conn, user_uuid, name)
            if row is None:
                raise NotFound(f"secret {name!r} not found")
            value = self._open(row)
            conn.execute(
                secrets.update()
                .where(secrets.c.secret_id == row["secret_id"])
                .values(last_accessed=now())
            )
            return {**_meta(row), "value": value}

    def put(self, user_uuid: str, name: str, value: Any) -> dict[str, Any]:
        """Create or update; the same value as stored makes no new version (``changed``)."""
        check_name(name)
        if not isinstance(value, str):
            raise InvalidInput("value must be a string", code="invalid_value")
        plain = value.encode("utf-8")
        if len(plain) > self.max_value:
            raise TooLarge(f"secret values are limited to {self.max_value} bytes")
        for _attempt in range(3):
            try:
                return self._put_once(user_uuid, name, plain)
            except sa.exc.IntegrityError:
                continue  # a concurrent writer created it first: read again and retry
        raise Conflict(f"secret {name!r} changed concurrently; try again")

    def _put_once(self, user_uuid: str, name: str, plain: bytes) -> dict[str, Any]:
        ts = now()
        with self.engine.begin() as conn:
            row = self._row(conn, user_uuid, name)
            if row is None:
                sealed = self.cipher.seal(plain, user_uuid=user_uuid, name=name, version=1)
                conn.execute(
                    secrets.insert().values(
                        secret_id=str(uuid.uuid4()),
                        user_uuid=user_uuid,
                        name=name,
                        ciphertext=sealed.ciphertext,
                        nonce=sealed.nonce,
                        key_id=sealed.key_id,
                        encryption_version=sealed.encryption_version,
                        version=1,
                        created_at=ts,
                        updated_at=ts,
                    )
                )
                result = self._row(conn, user_uuid, name)
                assert result is not None
                return {**_meta(result), "changed": True}
            if self._open(row).encode("utf-8") == plain:
                return {**_meta(row), "changed": False}
            version = row["version"] + 1
            sealed = self.cipher.seal(plain, user_uuid=user_uuid, name=name, version=version)
            updated = conn.execute(
                secrets.update()
                .where(secrets.c.secret_id == row["secret_id"])
                .where(secrets.c.version == row["version"])
                .values(
                    ciphertext=sealed.ciphertext,
                    nonce=sealed.nonce,
                    key_id=sealed.key_id,
                    encryption_version=sealed.encryption_version,
                    version=version,
                    updated_at=ts,
                )
            )
            if updated.rowcount != 1:
                raise sa.exc.IntegrityError("concurrent update", None, Exception("version moved"))
            result = self._row(conn, user_uuid, name)
            assert result is not None
            return {**_meta(result), "changed": True}

    def delete(self, user_uuid: str, name: str) -> None:
        check_name(name)
        with self.engine.begin() as conn:
            result = conn.execute(
                secrets.delete()
                .where(secrets.c.user_uuid == user_uuid)
                .where(secrets.c.name == name)
            )
            if result.rowcount == 0:
                raise NotFound(f"secret {name!r} not found")

    def reencrypt_all(self) -> int:
        """Re-seal every record not under the active key (``leger-server rotate-key``)."""
        count = 0
        active = self.cipher.active_key
        with self.engine.begin() as conn:
            rows = (
                conn.execute(sa.select(secrets).where(secrets.c.key_id != active)).mappings().all()
            )
            for row in rows:
                plain = self._open(row).encode("utf-8")
                sealed = self.cipher.seal(
                    plain, user_uuid=row["user_uuid"], name=row["name"], version=row["version"]
                )
                conn.execute(
                    secrets.update()
                    .where(secrets.c.secret_id == row["secret_id"])
                    .values(
                        ciphertext=sealed.ciphertext,
                        nonce=sealed.nonce,
                        key_id=sealed.key_id,
                        encryption_version=sealed.encryption_version,
                    )
                )
                count += 1
        return count

    @staticmethod
    def _row(conn: sa.Connection, user_uuid: str, name: str) -> RowMapping | None:
        return (
            conn.execute(
                sa.select(secrets)
                .where(secrets.c.user_uuid == user_uuid)
                .where(secrets.c.name == name)
            )
            .mappings()
            .first()
        )
