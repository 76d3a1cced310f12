"""docs/web.md keeps up with the code: every page and every provider's secret name is in it."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Route

from leger_server.web.pages_auth import routes as auth_pages
from leger_server.web.pages_keys import routes as key_pages
from leger_server.web.pages_releases import routes as release_pages
from leger_server.web.pages_settings import routes as settings_pages
from leger_server.web.providers import PROVIDER_KEY_NAMES, PROVIDERS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "web.md").read_text()
INTERNAL = {"/", "/api-keys/delete", "/api-keys/{section}", "/releases/{ref}/delete"}


def test_every_page_is_documented() -> None:
    pages = [*auth_pages, *key_pages, *release_pages, *settings_pages]
    paths = {r.path for r in pages if isinstance(r, Route)} - INTERNAL
    for path in paths:
        shown = path.replace("{ref}", "{id}")
        assert f"`{shown}" in DOC or f" {shown}`" in DOC, f"{path} is missing from docs/web.md"


def test_every_provider_and_secret_name_is_documented() -> None:
    for provider in PROVIDERS:
        assert f"| {provider.title} |" in DOC
    for name in PROVIDER_KEY_NAMES:
        assert f"`{name}`" in DOC, name
