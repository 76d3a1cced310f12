"""podman's shell secret driver, spoken by ``leger driver list|lookup|store|delete``.

podman runs each command as ``/bin/sh -c '<cmd>'`` with its caller's environment plus
``SECRET_ID`` (podman's 25-hex id, not the secret's name). ``store`` gets the data on stdin,
verbatim; ``lookup``'s stdout is taken verbatim (so nothing may be added, not even a newline).
What podman stores is kept in legerd under ``leger-driver/<SECRET_ID>``. When that data is a
reference, ``leger:NAME``, lookup reads NAME from legerd at that moment: rotating NAME in legerd
reaches the next container start without touching the podman secret.

Standard library only (and the setec client): lookup runs at every container start.
"""

from __future__ import annotations

import os

from leger_core.errors import InvalidInputError, NotFoundError, UnavailableError, UsageError
from leger_core.names import ALNUM, NameRule
from leger_core.values import SecretValue

# typing costs milliseconds at every container start; annotations only need it for mypy.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PREFIX = "leger-driver/"
REFERENCE = b"leger:"
SECRET_ID = NameRule(ALNUM, ALNUM, 64)  # [A-Za-z0-9]{1,64}
_NAME_CHARS = ALNUM + "_.@:+=/-"
SECRET_NAME = NameRule(_NAME_CHARS, _NAME_CHARS, 256)  # legerd's: [A-Za-z0-9_.@:+=/-]{1,256}
MAX_DATA = 512 * 1024  # podman's own limit for a secret


def secret_id(environ: dict[str, str] | None = None) -> str:
    value = (os.environ if environ is None else environ).get("SECRET_ID", "")
    if not value:
        raise UsageError(
            "SECRET_ID is not set: podman sets it when it runs the shell driver",
            hint="this command is meant to be called by podman (see `leger driver install`)",
        )
    if not SECRET_ID.fullmatch(value):
        raise InvalidInputError(f"SECRET_ID {value!r} is not a podman secret id")
    return value


def storage_name(sid: str) -> str:
    return PREFIX + sid


def reference(data: bytes) -> str | None:
    """The legerd secret name ``data`` refers to, or None if it is a plain value."""
    if not data.startswith(REFERENCE):
        return None
    name = data[len(REFERENCE) :].decode("utf-8", "replace")
    if not SECRET_NAME.fullmatch(name):
        # Names only: saying what is wrong without echoing data that may be a value.
        raise InvalidInputError("a 'leger:' reference must be followed by a legerd secret name")
    return name


def _down(exc: UnavailableError, sid: str) -> UnavailableError:
    """podman turns every failed lookup into "no such secret"; this line, on stderr (the
    unit's journal), says what is really wrong."""
    return UnavailableError(
        f"{exc.message}: cannot read podman secret id {sid} now",
        hint="podman will report this as 'no such secret' although the secret exists; "
        "start legerd (systemctl start legerd, or legerd serve)",
    )


def lookup(client: Any, sid: str) -> bytes:
    try:
        data = client.get(storage_name(sid)).reveal()
    except UnavailableError as exc:
        raise _down(exc, sid) from None
    except NotFoundError:
        raise NotFoundError(
            f"legerd holds no data for podman secret id {sid}",
            hint="it was created elsewhere or removed from legerd; recreate the podman secret",
        ) from None
    name = reference(data)
    if name is None:
        return bytes(data)
    try:
        return bytes(client.get(name).reveal())
    except UnavailableError as exc:
        raise _down(exc, sid) from None
    except NotFoundError:
        raise NotFoundError(
            f"podman secret id {sid} refers to legerd secret {name!r}, which does not exist"
        ) from None


def store(client: Any, sid: str, data: bytes) -> None:
    if len(data) > MAX_DATA:
        raise InvalidInputError(f"secret data is larger than {MAX_DATA} bytes")
    reference(data)  # refuse a malformed reference now, not at the next container start
    name = storage_name(sid)
    version = client.put(name, SecretValue(data))
    # setec keeps a changed value as a new inactive version; podman means "this is the value".
    client.activate(name, version)


def delete(client: Any, sid: str) -> None:
    # podman must be able to remove a secret legerd no longer has
    try:  # noqa: SIM105 (contextlib costs ~3 ms a container start)
        client.delete(storage_name(sid))
    except NotFoundError:
        pass


def list_ids(client: Any) -> list[str]:
    return [info.name[len(PREFIX) :] for info in client.list() if info.name.startswith(PREFIX)]
