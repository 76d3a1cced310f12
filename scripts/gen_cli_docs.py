"""Write docs/cli.md from the --help of leger, legerd and leger-server.

Run `./dev docs`; tests/test_docs.py checks the file is current.

Generated with the first-party plugins only, so what else is installed does not leak in.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = "setec,podman,envfile,initscript,cloud,deploy"
HEADER = """# CLI reference

<!-- Generated from --help by scripts/gen_cli_docs.py (`./dev docs`). Do not edit. -->

"""


def _walk(
    command: click.Command, path: list[str], out: list[str], parent: click.Context | None
) -> None:
    # A context chain like a real invocation's, so inherited settings (-h) show as they do.
    settings = {"terminal_width": 100, "max_content_width": 100, **command.context_settings}
    ctx = click.Context(command, info_name=path[-1], parent=parent, **settings)
    heading = "#" * min(len(path) + 1, 4)
    out.append(f"{heading} `{' '.join(path)}`\n\n```\n{command.get_help(ctx)}\n```\n")
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            _walk(command.commands[name], [*path, name], out, ctx)


def render() -> str:
    previous = os.environ.get("LEGER_LOAD_PLUGINS")
    os.environ["LEGER_LOAD_PLUGINS"] = FIRST_PARTY
    try:
        from leger_core.cli import build_cli
        from leger_core.plugins import get_plugin_manager

        cli = build_cli(get_plugin_manager())
    finally:
        if previous is None:
            del os.environ["LEGER_LOAD_PLUGINS"]
        else:
            os.environ["LEGER_LOAD_PLUGINS"] = previous
    from leger_server.cli import main as server_cli
    from legerd.cli import main as legerd_cli

    out: list[str] = []
    _walk(cli, ["leger"], out, None)
    _walk(legerd_cli, ["legerd"], out, None)
    _walk(server_cli, ["leger-server"], out, None)
    return HEADER + "\n".join(out)


def main() -> int:
    target = ROOT / "docs" / "cli.md"
    target.write_text(render())
    print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
