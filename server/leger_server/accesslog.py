"""Keep query values out of the access log.

uvicorn's access log writes every request's path with its query string, and a query can hold a
credential: the web UI's login link is ``/login/code?code=<one-time code>``, and a client may
put a key in any other URL by mistake. This filter rewrites the path of each ``uvicorn.access``
record so every query value reads ``[redacted]`` (``/login/code?code=[redacted]``); the
parameter names stay when they look like names, so the log still tells which request was which.

It is installed twice on purpose: :func:`install` (called by ``create_app``, so every worker
and any ASGI server running the app gets it) and :func:`uvicorn_log_config` (what ``leger-server
serve`` hands uvicorn, so the filter is part of the logging setup itself).
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "[redacted]"
_NAME = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,64}")


def redact(path: str) -> str:
    """``path`` with each query value replaced (and any odd parameter name too)."""
    base, sep, query = path.partition("?")
    if not sep:
        return path
    parts: list[str] = []
    for part in query.split("&"):
        name, eq, _ = part.partition("=")
        if not part:
            parts.append(part)
        elif eq and _NAME.fullmatch(name):
            parts.append(f"{name}={REDACTED}")
        else:
            parts.append(REDACTED)
    return f"{base}?{'&'.join(parts)}"


class RedactQuery(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn's access record: (client, method, path with query, http version, status).
        if isinstance(args, tuple):
            record.args = tuple(
                redact(arg) if isinstance(arg, str) and "?" in arg else arg for arg in args
            )
        elif isinstance(record.msg, str) and "?" in record.msg:
            record.msg = " ".join(redact(word) for word in record.msg.split(" "))
        return True


def install() -> None:
    """Add the filter to uvicorn's access logger once (create_app may run many times)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactQuery) for f in logger.filters):
        logger.addFilter(RedactQuery())


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging config with :class:`RedactQuery` on the access logger."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_query"] = {"()": f"{__name__}.RedactQuery"}
    config["loggers"][ACCESS_LOGGER]["filters"] = ["redact_query"]
    config["handlers"]["access"]["filters"] = ["redact_query"]
    return config
