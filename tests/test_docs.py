"""Docs and code keep each other honest (after datasette's tests/test_docs.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from leger_core import hookspecs
from leger_core.errors import EXIT_CODES

ROOT = Path(__file__).resolve().parent.parent
HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("leger_"))


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## ", text, flags=re.M)[1:]
    return {p.split("(", 1)[0].strip(): p for p in parts}


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_an_example(hook):
    sections = _sections((ROOT / "docs/plugins/hooks.md").read_text())
    assert hook in sections, f"{hook} is missing from docs/plugins/hooks.md"
    body = sections[hook]
    assert "@leger_core.hookimpl" in body and f"def {hook}(" in body


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_the_specs_arguments(hook):
    import inspect

    params = list(inspect.signature(getattr(hookspecs, hook)).parameters)
    heading = (ROOT / "docs/plugins/hooks.md").read_text()
    assert f"## {hook}({', '.join(params)})" in heading


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_tested(hook):
    tests = "".join(
        p.read_text() for p in (ROOT / "tests").glob("test_*.py") if p.name != "test_docs.py"
    )
    assert f"def {hook}(" in tests, f"no test in tests/ implements {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_docstring_saying_how_it_is_used(hook):
    doc = getattr(hookspecs, hook).__doc__ or ""
    assert len(doc.split()) >= 8


def test_every_exit_code_is_documented():
    text = (ROOT / "docs/index.md").read_text()
    for code in EXIT_CODES:
        assert re.search(rf"^\| {code} \|", text, flags=re.M), f"exit code {code} undocumented"


def test_cli_reference_is_current():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gen_cli_docs
    finally:
        sys.path.pop(0)
    assert (ROOT / "docs/cli.md").read_text() == gen_cli_docs.render(), (
        "docs/cli.md is stale: run ./dev docs"
    )


def test_tutorial_shows_the_example_plugin_code():
    tutorial = (ROOT / "docs/plugins/tutorial.md").read_text()
    source = (ROOT / "docs/plugins/leger-plugin-example/leger_plugin_example.py").read_text()
    assert 'register("memory", lambda leger: MemoryBackend())' in tutorial
    assert 'register("memory", lambda leger: MemoryBackend())' in source


def test_tutorial_backend_section_shows_the_pass_plugin_as_it_is():
    tutorial = (ROOT / "docs/plugins/tutorial.md").read_text()
    plugin = (ROOT / "plugins/pass_backend/leger_plugin_pass/plugin.py").read_text()
    for line in ('register("pass", backend_factory)', '"leger_plugin_pass.backend:open_backend"'):
        assert line in tutorial and line in plugin
    assert "## 5. Writing a backend" in tutorial


def test_readme_quick_start_has_exactly_two_commands():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```", 2)[1]
    commands = [line for line in block.strip().splitlines() if line.strip()]
    assert commands == ["./dev demo", "./dev test"]
    ci = (ROOT / ".ci/run").read_text()
    assert "./dev test" in ci


def test_dev_help_runs():
    result = subprocess.run([str(ROOT / "dev"), "help"], capture_output=True, text=True)
    assert result.returncode == 2 and "./dev test" in result.stdout


def test_every_hook_example_runs_and_registers_as_a_plugin(leger_pm):
    """The copy-pasteable examples in docs/plugins/hooks.md are real: each block runs, and the
    module it makes registers with a plugin manager, which checks every @hookimpl against its
    spec (a misspelt hook or argument is an error)."""
    import types

    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs/plugins/hooks.md").read_text(), re.S)
    assert len(blocks) >= len(HOOKS)
    implemented: set[str] = set()
    for i, source in enumerate(blocks):
        module = types.ModuleType(f"hooks_md_example_{i}")
        exec(compile(source, f"docs/plugins/hooks.md block {i + 1}", "exec"), module.__dict__)
        leger_pm.register(module, name=module.__name__)
        leger_pm.check_pending()  # an implementation of no known hook is an error
        implemented |= {n for n in vars(module) if n.startswith("leger_")}
        leger_pm.unregister(module)
    assert set(HOOKS) <= implemented, set(HOOKS) - implemented


def test_docs_site_builds_strict(tmp_path):
    """`mkdocs build --strict` (mkdocs.yml): a broken link, a missing page or a page left out
    of the nav fails the build, so the site a user reads has no dead ends."""
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cli" / "index.html").is_file()
    assert (tmp_path / "plugins" / "hooks" / "index.html").is_file()


def test_docs_site_refuses_a_broken_link(tmp_path):
    """The strict build is what catches dead links: the same docs plus one broken link fail."""
    import shutil

    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs)
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    with (docs / "index.md").open("a") as f:
        f.write("\nSee [the missing page](no-such-page.md).\n")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "s")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode != 0
    assert "no-such-page.md" in result.stderr


def test_getting_started_runs_only_commands_the_demo_runs():
    """Every leger, legerd and leger-server command of the getting-started page (program and
    subcommand words) is one the demo runs, so the page cannot drift from what works."""
    page = (ROOT / "docs/getting-started.md").read_text()
    demo = "\n".join(p.read_text() for p in (ROOT / "scripts/demo_steps").glob("*.py"))
    commands = []
    for block in re.findall(r"```shell\n(.*?)```", page, re.S):
        for line in block.splitlines():
            for part in line.split("&&"):
                words = part.split()
                if words and words[0] in ("leger", "legerd", "leger-server"):
                    sub = [w for w in words[1:3] if re.fullmatch(r"[a-z][a-z-]*", w)]
                    commands.append([words[0], *sub[: 2 if words[0] == "leger" else 1]])
    assert len(commands) >= 12
    for program, *sub in commands:
        # as the demo writes them: ["leger", "auth", "login", …] or [legerd, "install-units"]
        # or str(BIN / "leger-server"), "serve"
        pattern = rf'\b{re.escape(program)}"?\)?,\s*' + r",\s*".join(f'"{w}"' for w in sub)
        assert re.search(pattern, demo), f"the demo never runs: {program} {' '.join(sub)}"
