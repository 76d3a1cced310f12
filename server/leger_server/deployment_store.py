"""What runs where: the CLI's reports of its deployments, one row per account, device and
deployment name (``POST /api/deployments`` upserts, ``GET /api/deployments`` lists).

The device is the one the session token was issued to (learned from the connection at login),
never a field of the report. A report's source is kept only when it names no local path: a
path or ``file:`` URL is stored as "local git repository" (the CLI already sends it so; the
server does it again so that no client can put a path of its machine into the account).
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa
from sqlalchemy.engine import Engine, RowMapping

from leger_server.db import deployments
from leger_server.errors import InvalidInput
from leger_server.users import iso, now

EVENTS = ("install", "update", "rollback", "remove", "check")
SOURCE_KINDS = ("git", "bundle", "manifest")
MAX_UNITS = 100
LOCAL_SOURCE = "local {kind} source"
UNKNOWN_DEVICE = "unknown-device"
# The identity verifier behind tailscale serve learns no device (its headers name none): those
# logins share this device id, so their devices are told apart by hostname.
SERVE_DEVICE_ID = "tailscale-serve"

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_RELEASE = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_TEXT = re.compile(r"[\x21-\x7e][\x20-\x7e]*")  # printable ASCII, no leading space
_UNIT = re.compile(r"[A-Za-z0-9:_.@\\-]{1,255}")
_STATE = re.compile(r"[a-z-]{1,32}")
_LOCAL = re.compile(r"^(?:/|~|\.{1,2}/|\.{1,2}$|file:)", re.IGNORECASE)


def public_source(kind: str, source: str) -> str:
    """``source`` unless it is a local path or ``file:`` URL (then a description without it);
    a URL's user, password, query and fragment are dropped (where tokens hide)."""
    if _LOCAL.match(source) or "\\" in source:
        return f"local {kind} repository" if kind == "git" else LOCAL_SOURCE.format(kind=kind)
    if "://" in source:
        parts = urlsplit(source)
        netloc = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return source


def public_deployment(row: RowMapping) -> dict[str, Any]:
    units: dict[str, str] = dict(row["units"] or {})
    return {
        "id": row["id"],
        "device_id": row["device_id"],
        "hostname": row["hostname"],
        "name": row["name"],
        "event": row["event"],
        "release_name": row["release_name"],
        "version": row["version"],
        "source_kind": row["source_kind"],
        "source": row["source"],
        "units": units,
        "units_not_active": sorted(u for u, s in units.items() if s != "active"),
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def _text(body: dict[str, Any], key: str, pattern: re.Pattern[str], what: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidInput(f"{key} must be {what}", code="invalid_deployment")
    return value


def parse_report(body: dict[str, Any]) -> dict[str, Any]:
    """The report's fields, checked; InvalidInput names the first bad one."""
    event = body.get("event")
    if event not in EVENTS:
        raise InvalidInput(f"event must be one of {', '.join(EVENTS)}", code="invalid_deployment")
    kind = body.get("source_kind")
    if kind not in SOURCE_KINDS:
        raise InvalidInput(
            f"source_kind must be one of {', '.join(SOURCE_KINDS)}", code="invalid_deployment"
        )
    release = body.get("release_name")
    if release is not None and (not isinstance(release, str) or not _RELEASE.fullmatch(release)):
        raise InvalidInput(
            "release_name must be 1-128 of [A-Za-z0-9_.-]", code="invalid_deployment"
        )
    units = body.get("units", {})
    if not isinstance(units, dict) or len(units) > MAX_UNITS:
        raise InvalidInput(
            f"units must be an object of at most {MAX_UNITS} unit names to states",
            code="invalid_deployment",
        )
    for unit, state in units.items():
        if not _UNIT.fullmatch(unit) or not isinstance(state, str) or not _STATE.fullmatch(state):
            raise InvalidInput(
                "units must map systemd unit names to states such as active or failed",
                code="invalid_deployment",
            )
    source = _text(body, "source", re.compile(r"[\x21-\x7e][\x20-\x7e]{0,2047}"), "printable text")
    return {
        "name": _text(body, "name", _NAME, "a deployment name (1-64 of [A-Za-z0-9_.-])"),
        "event": event,
        "release_name": release,
        "version": _text(
            body, "version", re.compile(r"[\x21-\x7e]{1,128}"), "1-128 printable characters"
        ),
        "source_kind": kind,
        "source": public_source(str(kind), source),
        "units": dict(sorted(units.items())),
    }


def device_of(device_id: str, hostname: str) -> tuple[str, str]:
    """(device key, hostname) of a token's login device."""
    hostname = hostname if hostname and _TEXT.fullmatch(hostname) else "unknown"
    if not device_id:
        return UNKNOWN_DEVICE, hostname
    if device_id == SERVE_DEVICE_ID:
        return f"{SERVE_DEVICE_ID}:{hostname}"[:128], hostname
    return device_id[:128], hostname[:255]


class DeploymentStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def report(
        self, user_uuid: str, device_id: str, hostname: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Upsert the report of (account, device, deployment name); the stored row."""
        values = parse_report(body)
        device, host = device_of(device_id, hostname)
        key = (
            (deployments.c.user_uuid == user_uuid)
            & (deployments.c.device_id == device)
            & (deployments.c.name == values["name"])
        )
        for _attempt in range(3):
            ts = now()
            try:
                with self.engine.begin() as conn:
                    found = conn.execute(sa.select(deployments.c.id).where(key)).scalar()
                    if found is None:
                        found = str(uuid.uuid4())
                        conn.execute(
                            deployments.insert().values(
                                id=found,
                                user_uuid=user_uuid,
                                device_id=device,
                                hostname=host,
                                created_at=ts,
                                updated_at=ts,
                                **values,
                            )
                        )
                    else:
                        conn.execute(
                            deployments.update()
                            .where(deployments.c.id == found)
                            .values(hostname=host, updated_at=ts, **values)
                        )
                    row = (
                        conn.execute(sa.select(deployments).where(deployments.c.id == found))
                        .mappings()
                        .one()
                    )
                    return public_deployment(row)
            except sa.exc.IntegrityError:
                continue  # a concurrent first report of the same deployment: update it
        raise InvalidInput("the deployment could not be recorded; try again")

    def list(self, user_uuid: str, *, release_name: str | None = None) -> list[dict[str, Any]]:
        """The account's deployments, by hostname then name."""
        query = sa.select(deployments).where(deployments.c.user_uuid == user_uuid)
        if release_name is not None:
            query = query.where(deployments.c.release_name == release_name)
        query = query.order_by(deployments.c.hostname, deployments.c.name, deployments.c.id)
        with self.engine.connect() as conn:
            return [public_deployment(r) for r in conn.execute(query).mappings()]
