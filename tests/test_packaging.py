"""Package boundaries: every distribution declares what its code imports.

For each distribution of the repository (the root ``leger``, ``plugins/*``, ``legerd``,
``server``, the dev-only ``testkit`` and the documented example plugin) every ``import`` in its
shipped modules — at module level, in functions, under ``TYPE_CHECKING`` — of a first-party
top-level package (``leger_core``, ``leger_plugin_*``, ``legerd``, ``leger_server``) or of a
third-party one must name a distribution its ``pyproject.toml`` declares. An import guarded by
``except ImportError`` (the code works without it) and an import in the distribution's pytest
plugin (loaded only by pytest) may instead be declared in an extra. The editable install hides a
missing declaration; a user's ``pip install`` of one wheel does not (see test_wheels.py).
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Distribution:
    """One ``pyproject.toml`` and the top-level packages (or modules) it ships."""

    name: str
    root: Path
    packages: tuple[str, ...]
    requires: frozenset[str]  # normalized names of ``dependencies``
    extras: frozenset[str]  # normalized names of every optional-dependencies group
    pytest_plugins: frozenset[str] = field(default=frozenset())  # module names (pytest11)

    @classmethod
    def load(cls, root: Path) -> Distribution:
        data = tomllib.loads((root / "pyproject.toml").read_text())
        project = data["project"]
        setuptools = data.get("tool", {}).get("setuptools", {})
        found = setuptools.get("packages", {})
        if isinstance(found, dict):  # [tool.setuptools.packages.find]
            names = [p.rstrip("*").rstrip(".") for p in found.get("find", {}).get("include", [])]
        else:
            names = [p for p in found if "." not in p]
        names += setuptools.get("py-modules", [])
        extras = project.get("optional-dependencies", {})
        plugins = project.get("entry-points", {}).get("pytest11", {})
        return cls(
            name=project["name"],
            root=root,
            packages=tuple(sorted(set(names))),
            requires=frozenset(normalize(Requirement(r).name) for r in project["dependencies"]),
            extras=frozenset(
                normalize(Requirement(r).name) for group in extras.values() for r in group
            ),
            pytest_plugins=frozenset(v.split(":")[0] for v in plugins.values()),
        )

    def modules(self) -> Iterator[tuple[str, Path]]:
        """(dotted module name, file) of every module this distribution ships."""
        for top in self.packages:
            single = self.root / f"{top}.py"
            if single.is_file():
                yield top, single
                continue
            for path in sorted((self.root / top).rglob("*.py")):
                parts = path.relative_to(self.root).with_suffix("").parts
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                yield ".".join(parts), path


def repository_distributions() -> list[Distribution]:
    roots = [ROOT, *sorted(ROOT.glob("*/pyproject.toml")), *sorted(ROOT.glob("plugins/*/"))]
    roots.append(ROOT / "docs/plugins/leger-plugin-example")
    dirs = [r.parent if r.name == "pyproject.toml" else r for r in roots]
    return [Distribution.load(d) for d in dirs if (d / "pyproject.toml").is_file()]


@dataclass(frozen=True)
class Import:
    top: str  # the top-level name imported
    line: int
    optional: bool  # guarded by ``except ImportError``: the code runs without it


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    names = []
    if handler.type is None:
        return True
    for node in ast.walk(handler.type):
        if isinstance(node, ast.Name):
            names.append(node.id)
    return bool({"ImportError", "ModuleNotFoundError"} & set(names))


def imports_in(source: str) -> list[Import]:
    """Every absolute import in ``source``, wherever it is (functions, ``if TYPE_CHECKING``)."""
    found: list[Import] = []

    def visit(node: ast.AST, optional: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(a.name.split(".")[0], node.lineno, optional) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(Import(node.module.split(".")[0], node.lineno, optional))
        if isinstance(node, ast.Try | ast.TryStar):
            guarded = optional or any(_catches_import_error(h) for h in node.handlers)
            for child in node.body:
                visit(child, guarded)
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(child, optional)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, optional)

    visit(ast.parse(source), False)
    return found


@functools.cache
def _installed() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def providers(distributions: list[Distribution]) -> dict[str, set[str]]:
    """Import name → normalized names of the distributions that provide it: first-party from
    the pyproject files, third-party from what is installed here."""
    table: dict[str, set[str]] = {}
    for top, dists in _installed().items():
        table.setdefault(top, set()).update(normalize(d) for d in dists)
    for dist in distributions:
        for top in dist.packages:
            table[top] = {normalize(dist.name)}
    return table


def violations(dist: Distribution, table: dict[str, set[str]]) -> list[str]:
    """What ``dist`` imports without declaring it, as ``file:line: message`` lines."""
    own = set(dist.packages)
    problems = []
    for module, path in dist.modules():
        in_pytest_plugin = module in dist.pytest_plugins
        for imp in imports_in(path.read_text()):
            if imp.top in own or imp.top in sys.stdlib_module_names or imp.top == "__future__":
                continue
            where = f"{path.relative_to(dist.root.parent)}:{imp.line}"
            names = table.get(imp.top)
            if not names:
                problems.append(f"{where}: imports {imp.top}, which no distribution provides")
                continue
            allowed = dist.requires
            if imp.optional or in_pytest_plugin:
                allowed = dist.requires | dist.extras
            if in_pytest_plugin and imp.top == "pytest":
                continue  # pytest is what loads its plugins
            if not names & allowed:
                problems.append(
                    f"{where}: imports {imp.top} ({' or '.join(sorted(names))}), which "
                    f"{dist.name}'s pyproject.toml does not declare"
                    + ("" if imp.optional or in_pytest_plugin else " in its dependencies")
                )
    return problems


DISTRIBUTIONS = repository_distributions()


def test_every_distribution_of_the_repository_is_checked():
    names = {d.name for d in DISTRIBUTIONS}
    assert {"leger", "legerd", "leger-server", "leger-plugin-deploy", "leger-plugin-pass"} <= names
    assert all(d.packages for d in DISTRIBUTIONS), [d.name for d in DISTRIBUTIONS]


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=lambda d: d.name)
def test_distribution_declares_every_package_it_imports(dist: Distribution):
    assert list(dist.modules()), f"{dist.name} ships no module"
    assert violations(dist, providers(DISTRIBUTIONS)) == []


def _fake(tmp_path: Path, pyproject: str, modules: dict[str, str]) -> Distribution:
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(pyproject))
    for rel, source in modules.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return Distribution.load(tmp_path)


FAKE_PYPROJECT = """\
    [project]
    name = "leger-plugin-fake"
    version = "0"
    dependencies = ["leger>=0.1", "click"]

    [project.optional-dependencies]
    cloud = ["leger-plugin-cloud"]

    [project.entry-points.pytest11]
    fake = "leger_plugin_fake.testing"

    [tool.setuptools.packages.find]
    include = ["leger_plugin_fake*"]
"""


def test_an_undeclared_cross_package_import_is_a_violation(tmp_path: Path):
    dist = _fake(
        tmp_path,
        FAKE_PYPROJECT,
        {
            "leger_plugin_fake/__init__.py": "from leger_core import hookimpl\nimport click\n",
            "leger_plugin_fake/sub/deep.py": """\
                def lookup():
                    from leger_plugin_setec.client import SetecClient
                    return SetecClient
            """,
        },
    )
    found = violations(dist, providers([*DISTRIBUTIONS, dist]))
    assert [f.split(": ", 1)[1] for f in found] == [
        "imports leger_plugin_setec (leger-plugin-setec), which leger-plugin-fake's "
        "pyproject.toml does not declare in its dependencies"
    ]
    assert found[0].split(": ")[0].endswith("leger_plugin_fake/sub/deep.py:2")


def test_undeclared_third_party_and_type_checking_imports_are_violations(tmp_path: Path):
    dist = _fake(
        tmp_path,
        FAKE_PYPROJECT,
        {
            "leger_plugin_fake/__init__.py": """\
                from typing import TYPE_CHECKING
                import httpx
                if TYPE_CHECKING:
                    from legerd.store import Store
                import no_such_package_anywhere
            """,
        },
    )
    found = [f.split(": ", 1)[1] for f in violations(dist, providers([*DISTRIBUTIONS, dist]))]
    assert found == [
        "imports httpx (httpx), which leger-plugin-fake's pyproject.toml does not declare in "
        "its dependencies",
        "imports legerd (legerd), which leger-plugin-fake's pyproject.toml does not declare in "
        "its dependencies",
        "imports no_such_package_anywhere, which no distribution provides",
    ]


def test_an_optional_import_may_come_from_an_extra_but_not_from_nowhere(tmp_path: Path):
    dist = _fake(
        tmp_path,
        FAKE_PYPROJECT,
        {
            "leger_plugin_fake/__init__.py": """\
                def client():
                    try:
                        from leger_plugin_cloud.session import current_client
                    except ImportError:
                        return None
                    return current_client
                try:
                    import legerd
                except ModuleNotFoundError:
                    legerd = None
            """,
            "leger_plugin_fake/testing.py": "import pytest\nimport leger_plugin_cloud\n",
        },
    )
    found = [f.split(": ", 1)[1] for f in violations(dist, providers([*DISTRIBUTIONS, dist]))]
    assert found == [
        "imports legerd (legerd), which leger-plugin-fake's pyproject.toml does not declare"
    ]


def test_wheels_keep_every_subpackage():
    """``packages.find`` (not a hand-written list) for every shipped distribution: a listed
    one once left ``leger_plugin_deploy.sources`` out of the wheel."""
    for dist in DISTRIBUTIONS:
        data = tomllib.loads((dist.root / "pyproject.toml").read_text())
        setuptools = data.get("tool", {}).get("setuptools", {})
        if "py-modules" in setuptools:
            continue
        assert isinstance(setuptools.get("packages"), dict), dist.name
