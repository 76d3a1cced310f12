"""Errors the API turns into its JSON envelope, and settings errors the CLI shows."""

from __future__ import annotations


class SettingsError(Exception):
    """The server cannot start with these settings; the message says what to change."""


class ApiError(Exception):
    """An error answered as ``{"success": false, "error": {code, message, action?}}``."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        action: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.action = action


class InvalidInput(ApiError):
    status = 400
    code = "invalid_input"


class Unauthorized(ApiError):
    status = 401
    code = "invalid_token"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class TooLarge(ApiError):
    status = 413
    code = "too_large"


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"


class UnsupportedMedia(ApiError):
    status = 415
    code = "unsupported_media_type"


class IdentityRejected(ApiError):
    status = 401
    code = "tailscale_verification_failed"
