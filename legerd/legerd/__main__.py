"""``python -m legerd``: the same as the ``legerd`` command."""

from legerd.cli import main

main()
