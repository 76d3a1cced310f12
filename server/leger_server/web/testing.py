"""Helpers for tests of the web UI (imported by ``server/tests/test_web_*.py``; usable by any
test that needs a logged-in browser session against a running leger-server).

* :func:`browser_session` – an ``httpx.Client`` holding the session cookie ``/auth`` set, and
  the page's CSRF token, like a browser that followed the CLI's login link.
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


def browser_session(server: RunningServer, user_id: str = "u1", **login: Any) -> BrowserSession:
    import httpx

    data = server.login_full(user_id, **login)
    client = httpx.Client(base_url=server.url, timeout=30.0)
    resp = client.get("/auth", params={"token": data["token"]}, follow_redirects=False)
    if resp.status_code != 303 or "leger_session" not in client.cookies:
        raise AssertionError(f"/auth did not start a session: {resp.status_code}")
    page = client.get("/api-keys")
    page.raise_for_status()
    return BrowserSession(
        client=client, csrf=csrf_from(page.text), user=data["user"], token=data["token"]
    )
