"""``legerd`` command line."""

from __future__ import annotations

import click

from legerd import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="legerd")
def main() -> None:
    """Leger's local secrets daemon (a tailscale/setec-compatible server)."""
