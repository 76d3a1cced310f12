"""The web UI of the cloud account: server-rendered pages (Jinja2), a little plain JavaScript,
and a browser session started by a one-time code or Tailscale.

:func:`routes` is what :func:`leger_server.app.create_app` mounts after the API. Every page
reaches users, secrets and releases through :func:`leger_server.services.services` and the
session through :func:`leger_server.session.current_user`; nothing here touches the database.

Pages: ``/login``, ``/login/code`` (a one-time code from the CLI starts the session),
``/login/tailscale``, ``/logout``, ``/logout-everywhere``, ``/api-keys``,
``/releases``, ``/releases/new``, ``/releases/{id}``, ``/settings``; static files under
``/static``.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from leger_server.settings import Settings
from leger_server.web.pages_auth import routes as auth_pages
from leger_server.web.pages_keys import routes as key_pages
from leger_server.web.pages_releases import routes as release_pages
from leger_server.web.pages_settings import routes as settings_pages
from leger_server.web.render import STATIC_DIR


def routes(settings: Settings) -> list[BaseRoute]:
    return [
        *auth_pages,
        *key_pages,
        *release_pages,
        *settings_pages,
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
