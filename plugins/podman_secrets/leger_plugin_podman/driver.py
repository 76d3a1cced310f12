"""podman's shell secret driver, spoken by ``leger driver list|lookup|store|delete``.

podman runs each command as ``/bin/sh -c '<cmd>'`` with its caller's environment plus
``SECRET_ID`` (podman's 25-hex id, not the secret's name). ``store`` gets the data on stdin,
verbatim; ``lookup``'s stdout is taken verbatim (so nothing may be added, not even a newline).
What podman stores is kept in a secret backend (``--backend``, default legerd) under
``leger-driver/<SECRET_ID>``. When that data is a reference, ``leger:[BACKEND:]NAME``, lookup
reads NAME from its backend at that moment: rotating NAME reaches the next container start
without touching the podman secret.

Standard library only (and the backends' fast entries): lookup runs at every container start.
"""

from __future__ import annotations

import binascii
import os

from leger_core.backends import parse_reference
from leger_core.errors import InvalidInputError, NotFoundError, UnavailableError, UsageError
from leger_core.names import ALNUM, SECRET_RULE, NameRule, secret_name_fits
from leger_core.values import SecretValue

# typing costs milliseconds at every container start; annotations only need it for mypy.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

PREFIX = "leger-driver/"
REFERENCE = b"leger:"
# Data that is not one line is kept base64-encoded behind this marker, so a backend whose value
# is an entry's first line (pass) still gives back every byte podman stored.
WRAPPED = b"leger-data:"
SECRET_ID = NameRule(ALNUM, ALNUM, 64)  # podman's secret id: [A-Za-z0-9]{1,64}
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
    """The reference (``[BACKEND:]NAME``) ``data`` holds, or None if it is a plain value."""
    if not data.startswith(REFERENCE):
        return None
    name = data[len(REFERENCE) :].decode("utf-8", "replace")
    if not is_reference(name):
        # Names only: saying what is wrong without echoing data that may be a value.
        raise InvalidInputError(
            "a 'leger:' reference must be followed by a secret name, optionally with its "
            f"backend (leger:pass:ai/openai): a secret name is {SECRET_RULE}"
        )
    return name


def is_reference(text: str) -> bool:
    """``[BACKEND:]NAME`` with NAME a secret name (:mod:`leger_core.names`, as every strategy
    checks it), without raising: the caller's message must not echo what may be a value."""
    return bool(secret_name_fits(parse_reference(text)[1]))


def wrap(data: bytes) -> bytes:
    if b"\n" in data or data.startswith(WRAPPED):
        return WRAPPED + binascii.b2a_base64(data, newline=False)
    return data


def unwrap(data: bytes) -> bytes:
    if data.startswith(WRAPPED):
        try:
            return binascii.a2b_base64(data[len(WRAPPED) :])
        except binascii.Error:
            raise InvalidInputError("the data kept for this podman secret is damaged") from None
    return data


def _down(exc: UnavailableError, sid: str) -> UnavailableError:
    """podman turns every failed lookup into "no such secret"; this line, on stderr (the
    unit's journal), says what is really wrong."""
    return UnavailableError(
        f"{exc.message}: cannot read podman secret id {sid} now",
        hint="podman will report this as 'no such secret' although the secret exists; "
        + (exc.hint or "start the secret backend"),
    )


def lookup(open_backend: Callable[[str], Any], storage: str, sid: str) -> bytes:
    """The data of podman secret ``sid``, kept in backend ``storage``; a reference is read
    from its backend now (a reference without a backend: from ``storage``)."""
    # Opened outside the try: a backend that is not installed is its own NotFoundError
    # ("no secret backend 'setec'"), not "holds no data".
    kept_in = open_backend(storage)
    try:
        data = unwrap(kept_in.get(storage_name(sid)).reveal())
    except UnavailableError as exc:
        raise _down(exc, sid) from None
    except NotFoundError:
        raise NotFoundError(
            f"secret backend {storage!r} holds no data for podman secret id {sid}",
            hint="it was created elsewhere or removed; recreate the podman secret",
        ) from None
    ref = reference(data)
    if ref is None:
        return bytes(data)
    backend, name = parse_reference(ref)
    source = open_backend(backend or storage)
    try:
        return bytes(source.get(name).reveal())
    except UnavailableError as exc:
        raise _down(exc, sid) from None
    except NotFoundError:
        raise NotFoundError(
            f"podman secret id {sid} refers to secret {name!r} in backend "
            f"{backend or storage!r}, which does not exist"
        ) from None


def store(backend: Any, sid: str, data: bytes) -> None:
    if len(data) > MAX_DATA:
        raise InvalidInputError(f"secret data is larger than {MAX_DATA} bytes")
    reference(data)  # refuse a malformed reference now, not at the next container start
    # The backend contract's put makes the value the active one (setec: a new version).
    backend.put(storage_name(sid), SecretValue(wrap(data)))


def delete(backend: Any, sid: str) -> None:
    # podman must be able to remove a secret the backend no longer has
    try:  # noqa: SIM105 (contextlib costs ~3 ms a container start)
        backend.delete(storage_name(sid))
    except NotFoundError:
        pass


def list_ids(backend: Any) -> list[str]:
    return [info.name[len(PREFIX) :] for info in backend.list() if info.name.startswith(PREFIX)]
