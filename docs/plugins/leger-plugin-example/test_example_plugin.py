"""The example plugin's own tests, using the harness leger ships (leger_core.testing)."""

from __future__ import annotations

import leger_plugin_example
import pytest

from leger_core.testing import SecretBackendConformance


@pytest.fixture
def example(leger_register):
    return leger_register(leger_plugin_example, name="example")


def test_hello_command(example, leger_invoke):
    result = leger_invoke(["hello", "Ada"])
    assert result.exit_code == 0
    assert result.output == "Hello, Ada!\n"


class TestMemoryBackend(SecretBackendConformance):
    @pytest.fixture
    def secret_backend(self):
        return leger_plugin_example.MemoryBackend()
