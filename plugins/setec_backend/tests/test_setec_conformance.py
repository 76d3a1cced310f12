"""The setec backend keeps every SecretBackend promise, against a real legerd."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from leger_core.testing import SecretBackendConformance
from leger_plugin_setec.backend import SetecBackend
from leger_plugin_setec.client import SetecClient


class TestSetecBackendConformance(SecretBackendConformance):
    @pytest.fixture
    def secret_backend(self, legerd_daemon) -> Iterator[SetecBackend]:
        client = SetecClient(str(legerd_daemon.socket))
        yield SetecBackend(client)
        client.close()
