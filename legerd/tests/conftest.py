"""Fixtures for legerd's own tests (the shared ones live in legerd.testing)."""

from __future__ import annotations

from typing import Any

import pytest

from leger_testkit.setec_wire import Api


@pytest.fixture
def api(legerd_daemon: Any) -> Api:
    return Api(legerd_daemon.socket)
