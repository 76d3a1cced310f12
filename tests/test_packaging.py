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
import concurrent.futures
import functools
import http.client
import importlib.metadata
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import tomllib
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
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


# --- the built wheels, each installed alone into an empty venv ----------------------------

# What users install: every distribution but the dev-only test kit and the tutorial's example.
SHIPPED = [d for d in DISTRIBUTIONS if d.name not in {"leger-testkit", "leger-plugin-example"}]
FIRST_PARTY = {normalize(d.name): d for d in SHIPPED}


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload,no-any-return]


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every shipped distribution's wheel, built once per session from a copy of exactly what
    its pyproject.toml ships (an in-tree build/ could keep a deleted module in the wheel)."""
    sources = tmp_path_factory.mktemp("wheel-sources")
    out = tmp_path_factory.mktemp("wheels")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for dist in SHIPPED:
        copy = sources / normalize(dist.name)
        copy.mkdir()
        for name in ("pyproject.toml", "README.md"):
            if (dist.root / name).exists():
                shutil.copy2(dist.root / name, copy / name)
        for top in dist.packages:
            shutil.copytree(dist.root / top, copy / top, ignore=ignore)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    built = _run([*pip_wheel, "-q", "-w", str(out), *sorted(str(p) for p in sources.iterdir())])
    assert built.returncode == 0, built.stderr
    return out


def _closure(name: str) -> list[str]:
    """``name``'s first-party dependencies, recursively (not ``name`` itself)."""
    seen: list[str] = []
    todo = [r for r in FIRST_PARTY[name].requires if r in FIRST_PARTY]
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.append(dep)
            todo += [r for r in FIRST_PARTY[dep].requires if r in FIRST_PARTY]
    return seen


def _wheel(wheelhouse: Path, name: str) -> Path:
    (found,) = wheelhouse.glob(f"{name.replace('-', '_')}-*.whl")
    return found


def _install_alone(wheelhouse: Path, root: Path, name: str) -> Path:
    """An empty venv with ``name``'s wheel: its first-party dependencies from ``wheelhouse``
    only (never an index's same-named project), its third-party ones from the package index."""
    venv = root / name
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin/python"), "install", "-q"]
    first_party = [str(_wheel(wheelhouse, dep)) for dep in _closure(name)]
    if first_party:
        step = _run([*pip, "--no-index", "--no-deps", *first_party])
        assert step.returncode == 0, step.stderr
    step = _run([*pip, "--find-links", str(wheelhouse), str(_wheel(wheelhouse, name))])
    assert step.returncode == 0, f"pip install {name}: {step.stderr}"
    return venv


@pytest.fixture(scope="session")
def alone(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """distribution → a venv holding only it (and what it declares); installed in parallel."""
    root = tmp_path_factory.mktemp("venvs")
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        futures = {n: pool.submit(_install_alone, wheelhouse, root, n) for n in FIRST_PARTY}
        return {n: f.result() for n, f in futures.items()}


@pytest.mark.slow
def test_the_deploy_wheel_holds_its_sources_subpackage(wheelhouse: Path):
    with zipfile.ZipFile(_wheel(wheelhouse, "leger-plugin-deploy")) as whl:
        assert "leger_plugin_deploy/sources/__init__.py" in whl.namelist()


@pytest.mark.slow
def test_only_declared_first_party_distributions_are_installed(alone: dict[str, Path]):
    for name, venv in alone.items():
        infos = venv.glob("lib/python*/site-packages/*.dist-info")
        installed = {normalize(info.name.split("-")[0]) for info in infos}
        assert installed & set(FIRST_PARTY) == {name, *_closure(name)}, name


def _user(tmp_path: Path) -> dict[str, str]:
    """A fresh user: private home, no config, no legerd (its socket does not exist)."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEGER", "VIRTUAL_ENV"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".state"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_RUNTIME_DIR=str(tmp_path / "run"),
        LEGERD_SOCKET=str(tmp_path / "no-legerd.sock"),
    )
    (tmp_path / "run").mkdir(mode=0o700)
    return env


# plugin distribution → (its entry point name, commands to run after `leger plugins`: argv and
# what the output must say, with the exit code). Each is real and offline.
PLUGIN_CHECKS: dict[str, tuple[str, list[tuple[list[str], int, str]]]] = {
    "leger-plugin-setec": ("setec", [(["local", "list"], 5, "legerd is not running at")]),
    "leger-plugin-podman": (
        "podman",
        # Alone, the driver has no backend to read: it says which one it needs.
        [(["driver", "lookup"], 4, "unknown secret backend 'setec'")],
    ),
    "leger-plugin-envfile": (
        "envfile",
        [
            (["config", "set", "services.app.secrets", '["openai_api_key"]'], 0, "Set "),
            (["quadlet", "snippet", "app"], 0, "EnvironmentFile=%t/leger/app.env"),
            (["secrets", "fetch", "app"], 4, "unknown secret backend 'setec'"),
        ],
    ),
    "leger-plugin-initscript": (
        "initscript",
        [
            (["config", "set", "services.app.secrets", '["openai_api_key"]'], 0, "Set "),
            (["inject", "initscript", "app"], 0, "PodmanArgs=--entrypoint /run/leger/init.sh"),
            (["local", "list"], 5, "legerd is not running at"),
        ],
    ),
    "leger-plugin-cloud": ("cloud", [(["auth", "status"], 6, "not logged in")]),
    "leger-plugin-deploy": (
        "deploy",
        [(["deploy", "validate", str(ROOT / "examples")], 0, "examples: valid")],
    ),
    "leger-plugin-pass": ("pass", [(["status"], 0, "config  ok")]),
}


@pytest.mark.slow
def test_every_plugin_distribution_is_checked():
    plugins = {n for n in FIRST_PARTY if n.startswith("leger-plugin-")}
    assert plugins == set(PLUGIN_CHECKS)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PLUGIN_CHECKS))
def test_plugin_wheel_alone_works(name: str, alone: dict[str, Path], tmp_path: Path):
    entry, commands = PLUGIN_CHECKS[name]
    leger = str(alone[name] / "bin/leger")
    env = _user(tmp_path)
    listed = _run([leger, "plugins"], env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith(f"{entry}  ({name} 0.1.0)"), listed.stdout
    for argv, code, says in commands:
        proc = _run([leger, *argv], env={**env, "SECRET_ID": "0123456789abcdef012345678"})
        assert (proc.returncode, says in proc.stdout + proc.stderr) == (code, True), (
            argv,
            proc.stdout,
            proc.stderr,
        )
        assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_core_wheel_alone_lists_no_plugins(alone: dict[str, Path], tmp_path: Path):
    proc = _run([str(alone["leger"] / "bin/leger"), "plugins"], env=_user(tmp_path))
    assert (proc.returncode, proc.stdout) == (0, "No plugins installed.\n")


def _health_over_unix(path: Path) -> tuple[int, bytes]:
    class UnixConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(str(path))

    conn = UnixConnection("legerd", timeout=10)
    try:
        conn.request("GET", "/health")
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _serve_until_healthy(
    argv: list[str], env: dict[str, str], ask: Callable[[], tuple[int, bytes]]
) -> tuple[int, bytes]:
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                return ask()
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                    raise AssertionError(f"{argv[0]} did not serve /health:\n{out}") from None
                time.sleep(0.1)
    finally:
        if proc.poll() is None:  # only the daemon this test started, by its PID
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.slow
def test_legerd_wheel_alone_serves_health(alone: dict[str, Path], tmp_path: Path):
    run_dir = Path(tempfile.mkdtemp(prefix="legerd-", dir="/tmp"))  # a short socket path
    try:
        sock = run_dir / "legerd.sock"
        argv = [str(alone["legerd"] / "bin/legerd"), "serve"]
        argv += ["--state-dir", str(tmp_path / "state"), "--socket", str(sock)]
        status, body = _serve_until_healthy(argv, _user(tmp_path), lambda: _health_over_unix(sock))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    assert status == 200, body


@pytest.mark.slow
def test_leger_server_wheel_alone_serves_health(alone: dict[str, Path], tmp_path: Path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def ask() -> tuple[int, bytes]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as resp:
            return resp.status, resp.read()

    argv = [str(alone["leger-server"] / "bin/leger-server"), "serve", "--identity", "dev"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--data-dir", str(tmp_path / "data")]
    status, body = _serve_until_healthy(argv, _user(tmp_path), ask)
    assert status == 200, body


def test_machine_specific_test_kits_are_not_shipped():
    """Machine-specific set-ups (podman with runc, Debian's Chromium, raw setec HTTP) live in
    the dev-only leger_testkit; a shipped ``testing`` module is a public pytest plugin."""
    for dist in SHIPPED:
        for module, path in dist.modules():
            text = path.read_text()
            assert "/usr/bin/chromium" not in text, path
            assert "import pytest" not in text or module in dist.pytest_plugins, path
            if module.rsplit(".", 1)[-1] == "testing":
                assert module in dist.pytest_plugins, f"{module} is a test kit nobody loads"
    testkit = next(d for d in DISTRIBUTIONS if d.name == "leger-testkit")
    classifiers = tomllib.loads((testkit.root / "pyproject.toml").read_text())["project"]
    assert "Private :: Do Not Upload" in classifiers["classifiers"]


# Private uses of leger_core that are known and tracked: none (the account prefix, once taken
# from leger_core.builtins, is leger_core.paths.secret_prefix). A new entry needs a reason.
KNOWN_PRIVATE_USES: set[tuple[str, str]] = set()


def test_leger_core_all_names_what_exists():
    import importlib

    import leger_core

    for name in leger_core.__all__:
        assert hasattr(leger_core, name) or importlib.import_module(f"leger_core.{name}"), name


def test_plugins_use_only_what_leger_core_all_lists():
    import leger_core

    public = set(leger_core.__all__)
    used = set()
    for dist in DISTRIBUTIONS:
        if dist.name == "leger":
            continue
        for _, path in dist.modules():
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    parts = node.module.split(".")
                    if parts[0] != "leger_core":
                        continue
                    if len(parts) == 1:
                        used |= {(dist.name, f"leger_core.{a.name}") for a in node.names}
                    else:
                        used.add((dist.name, ".".join(parts[:2])))
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        parts = alias.name.split(".")
                        if parts[0] == "leger_core" and len(parts) > 1:
                            used.add((dist.name, ".".join(parts[:2])))
    private = {(d, m) for d, m in used if m.split(".")[1] not in public}
    assert private == KNOWN_PRIVATE_USES
