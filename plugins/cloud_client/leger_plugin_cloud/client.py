"""A client for leger-server's API (httpx), with leger_core's typed errors.

401 → :class:`DeniedError` ("run leger auth login"), 403 → DeniedError, 404 →
:class:`NotFoundError`, 400/413/415 → :class:`InvalidInputError`, 409 → ConflictError, network
trouble and 5xx → :class:`UnavailableError`. Secret values come back as
:class:`leger_core.models.SecretValue` and never appear in messages.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn

import httpx

from leger_core import errors
from leger_core.models import SecretValue
from leger_core.unixhttp import Closing

Progress = Callable[[int, int | None], None]
CHUNK = 256 * 1024
LOGIN_HINT = "run leger auth login"


def _user_agent() -> str:
    from leger_core import __version__

    return f"leger/{__version__}"


class CloudClient(Closing):
    """``CloudClient(server_url, token)``; use as a context manager or call :meth:`close`."""

    def __init__(self, server_url: str, token: str | None = None, *, timeout: float = 30.0):
        self.server_url = server_url.rstrip("/")
        self._token = token
        headers = {"User-Agent": _user_agent()}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.server_url, headers=headers, timeout=timeout)

    def __repr__(self) -> str:
        return f"CloudClient({self.server_url!r})"

    def close(self) -> None:
        self._http.close()

    # --- account ------------------------------------------------------------------------

    def login(self, identity: dict[str, Any], cli_version: str | None = None) -> dict[str, Any]:
        """POST /api/auth/cli; returns ``{token, user}``. The server learns who we are from the
        connection (Tailscale); the claim is checked against that (or, on a ``--identity dev``
        server, believed)."""
        body = {
            k: identity[k]
            for k in ("device_id", "user_id", "email", "tailnet", "hostname")
            if identity.get(k)
        }
        if cli_version:
            body["cli_version"] = cli_version
        data: dict[str, Any] = self._request("POST", "/api/auth/cli", json=body, what="login")
        return data

    def me(self) -> dict[str, Any]:
        data: dict[str, Any] = self._request("GET", "/api/me", what="your account")
        return data

    def session_state(self) -> tuple[str, dict[str, Any] | None]:
        """What the server says of this token: ``("valid", user)``, or ``("revoked" |
        "expired" | "invalid", None)``; other failures raise as every call does."""
        resp = self._send("POST", "/api/auth/validate")
        if resp.status_code == 200:
            try:
                user = resp.json()["data"]["user"]
            except (ValueError, KeyError, TypeError):
                user = None
            return "valid", user if isinstance(user, dict) else None
        if resp.status_code == 401:
            try:
                code = str((resp.json().get("error") or {}).get("code") or "")
            except (ValueError, AttributeError):
                code = ""
            states = {"token_revoked": "revoked", "token_expired": "expired"}
            return states.get(code, "invalid"), None
        self._raise_for(resp, "checking the login")

    def logout(self) -> None:
        """Log this client's token out on the server (it gets 401 from now on)."""
        self._request("POST", "/api/auth/logout", what="logging out")

    def logout_all(self) -> None:
        """Log out every token of the account (every machine, every browser, a stolen one)."""
        self._request("POST", "/api/auth/logout-all", what="logging out everywhere")

    def login_code(self) -> dict[str, Any]:
        """A one-time code (``code``, ``path``, ``expires_in``) that logs a browser in to this
        token's account: the link carries the code, never the token."""
        data: dict[str, Any] = self._request(
            "POST", "/api/auth/login-code", what="a browser login code"
        )
        return data

    # --- secrets ------------------------------------------------------------------------

    def list_secrets(self, *, include_values: bool = False) -> list[dict[str, Any]]:
        """Metadata of every secret (name, version, dates); with ``include_values`` each item's
        ``value`` is a :class:`SecretValue`."""
        params = {"include_values": "true"} if include_values else None
        data = self._request("GET", "/api/secrets", params=params, what="secrets")
        items: list[dict[str, Any]] = data.get("secrets", [])
        for item in items:
            if "value" in item:
                item["value"] = SecretValue(item["value"])
        return items

    def get_secret(self, name: str) -> SecretValue:
        return self.secret(name)["value"]  # type: ignore[no-any-return]

    def secret(self, name: str) -> dict[str, Any]:
        """The secret's metadata with ``value`` as a SecretValue."""
        data: dict[str, Any] = self._request(
            "GET", f"/api/secrets/{_seg(name)}", what=f"secret {name!r}"
        )
        data["value"] = SecretValue(data["value"])
        return data

    def set_secret(self, name: str, value: SecretValue) -> dict[str, Any]:
        """Create or update; the same value makes no new version (``changed`` is False)."""
        try:
            text = value.reveal_text()
        except ValueError:
            raise errors.InvalidInputError(
                f"the value of {name!r} is not UTF-8 text; leger-server stores text values"
            ) from None
        data: dict[str, Any] = self._request(
            "POST", f"/api/secrets/{_seg(name)}", json={"value": text}, what=f"secret {name!r}"
        )
        return data

    def delete_secret(self, name: str) -> None:
        self._request("DELETE", f"/api/secrets/{_seg(name)}", what=f"secret {name!r}")

    # --- releases -----------------------------------------------------------------------

    def list_releases(self, name: str | None = None) -> list[dict[str, Any]]:
        params = {"name": name} if name else None
        data = self._request("GET", "/api/releases", params=params, what="releases")
        releases: list[dict[str, Any]] = data.get("releases", [])
        return releases

    def get_release(self, ref: str | int) -> dict[str, Any]:
        data: dict[str, Any] = self._request(
            "GET", f"/api/releases/{_seg(str(ref))}", what=f"release {ref}"
        )
        return data

    def latest_release(self) -> dict[str, Any]:
        data: dict[str, Any] = self._request("GET", "/api/releases/latest", what="latest release")
        return data

    def create_git_release(
        self,
        name: str,
        git_url: str,
        git_branch: str = "main",
        description: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "git_url": git_url, "git_branch": git_branch}
        if description is not None:
            body["description"] = description
        data: dict[str, Any] = self._request(
            "POST", "/api/releases", json=body, what=f"release {name!r}"
        )
        return data

    def update_release(self, ref: str, **fields: Any) -> dict[str, Any]:
        data: dict[str, Any] = self._request(
            "PUT", f"/api/releases/{_seg(ref)}", json=fields, what=f"release {ref}"
        )
        return data

    def delete_release(self, ref: str | int) -> None:
        self._request("DELETE", f"/api/releases/{_seg(str(ref))}", what=f"release {ref}")

    def upload_bundle(self, path: str | os.PathLike[str], progress: Progress | None = None) -> Any:
        """Stream the ``.tar.gz`` at ``path`` to the server; returns the new release."""
        path = Path(path)
        try:
            total = path.stat().st_size
        except OSError as exc:
            raise errors.NotFoundError(f"cannot read bundle {path}: {exc.strerror}") from None

        def chunks() -> Iterator[bytes]:
            sent = 0
            with open(path, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    sent += len(chunk)
                    yield chunk
                    if progress:
                        progress(sent, total)

        return self._request(
            "POST",
            "/api/releases",
            content=chunks(),
            headers={"Content-Type": "application/gzip", "Content-Length": str(total)},
            what=f"bundle {path.name}",
            timeout=httpx.Timeout(30.0, write=300.0, read=300.0),
        )

    def download_release(
        self,
        version: str | int,
        dest: str | os.PathLike[str],
        progress: Progress | None = None,
    ) -> Path:
        """Stream bundle ``version`` (a number, an id or ``latest``) to ``dest`` (a file, or a
        directory to put ``<name>-v<N>.tar.gz`` in), checking the sha256 the server sent.
        Nothing is left at ``dest`` when the download fails."""
        dest = Path(dest)
        url = f"/api/releases/{_seg(str(version))}/download"
        try:
            with self._http.stream("GET", url, timeout=httpx.Timeout(30.0, read=300.0)) as resp:
                if resp.status_code != 200:
                    resp.read()
                    self._raise_for(resp, f"release {version}")
                if dest.is_dir():
                    dest = dest / local_bundle_name(resp.headers, version)
                total = _int(resp.headers.get("content-length"))
                expected = resp.headers.get("x-leger-sha256")
                dest.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
                digest = hashlib.sha256()
                done = 0
                try:
                    with os.fdopen(fd, "wb") as fh:
                        for chunk in resp.iter_bytes(CHUNK):
                            fh.write(chunk)
                            digest.update(chunk)
                            done += len(chunk)
                            if progress:
                                progress(done, total)
                    if expected and digest.hexdigest() != expected:
                        raise errors.LegerError(
                            f"the download of release {version} does not match its sha256"
                        )
                    os.replace(tmp, dest)
                except BaseException:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(tmp)
                    raise
        except httpx.HTTPError as exc:
            raise self._network_error(exc) from None
        return dest

    # --- deployments (what runs where) --------------------------------------------------

    def report_deployment(self, report: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/deployments``: this device's deployment (the server takes the device
        from the token's login)."""
        data: dict[str, Any] = self._request(
            "POST", "/api/deployments", json=report, what="the deployment report"
        )
        return data

    def list_deployments(self, release: str | None = None) -> list[dict[str, Any]]:
        params = {"release": release} if release else None
        data = self._request("GET", "/api/deployments", params=params, what="deployments")
        items: list[dict[str, Any]] = data["deployments"]
        return items

    # --- plumbing -----------------------------------------------------------------------

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise self._network_error(exc) from None

    def _network_error(self, exc: httpx.HTTPError) -> errors.UnavailableError:
        reason = type(exc).__name__
        if isinstance(exc, httpx.ConnectError):
            reason = "connection refused or host unreachable"
        elif isinstance(exc, httpx.TimeoutException):
            reason = "timed out"
        return errors.UnavailableError(
            f"cannot reach leger-server at {self.server_url}: {reason}",
            hint="check the URL and that the server is running",
        )

    def _request(self, method: str, url: str, *, what: str, **kwargs: Any) -> Any:
        resp = self._send(method, url, **kwargs)
        if resp.status_code >= 300:
            self._raise_for(resp, what)
        try:
            body = resp.json()
        except ValueError:
            raise errors.UnavailableError(
                f"{self.server_url} answered {resp.status_code} without JSON; is it leger-server?"
            ) from None
        if not isinstance(body, dict) or body.get("success") is not True:
            raise errors.LegerError(f"unexpected answer from {self.server_url} about {what}")
        return body.get("data")

    def _raise_for(self, resp: httpx.Response, what: str) -> NoReturn:
        message, code, action = f"HTTP {resp.status_code}", "", None
        try:
            error = resp.json().get("error") or {}
            message = str(error.get("message") or message)[:300]
            code = str(error.get("code") or "")
            action = error.get("action")
        except (ValueError, AttributeError):
            pass
        status = resp.status_code
        text = f"{what}: {message}"
        if status == 401:
            raise errors.DeniedError(
                f"not logged in to {self.server_url} ({message})", hint=LOGIN_HINT
            )
        if status == 403:
            raise errors.DeniedError(text, hint=action)
        if status == 404:
            raise errors.NotFoundError(f"{what} not found" if code == "not_found" else text)
        if status == 409:
            raise errors.ConflictError(text, hint=action)
        if status in (400, 413, 415, 422):
            raise errors.InvalidInputError(text, hint=action)
        if status == 429:
            raise errors.UnavailableError(text, hint=action or "wait a minute and try again")
        raise errors.UnavailableError(
            f"leger-server at {self.server_url} failed on {what}: {message}"
        )


def _seg(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# A name made here, never a path the server chose: no leading dot (``.bashrc``), no separator.
_BUNDLE_STEM = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"


def local_bundle_name(headers: Mapping[str, str], ref: str | int) -> str:
    """``<deployment name>-v<N>.tar.gz`` for a download into a directory.

    The server's ``Content-Disposition`` and ``X-Leger-Version`` only supply the two parts,
    and each must pass the name rules; a name that would be a dot file or a path is refused,
    with nothing written."""
    import re

    version = (headers.get("x-leger-version") or "").strip()
    if not version and str(ref).isdigit():
        version = str(ref)
    if not re.fullmatch(r"[1-9][0-9]{0,8}", version):
        raise errors.InvalidInputError(
            f"the server sent no usable version for release {ref} ({version[:40]!r})",
            hint="name the file with -o FILE",
        )
    match = re.search(r'filename="([^"]*)"', headers.get("content-disposition") or "")
    name = match.group(1) if match else "release"
    suffix = f"-v{version}.tar.gz"
    name = name[: -len(suffix)] if name.endswith(suffix) else name.removesuffix(".tar.gz")
    if not re.fullmatch(_BUNDLE_STEM, name):
        raise errors.InvalidInputError(
            f"refused to save release {ref} as {name[:80]!r}: a downloaded bundle's name may "
            "not start with a dot or hold a path separator",
            hint="name the file with -o FILE",
        )
    return f"{name}-v{version}.tar.gz"
