"""An app factory for ASGI servers and for ``serve --workers N``: settings from the
environment (``LEGER_SERVER_DATA_DIR``, ``LEGER_SERVER_DATABASE_URL``, ``LEGER_SERVER_BLOBS_URL``,
``LEGER_SERVER_IDENTITY`` and the key variables of :mod:`leger_server.settings`)::

    uvicorn --factory leger_server.asgi:app_from_env --workers 4

Run that way, uvicorn has none of ``serve``'s header/read timeouts and connection caps
(:mod:`leger_server.connguard`; uvicorn's command line cannot take another HTTP protocol):
put a proxy with its own limits in front, or use ``leger-server serve``.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette

from leger_server.app import create_app
from leger_server.settings import Settings


def app_from_env() -> Starlette:
    # As in ``leger-server serve``: the database, its WAL and blobs are for this user only.
    os.umask(0o077)
    settings = Settings.build(
        data_dir=os.environ.get("LEGER_SERVER_DATA_DIR", "./leger-server-data"),
        database_url=os.environ.get("LEGER_SERVER_DATABASE_URL") or None,
        blobs_url=os.environ.get("LEGER_SERVER_BLOBS_URL") or None,
        identity=os.environ.get("LEGER_SERVER_IDENTITY", "tailscale"),
    )
    # Several workers share one database: migrations run once, before they start.
    settings.auto_migrate = os.environ.get("LEGER_SERVER_AUTO_MIGRATE", "") == "1"
    return create_app(settings)
