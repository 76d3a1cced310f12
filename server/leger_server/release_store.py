"""Releases, per user: git sources (unique name, version increments on update) and uploaded
bundles (per-user version numbers 1, 2, 3…; ``latest`` is the highest)."""

from __future__ import annotations

import contextlib
import re
import uuid
from typing import Any
from urllib.parse import urlparse

import sqlalchemy as sa
from sqlalchemy.engine import Engine, RowMapping

from leger_server.blobs import BlobStore
from leger_server.bundles import StagedBundle
from leger_server.db import read_connection, releases
from leger_server.errors import Conflict, InvalidInput, NotFound
from leger_server.settings import Settings
from leger_server.users import iso, now

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_BRANCH = re.compile(r"[A-Za-z0-9_./-]{1,255}")
_GIT_SSH = re.compile(r"[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+:[A-Za-z0-9_./~-]+")


def public_release(row: RowMapping) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": row["id"],
        "kind": row["kind"],
        "name": row["name"],
        "version": row["version"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }
    if row["kind"] == "git":
        base.update(
            git_url=row["git_url"],
            git_branch=row["git_branch"],
            description=row["description"],
        )
    else:
        manifest = row["manifest"] or {}
        base.update(
            deployment_name=row["deployment_name"],
            bundle_size_bytes=row["bundle_size_bytes"],
            sha256=row["bundle_sha256"],
            r2_path=row["blob_key"],
            files=[f["path"] for f in manifest.get("files", [])],
            services=manifest.get("services", []),
            secrets_required=manifest.get("secrets_required", []),
            manifest=manifest,
        )
    return base


def check_git_url(url: Any) -> str:
    if not isinstance(url, str) or not url or len(url) > 2048 or url != url.strip():
        raise InvalidInput("git_url must be a URL", code="invalid_git_url")
    if _GIT_SSH.fullmatch(url):
        return url
    parsed = urlparse(url)
    if parsed.scheme not in ("https", "http", "ssh", "git", "file") or (
        parsed.scheme != "file" and not parsed.hostname
    ):
        raise InvalidInput(
            "git_url must be an https://, ssh://, git:// or file:// URL", code="invalid_git_url"
        )
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise InvalidInput("git_url must not contain spaces", code="invalid_git_url")
    return url


def _text(body: dict[str, Any], key: str, limit: int, default: str | None = None) -> str | None:
    value = body.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidInput(f"{key} must be text of at most {limit} characters")
    return value


# The lookups of one release, built once (building a statement costs more CPU than running
# it); only the parameters change per call.
_OF_USER = sa.select(releases).where(releases.c.user_uuid == sa.bindparam("user_uuid"))
_LATEST = (
    _OF_USER.where(releases.c.kind == "bundle").order_by(releases.c.bundle_version.desc()).limit(1)
)
_BY_VERSION = _OF_USER.where(releases.c.bundle_version == sa.bindparam("version"))
_BY_ID = _OF_USER.where(releases.c.id == sa.bindparam("id"))


class ReleaseStore:
    def __init__(self, engine: Engine, blobs: BlobStore, settings: Settings) -> None:
        self.engine = engine
        self.blobs = blobs
        self.settings = settings

    def list(
        self, user_uuid: str, *, name: str | None = None, conn: sa.Connection | None = None
    ) -> list[dict[str, Any]]:
        """The user's releases; on ``conn`` when given (a request's read connection)."""
        query = sa.select(releases).where(releases.c.user_uuid == user_uuid)
        if name is not None:
            query = query.where(releases.c.name == name)
        query = query.order_by(releases.c.created_at, releases.c.version)
        if conn is None:
            with read_connection(self.engine) as own:
                return [public_release(r) for r in own.execute(query).mappings()]
        return [public_release(r) for r in conn.execute(query).mappings()]

    def _find(self, conn: sa.Connection, user_uuid: str, ref: str) -> RowMapping:
        params: dict[str, Any] = {"user_uuid": user_uuid}
        if ref == "latest":
            query = _LATEST
        elif ref.isdigit() and len(ref) < 10:
            query, params["version"] = _BY_VERSION, int(ref)
        else:
            try:
                uuid.UUID(ref)
            except ValueError:
                raise NotFound(f"release {ref!r} not found") from None
            query, params["id"] = _BY_ID, ref
        row = conn.execute(query, params).mappings().first()
        if row is None:
            what = "no bundle release yet" if ref == "latest" else f"release {ref!r} not found"
            raise NotFound(what)
        return row

    def get(self, user_uuid: str, ref: str, *, conn: sa.Connection | None = None) -> dict[str, Any]:
        """``ref`` is a release id, a bundle version number, or ``latest``; read on ``conn``
        when given (a request's read connection)."""
        if conn is None:
            with read_connection(self.engine) as own:
                return public_release(self._find(own, user_uuid, ref))
        return public_release(self._find(conn, user_uuid, ref))

    def blob_of(self, user_uuid: str, ref: str) -> dict[str, Any]:
        release = self.get(user_uuid, ref)
        if release["kind"] != "bundle":
            raise NotFound(f"release {ref!r} is a git source and has no bundle to download")
        return release

    def create_git(self, user_uuid: str, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidInput("name must be 1-128 of [A-Za-z0-9_.-]", code="invalid_name")
        git_url = check_git_url(body.get("git_url"))
        branch = _text(body, "git_branch", 255, "main") or "main"
        if not _BRANCH.fullmatch(branch) or ".." in branch or branch.startswith("-"):
            raise InvalidInput("git_branch is not a valid branch name")
        description = _text(body, "description", 1024)
        ts = now()
        release_id = str(uuid.uuid4())
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    releases.insert().values(
                        id=release_id,
                        user_uuid=user_uuid,
                        kind="git",
                        name=name,
                        git_name=name,
                        version=1,
                        git_url=git_url,
                        git_branch=branch,
                        description=description,
                        created_at=ts,
                        updated_at=ts,
                    )
                )
        except sa.exc.IntegrityError:
            raise Conflict(
                f"a release named {name!r} exists", action="update it with PUT instead"
            ) from None
        return self.get(user_uuid, release_id)

    def update_git(self, user_uuid: str, ref: str, body: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if "git_url" in body:
            values["git_url"] = check_git_url(body["git_url"])
        if "git_branch" in body:
            branch = _text(body, "git_branch", 255)
            if not branch or not _BRANCH.fullmatch(branch) or ".." in branch:
                raise InvalidInput("git_branch is not a valid branch name")
            values["git_branch"] = branch
        if "description" in body:
            values["description"] = _text(body, "description", 1024)
        if "name" in body:
            name = body["name"]
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                raise InvalidInput("name must be 1-128 of [A-Za-z0-9_.-]", code="invalid_name")
            values["name"] = values["git_name"] = name
        try:
            with self.engine.begin() as conn:
                row = self._find(conn, user_uuid, ref)
                if row["kind"] != "git":
                    raise InvalidInput("bundle releases cannot be changed; upload a new one")
                changed = {k: v for k, v in values.items() if row[k] != v}
                if changed:
                    conn.execute(
                        releases.update()
                        .where(releases.c.id == row["id"])
                        .values(**changed, version=row["version"] + 1, updated_at=now())
                    )
                release_id = row["id"]
        except sa.exc.IntegrityError:
            raise Conflict("a release with that name exists") from None
        return self.get(user_uuid, release_id)

    def delete(self, user_uuid: str, ref: str) -> None:
        with self.engine.begin() as conn:
            row = self._find(conn, user_uuid, ref)
            conn.execute(releases.delete().where(releases.c.id == row["id"]))
        if row["blob_key"]:
            with contextlib.suppress(Exception):
                self.blobs.delete(row["blob_key"])

    def create_bundle(self, user_uuid: str, staged: StagedBundle) -> dict[str, Any]:
        """Store the blob, then the row with the next free version; on any failure remove the
        blob again so a refused or failed upload leaves nothing behind."""
        release_id = str(uuid.uuid4())
        blob_key = f"{user_uuid}/{release_id}.tar.gz"
        manifest = staged.manifest
        try:
            self.blobs.put_file(blob_key, staged.path)
            for _attempt in range(5):
                ts = now()
                try:
                    with self.engine.begin() as conn:
                        current = conn.execute(
                            sa.select(sa.func.max(releases.c.bundle_version)).where(
                                releases.c.user_uuid == user_uuid
                            )
                        ).scalar()
                        version = (current or 0) + 1
                        conn.execute(
                            releases.insert().values(
                                id=release_id,
                                user_uuid=user_uuid,
                                kind="bundle",
                                name=manifest["deployment_name"],
                                deployment_name=manifest["deployment_name"],
                                version=version,
                                bundle_version=version,
                                blob_key=blob_key,
                                bundle_size_bytes=staged.size,
                                bundle_sha256=staged.sha256,
                                manifest=manifest,
                                created_at=ts,
                                updated_at=ts,
                            )
                        )
                    break
                except sa.exc.IntegrityError:
                    continue  # another upload took this version number; take the next
            else:
                raise Conflict("could not allocate a release version; try again")
        except BaseException:
            with contextlib.suppress(Exception):
                self.blobs.delete(blob_key)
            raise
        finally:
            staged.discard()
        return self.get(user_uuid, release_id)
