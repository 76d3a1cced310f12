"""The Leger demo: the whole flow on embedded defaults, in a private temporary home.

Each part of Leger adds a step module to scripts/demo_steps/ (run in file-name order); every
step drives the real programs from .venv, the way a user would, and prints what it runs.

    ./dev demo            run every step
    ./dev demo --keep     keep the temporary home for a look afterwards
    ./dev demo legerd     run only steps whose file name contains "legerd"
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_kit import Demo


def main(argv: list[str]) -> int:
    keep = "--keep" in argv
    wanted = [a for a in argv if not a.startswith("-")]
    steps_dir = Path(__file__).resolve().parent / "demo_steps"
    steps = sorted(p for p in steps_dir.glob("[0-9]*.py"))
    if wanted:
        steps = [p for p in steps if any(w in p.stem for w in wanted)]
    with Demo(keep=keep) as demo:
        for path in steps:
            spec = importlib.util.spec_from_file_location(f"demo_step_{path.stem}", path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            demo.section(module.TITLE)
            module.run(demo)
        demo.done()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
