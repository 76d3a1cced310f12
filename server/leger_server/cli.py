"""``leger-server`` command line."""

from __future__ import annotations

import click

from leger_server import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leger-server")
def main() -> None:
    """Leger's cloud account service."""
