"""Keep the login link's token out of the access log.

``/auth?token=…`` carries a session credential in its URL (the CLI opens it in a browser), and
uvicorn's access log writes every request's path with its query string. This filter rewrites
the ``token`` query parameter of access-log records to ``[redacted]`` before any handler sees
them.
"""

from __future__ import annotations

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
_TOKEN = re.compile(r"([?&]token=)[^&\s]*")


def redact(path: str) -> str:
    return _TOKEN.sub(r"\1[redacted]", path)


class RedactLoginToken(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn's access record: (client, method, path with query, http version, status).
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            if "token=" in args[2]:
                record.args = (*args[:2], redact(args[2]), *args[3:])
        elif isinstance(record.msg, str) and "token=" in record.msg:
            record.msg = redact(record.msg)
        return True


def install() -> None:
    """Add the filter to uvicorn's access logger once (create_app may run many times)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactLoginToken) for f in logger.filters):
        logger.addFilter(RedactLoginToken())
