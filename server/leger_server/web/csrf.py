"""CSRF tokens tied to the browser session.

The token is an HMAC of the session token under a key derived from the server's JWT secret, so
it needs no storage, changes with every new session, and a token taken from one user's page is
worthless with another user's cookie. Every state-changing page request must carry it (the
``csrf_token`` form field, or the ``X-CSRF-Token`` header for the few ``fetch`` calls), and a
request whose ``Origin`` names another site is refused before that.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from starlette.requests import Request

from leger_server.errors import Forbidden
from leger_server.services import services
from leger_server.session import request_token

FIELD = "csrf_token"
HEADER = "x-csrf-token"
_PURPOSE = b"leger-web-csrf-v1"


def _key(request: Request) -> bytes:
    secret = services(request).settings.keys.jwt_secret
    return hmac.new(secret, _PURPOSE, hashlib.sha256).digest()


def token_for(request: Request) -> str:
    """The CSRF token of this request's session ('' when there is no session)."""
    session = request_token(request)
    if not session:
        return ""
    mac = hmac.new(_key(request), session.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        # Browsers send Origin on every cross-site POST; "null" comes from sandboxed frames
        # and privacy modes, where the token alone must decide.
        return True
    expected = f"{request.url.scheme}://{request.url.netloc}"
    return hmac.compare_digest(origin.encode(), expected.encode())


def check(request: Request, submitted: str | None) -> None:
    """Raise Forbidden unless ``submitted`` is this session's token and the origin is ours."""
    if not _same_origin(request):
        raise Forbidden("cross-site request refused", code="csrf_failed")
    expected = token_for(request)
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        raise Forbidden(
            "this form has expired or was not sent from this site; reload the page and retry",
            code="csrf_failed",
        )
