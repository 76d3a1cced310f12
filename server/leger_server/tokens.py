"""Session tokens: JWT, HS256 only (the algorithm is pinned, never read from the token), ``exp``
required, 30 days by default. Each token carries a random ``jti``, so two logins within the same
second still get different tokens (and different CSRF tokens, which derive from the session),
and a token can be logged out on its own (:mod:`leger_server.revocations`)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

from leger_server.errors import Unauthorized

ALGORITHM = "HS256"


@dataclass(frozen=True)
class TokenClaims:
    user_uuid: str
    tailscale_user_id: str
    email: str
    tailnet: str
    issued_at: int
    expires_at: int
    token_id: str  # the jti: what logging this token out records
    generation: int = 0  # the account's token generation at issue ("log out everywhere")
    # The device the login came from, as the identity verifier learned it from the connection
    # (empty for a browser session, and for tokens issued before devices were recorded).
    device_id: str = ""
    hostname: str = ""


# How many verified tokens each process remembers (see TokenService.verify).
VERIFIED_CACHE_SIZE = 4096


class TokenService:
    def __init__(self, secret: bytes, *, days: int = 30) -> None:
        self._secret = secret
        self.lifetime = days * 86400
        # SHA-256 of a token whose signature and claims checked out -> its claims. Checking
        # the signature and parsing the JWT again for every request of the same CLI was a
        # tenth of a request's CPU. Only what the token itself proves is kept: expiry is
        # checked again on every use, and whether the token was logged out is the
        # database's to say (leger_server.session), never this cache's. Keyed by a hash, so
        # the cache holds no usable token.
        self._verified: dict[bytes, TokenClaims] = {}

    def __repr__(self) -> str:
        return "TokenService(HS256)"

    def issue(
        self,
        *,
        user_uuid: str,
        tailscale_user_id: str,
        email: str,
        tailnet: str,
        generation: int = 0,
        expires_at: int | None = None,
        device_id: str | None = None,
        hostname: str | None = None,
    ) -> str:
        """A new token; it expires after the configured lifetime, or at ``expires_at`` if that
        is sooner (a browser session never outlives the CLI token it came from)."""
        now = int(time.time())
        exp = now + self.lifetime if expires_at is None else min(expires_at, now + self.lifetime)
        payload: dict[str, Any] = {
            "sub": user_uuid,
            "tailscale_user_id": tailscale_user_id,
            "email": email,
            "tailnet": tailnet,
            "iat": now,
            "exp": exp,
            "jti": secrets.token_urlsafe(16),
            "gen": generation,
        }
        if device_id:
            payload["dev"] = device_id
            payload["host"] = hostname or ""
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> TokenClaims:
        """The claims of a token signed with this server's key that has not expired; raises
        401 otherwise."""
        key = hashlib.sha256(token.encode()).digest()
        claims = self._verified.get(key)
        if claims is None:
            claims = self._decode(token)
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.clear()  # simple and bounded; the next requests refill it
            self._verified[key] = claims
        if claims.expires_at <= time.time():
            raise Unauthorized(
                "token expired", code="token_expired", action="run: leger auth login"
            )
        return claims

    def _decode(self, token: str) -> TokenClaims:
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={"require": ["exp", "iat", "sub", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized(
                "token expired", code="token_expired", action="run: leger auth login"
            ) from None
        except jwt.PyJWTError:
            raise Unauthorized(
                "JWT signature invalid or expired", action="run: leger auth login"
            ) from None
        try:
            return TokenClaims(
                user_uuid=str(payload["sub"]),
                tailscale_user_id=str(payload.get("tailscale_user_id", "")),
                email=str(payload.get("email", "")),
                tailnet=str(payload.get("tailnet", "")),
                issued_at=int(payload["iat"]),
                expires_at=int(payload["exp"]),
                token_id=str(payload["jti"]),
                generation=int(payload.get("gen", 0)),
                device_id=str(payload.get("dev", "")),
                hostname=str(payload.get("host", "")),
            )
        except (TypeError, ValueError):
            raise Unauthorized("malformed token claims") from None
