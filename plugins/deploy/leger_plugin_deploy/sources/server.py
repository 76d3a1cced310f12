"""Releases of the logged-in leger-server account, through ``leger-plugin-cloud`` (imported
only when such a release is asked for, so this plugin works without it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leger_core.errors import NotImplementedYetError
from leger_plugin_deploy.sources import Report


def _client(leger: Any) -> Any:
    raise NotImplementedYetError("installing releases of your leger account is not built yet")


def latest_version(leger: Any, name: str) -> str:
    _client(leger)
    return ""


def download(
    leger: Any, name: str, workdir: Path, report: Report, version: str | None = None
) -> tuple[Path, dict[str, Any]]:
    _client(leger)
    raise AssertionError("unreachable")
