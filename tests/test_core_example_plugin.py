"""The tutorial's example plugin, installed into the venv for real, shows up in leger."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs/plugins/leger-plugin-example"


@pytest.fixture
def example_installed():
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--no-deps", "-e", str(EXAMPLE)], check=True, timeout=300)
    try:
        yield
    finally:
        subprocess.run([*pip, "uninstall", "-y", "leger-plugin-example"], check=True, timeout=120)


@pytest.mark.slow
def test_installing_the_example_plugin_adds_its_command(example_installed, run_leger):
    help_text = run_leger("--help").stdout
    assert "hello" in help_text and "Say hello (from leger-plugin-example)." in help_text
    assert run_leger("hello", "Ada").stdout == "Hello, Ada!\n"
    plugins = run_leger("plugins").stdout
    assert "example  (leger-plugin-example 0.1.0)" in plugins
    assert "secret backends: memory" in plugins
    # Selecting plugins by name still works with a third-party plugin installed.
    only = run_leger("--help", env={"LEGER_LOAD_PLUGINS": "envfile"}).stdout
    assert "hello" not in only
