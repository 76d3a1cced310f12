"""Reading form posts: bounded, ``application/x-www-form-urlencoded`` only (every form here is
plain fields; multipart would only add a parser and a dependency)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from leger_server.errors import InvalidInput, UnsupportedMedia
from leger_server.http import read_body

FORM_LIMIT = 256 * 1024  # a secret value is at most 64 KiB; escaping can triple it


async def read_form(request: Request) -> dict[str, str]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise UnsupportedMedia("send the form as application/x-www-form-urlencoded")
    body = await read_body(request, FORM_LIMIT)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("the form could not be read") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)  # the first of repeated fields wins, like request.form()
    return form
