"""Rendering pages: the Jinja2 environment (autoescaped), the headers every page carries, and
the small helpers shared by the page modules."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from leger_server.web import csrf

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATE_DIR = HERE / "templates"

# No inline script or style anywhere, so the policy can forbid both: an injected <script>
# would not run even if escaping ever failed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # A login code in /login/code?code=… must never leak through a Referer header.
    "Referrer-Policy": "no-referrer",
    # Pages show account data; keep them out of shared caches and the back-forward cache.
    "Cache-Control": "no-store",
}


def _when(value: str | None) -> str:
    """``2026-11-23T18:40:00Z`` → ``2026-11-23 18:40 UTC`` (what a person reads)."""
    if not value:
        return "never"
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return parsed.strftime("%Y-%m-%d %H:%M UTC")


def _size(value: int | None) -> str:
    if value is None:
        return "?"
    size = float(value)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} bytes"


def _short_version(value: str | None) -> str:
    """A git commit as its first 12 hex digits (as ``leger deploy`` shows it), else as is."""
    if value and len(value) >= 40 and all(c in "0123456789abcdef" for c in value):
        return value[:12]
    return value or "?"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["size"] = _size
    env.filters["short_version"] = _short_version
    return env


templates = _environment()


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    user: dict[str, Any] | None = None,
) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "request": request,
        "user": user,
        "csrf_token": csrf.token_for(request) if user else "",
        "path": request.url.path,
        **(context or {}),
    }
    html = templates.get_template(template).render(ctx)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def redirect(url: str) -> RedirectResponse:
    """303 See Other: after a POST the browser follows with a GET (no resubmission on reload)."""
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def with_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response
