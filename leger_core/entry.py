"""The ``leger`` console script. Tries the fast path before importing click or pluggy, so
commands run on every container start stay close to the bare interpreter's start-up time."""

from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    from leger_core import fastpath

    fast = fastpath.find(args)
    if fast is not None:
        code = fast(args[2:])
        if code is not None:
            sys.exit(code)
    from leger_core.cli import main as full_main

    sys.exit(full_main(args, try_fast=False))
