"""Podman secrets through podman-py on podman's API socket.

Podman 4.3 has no ``--replace`` and cannot show a secret's value, so "leave unchanged values
alone" needs a fingerprint: each secret Leger creates carries a label ``leger.digest``, an
HMAC-SHA256 of the value under a random key kept in Leger's state directory (0600). The label
says nothing about the value to anyone without that key. A changed value is replaced with
podman's own ``replace`` (podman 5: one step under podman's lock, the secret never missing);
a podman without it (4.3 ignores the parameter and answers "name in use") gets the secret
removed and created again. Containers already created keep what they were given either way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets as pysecrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from leger_core.errors import ConflictError, LegerError, UnavailableError
from leger_core.paths import runtime_base, state_dir

LABEL_SERVICE = "leger.service"
LABEL_ENV = "leger.env"
LABEL_DIGEST = "leger.digest"
LABEL_REF = "leger.ref"


def podman_url(config: Any = None) -> str:
    """config ``podman.socket``, else ``$CONTAINER_HOST``, else podman's default socket."""
    value = config.get("podman.socket") if config is not None else None
    if not value:
        value = os.environ.get("CONTAINER_HOST")
    if not value:
        if os.getuid() == 0:
            value = "/run/podman/podman.sock"
        else:
            value = f"{runtime_base()}/podman/podman.sock"
    return value if "://" in value else f"unix://{value}"


def digest(value: bytes, key_file: Path | None = None) -> str:
    path = key_file or state_dir() / "podman-digest.key"
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pysecrets.token_bytes(32))
        key = path.read_bytes()
    return "hmac-sha256:" + hmac.new(key, value, hashlib.sha256).hexdigest()


class PodmanSecretStore:
    """create / inspect / remove podman secrets, with labels and (for the shell driver) options,
    which podman-py's own ``secrets.create`` cannot pass."""

    def __init__(self, url: str) -> None:
        from podman import PodmanClient

        self.url = url
        self.client = PodmanClient(base_url=url)
        # whether this podman knows ``replace`` on create; None until a replace has asked
        self.can_replace: bool | None = None

    def __repr__(self) -> str:
        return f"PodmanSecretStore({self.url!r})"

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        from podman.errors import APIError, NotFound

        unreachable = UnavailableError(
            f"podman's API is not reachable at {self.url}",
            hint="start it: `systemctl --user enable --now podman.socket` or "
            "`podman system service --time=0 &`; or set podman.socket in config",
        )
        try:
            response = getattr(self.client.api, method)(path, **kwargs)
        except NotFound:
            return None
        except APIError as exc:
            if exc.response is None:  # podman-py's wrapping of a connection error
                raise unreachable from None
            if "name in use" in str(exc):
                raise ConflictError(
                    f"a podman secret with that name already exists: {exc}"
                ) from None
            raise LegerError(f"podman refused {path}: {exc.explanation or exc}") from None
        except Exception:  # requests' connection errors, a missing socket, …
            raise unreachable from None
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            text = response.text.strip()[:200]
            if "name in use" in text:
                raise ConflictError(f"a podman secret with that name already exists: {text}")
            raise LegerError(f"podman answered {response.status_code} to {path}: {text}")
        return response

    def inspect(self, name: str) -> dict[str, Any] | None:
        response = self._call("get", f"/secrets/{name}/json")
        if response is None:
            return None
        data: dict[str, Any] = response.json()
        return data

    def names(self) -> list[str]:
        response = self._call("get", "/secrets/json")
        items = response.json() if response is not None else []
        return sorted(item["Spec"]["Name"] for item in items or [])

    def labelled(self, key: str, value: str) -> list[dict[str, Any]]:
        # podman 4.3's list leaves Labels out: inspect each one.
        found = []
        for name in self.names():
            info = self.inspect(name)
            if info and (info["Spec"].get("Labels") or {}).get(key) == value:
                found.append(info)
        return found

    def create(
        self,
        name: str,
        data: bytes,
        labels: Mapping[str, str],
        *,
        driver: str | None = None,
        driver_opts: Mapping[str, str] | None = None,
        replace: bool = False,
    ) -> str:
        params: dict[str, str] = {"name": name, "labels": json.dumps(dict(labels))}
        if replace:
            params["replace"] = "true"
        if driver:
            params["driver"] = driver
        if driver_opts:
            params["driveropts"] = json.dumps(dict(driver_opts))
        response = self._call("post", "/secrets/create", params=params, data=data)
        sid: str = response.json()["ID"]
        return sid

    def replace(
        self,
        name: str,
        data: bytes,
        labels: Mapping[str, str],
        *,
        driver: str | None = None,
        driver_opts: Mapping[str, str] | None = None,
    ) -> str:
        """Give the existing secret ``name`` new data, labels and driver: podman's ``replace``
        where podman has it, else remove and create (what this podman can do is learnt from
        its answer to the first replace, once per store)."""
        if self.can_replace is not False:
            try:
                sid = self.create(
                    name, data, labels, driver=driver, driver_opts=driver_opts, replace=True
                )
            except ConflictError:  # "name in use": a podman that ignores ``replace`` (< 4.7?)
                self.can_replace = False
            else:
                self.can_replace = True
                return sid
        self.remove(name)
        return self.create(name, data, labels, driver=driver, driver_opts=driver_opts)

    def remove(self, name: str) -> bool:
        return self._call("delete", f"/secrets/{name}") is not None
