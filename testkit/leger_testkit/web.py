"""Helpers for tests of the web UI (imported by ``server/tests/test_web_*.py``; usable by any
test that needs a logged-in browser session against a running leger-server). Machine-specific
(Debian's Chromium path), so it lives in the dev-only test kit, not in leger-server.

* :func:`browser_session` – an ``httpx.Client`` holding the session cookie a one-time login
  code started, and the page's CSRF token, like a browser that followed the CLI's login link.
* :func:`login_code` – a one-time code for a CLI token (``POST /api/auth/login-code``);
  :func:`redeem` – the confirmation page's POST of a code, as the browser sends it.
* :data:`CHROMIUM` and :data:`CHROMIUM_ARGS` – how Playwright launches Debian's Chromium here
  (see ENVIRONMENT.md; never ``playwright install``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from leger_server.testing import RunningServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def csrf_from(html: str) -> str:
    match = _CSRF_META.search(html)
    if not match:
        raise AssertionError("no CSRF token on the page (not logged in?)")
    return match.group(1)


@dataclass
class BrowserSession:
    """A cookie session as a browser holds it; ``csrf`` is the token its pages carry."""

    client: httpx.Client
    csrf: str
    user: dict[str, Any]
    token: str  # the CLI's token (for the API), not the cookie

    def post_form(
        self, path: str, data: dict[str, str], *, csrf: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """POST a form with this session's CSRF token (or ``csrf``; ``""`` sends none)."""
        token = self.csrf if csrf is None else csrf
        body = {**data, "csrf_token": token} if token else dict(data)
        return self.client.post(path, data=body, **kwargs)


# What a browser adds to the confirmation page's own POST (Fetch Metadata).
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def login_code(server: RunningServer, token: str) -> str:
    """A one-time login code for the account of ``token`` (what the CLI asks for)."""
    import httpx

    resp = httpx.post(
        server.url + "/api/auth/login-code",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10.0,
    )
    resp.raise_for_status()
    code: str = resp.json()["data"]["code"]
    return code


def redeem(client: httpx.Client, code: str, **headers: str) -> httpx.Response:
    """POST the code as the confirmation page's button does (same-origin unless ``headers``
    say otherwise)."""
    return client.post(
        "/login/code",
        data={"code": code},
        headers=headers or SAME_ORIGIN,
        follow_redirects=False,
    )


def browser_session(server: RunningServer, user_id: str = "u1", **login: Any) -> BrowserSession:
    import httpx

    data = server.login_full(user_id, **login)
    client = httpx.Client(base_url=server.url, timeout=30.0)
    resp = redeem(client, login_code(server, data["token"]))
    if resp.status_code != 303 or "leger_session" not in client.cookies:
        raise AssertionError(f"the login code did not start a session: {resp.status_code}")
    page = client.get("/api-keys")
    page.raise_for_status()
    return BrowserSession(
        client=client, csrf=csrf_from(page.text), user=data["user"], token=data["token"]
    )
