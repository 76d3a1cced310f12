"""The deploy operations behind the commands: find the source, fetch, plan, apply."""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path
from typing import Any

from leger_core.context import Leger
from leger_core.errors import InvalidInputError, LegerError, NotFoundError
from leger_core.paths import cache_dir
from leger_core.strategies import FetchedRelease
from leger_plugin_deploy import fsops, health
from leger_plugin_deploy.generator import check_with_generator
from leger_plugin_deploy.installer import Echo, Installer, Plan, make_plan
from leger_plugin_deploy.manifest import Manifest
from leger_plugin_deploy.release import check_release
from leger_plugin_deploy.sources.bundle import SERVER_PREFIX
from leger_plugin_deploy.sources.git import _SCP
from leger_plugin_deploy.state import Deployment, Store, check_name, quadlet_dir, user_scope
from leger_plugin_deploy.systemd import Systemctl

KINDS = ("git", "bundle", "manifest")
_RELEASE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def detect_source(spec: str, kind: str | None = None) -> tuple[str, str]:
    """(source kind, location) for what the user typed: a bundle file, a git URL or repo path,
    a manifest URL or directory, or the name of a release of the logged-in account."""
    if kind:
        if kind not in KINDS:
            raise InvalidInputError(f"unknown source kind {kind!r}; known: {', '.join(KINDS)}")
        return kind, spec
    if spec.startswith(SERVER_PREFIX):
        return "bundle", spec
    path = Path(spec).expanduser()
    if spec.endswith((".tar.gz", ".tgz")) and "://" not in spec:
        return "bundle", spec
    if "://" in spec:
        scheme = spec.split("://", 1)[0].lower()
        if spec.rstrip("/").endswith("manifest.json") or scheme == "http":
            return "manifest", spec
        return "git", spec
    if _SCP.match(spec):
        return "git", spec
    if path.is_dir():
        if (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir()):
            return "git", spec
        if (path / "manifest.json").is_file():
            return "manifest", spec
        raise InvalidInputError(f"{spec} is neither a git repository nor holds a manifest.json")
    if path.exists():
        raise InvalidInputError(f"{spec} is not a .tar.gz bundle, a git repository or a folder")
    if _RELEASE_NAME.fullmatch(spec) and "/" not in spec:
        return "bundle", SERVER_PREFIX + spec
    raise NotFoundError(f"release source {spec!r} not found (no such file, URL or release)")


def default_name(kind: str, location: str, fetched: FetchedRelease) -> str:
    manifest = fetched.metadata.get("manifest") or {}
    name = manifest.get("deployment_name") if isinstance(manifest, dict) else None
    server = fetched.metadata.get("server") or {}
    if not name and isinstance(server, dict):
        name = server.get("deployment_name")
    if isinstance(name, str) and name:
        return name
    base = location.removeprefix(SERVER_PREFIX).rstrip("/")
    if base.endswith("manifest.json"):
        base = base[: -len("manifest.json")].rstrip("/")
    base = re.split(r"[/:]", base)[-1] or "release"
    for suffix in (".tar.gz", ".tgz", ".git"):
        base = base.removesuffix(suffix)
    return re.sub(r"[^A-Za-z0-9_.-]", "-", base).strip(".-") or "release"


class Deployer:
    def __init__(self, leger: Leger, echo: Echo, progress: Echo) -> None:
        self.leger = leger
        self.echo = echo
        self.progress = progress
        config = leger.config
        self.store = Store()
        self.installer = Installer(
            quadlet_dir(config), self.store, Systemctl(user=user_scope(config)), echo
        )

    def source(self, kind: str) -> Any:
        return self.leger.release_source(kind)

    def _fetch(self, kind: str, location: str, options: dict[str, Any], staging: Path,
               old: Deployment | None) -> FetchedRelease:  # fmt: skip
        extra: dict[str, Any] = {}
        if old is not None and kind == "manifest":
            extra = {"installed_files": old.files, "installed_dir": self.installer.target(old.name)}
        fetched: FetchedRelease = self.source(kind).fetch(
            location, staging, report=self.progress, **options, **extra
        )
        return fetched

    def _build(
        self,
        name: str,
        source: dict[str, Any],
        fetched: FetchedRelease,
        old: Deployment | None,
        force: bool,
    ) -> Plan:
        try:
            files = fsops.read_tree(fetched.path, fetched.files)
        except (OSError, ValueError) as exc:
            raise InvalidInputError(
                f"the fetched release does not match its checksums: {exc}"
            ) from None
        raw_manifest = fetched.metadata.get("manifest")
        manifest: Manifest | None = None
        if isinstance(raw_manifest, dict):
            manifest = Manifest(raw_manifest, None)
        checked = check_release(files, manifest)
        check_with_generator(files, user=self.installer.systemctl.user)
        if isinstance(raw_manifest, dict):
            health.from_manifest(raw_manifest)  # a malformed check is refused now
        for warning in checked.warnings:
            self.progress(f"  {warning}")
        metadata = {
            k: v for k, v in fetched.metadata.items() if k not in ("manifest", "downloaded")
        }
        new = Deployment(
            name=name,
            source=source,
            version=fetched.version,
            installed_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            files=dict(fetched.files),
            units=checked.units,
            services=checked.services,
            asset_units=checked.asset_units,
            manifest=raw_manifest if isinstance(raw_manifest, dict) else None,
            metadata=metadata,
        )
        action = "install" if old is None else "update"
        if old is not None:
            old = self._checked(old, force)
        plan = make_plan(new, files, old, action)
        self.installer.check_conflicts(plan)
        return plan

    def _checked(self, dep: Deployment, force: bool) -> Deployment:
        if force:
            return self.installer.adopt(dep)
        self.installer.check_installed(dep)
        return dep

    def plan_install(
        self, spec: str, *, name: str | None, branch: str | None, kind: str | None,
        version: str | None = None, force: bool = False, allow_insecure: bool = False,
    ) -> Plan:  # fmt: skip
        kind, location = detect_source(spec, kind)
        account_release: str | None = None
        if kind == "bundle" and location.startswith(SERVER_PREFIX):
            account_release = location[len(SERVER_PREFIX) :]
            kind, location, branch = self._server_release(location, branch)
        if kind == "git":
            location = _absolute_if_local(location)
        elif (
            kind in ("bundle", "manifest")
            and not location.startswith(SERVER_PREFIX)
            and ("://" not in location)
        ):
            location = str(Path(location).expanduser().resolve())
        options: dict[str, Any] = {}
        if branch:
            if kind != "git":
                raise InvalidInputError("--branch only applies to git sources")
            options["branch"] = branch
        if version:
            options["version"] = version
        if allow_insecure:
            if kind != "manifest":
                raise InvalidInputError("--allow-insecure only applies to manifest URLs")
            options["allow_insecure"] = True
        if name is not None:
            check_name(name)
        old = self.store.load(name) if name else None
        with tempfile.TemporaryDirectory(prefix="leger-stage-", dir=_staging_root()) as tmp:
            fetched = self._fetch(kind, location, options, Path(tmp) / "release", old)
            final = check_name(name or default_name(kind, location, fetched))
            if old is None:
                old = self.store.load(final)
            source = {"kind": kind, "location": location, "options": options}
            if old is not None and old.source != source:
                self.progress(f"  note: {final!r} was installed from {_describe(old.source)}")
            plan = self._build(final, source, fetched, old, force)
            if kind == "git" and account_release:  # what runs where: report the release too
                plan.new.metadata["release"] = account_release
            return plan

    def _server_release(self, location: str, branch: str | None) -> tuple[str, str, str | None]:
        """A release of the account: a git source is installed from its URL and branch."""
        from leger_plugin_deploy.sources import server

        release = server.lookup(self.leger, location[len(SERVER_PREFIX) :])
        if release.get("kind") == "git":
            self.progress(f"Release {release.get('name')!r} is the git source {release['git_url']}")
            return "git", str(release["git_url"]), branch or release.get("git_branch")
        return "bundle", SERVER_PREFIX + str(release.get("name") or location), branch

    def plan_update(self, name: str, force: bool = False) -> Plan | None:
        """The update of ``name``, or None when its source has nothing newer (no file is
        downloaded then)."""
        dep = self.store.get(name)
        kind = dep.source["kind"]
        location = dep.source["location"]
        options = {k: v for k, v in dep.source.get("options", {}).items() if k != "version"}
        self.progress(f"Checking {name} ({_describe(dep.source)}) …")
        latest = self.source(kind).latest_version(location, **options)
        if latest == dep.version:
            return None
        with tempfile.TemporaryDirectory(prefix="leger-stage-", dir=_staging_root()) as tmp:
            fetched = self._fetch(kind, location, options, Path(tmp) / "release", dep)
            source = {"kind": kind, "location": location, "options": options}
            plan = self._build(name, source, fetched, dep, force)
            if "release" in dep.metadata:  # the account's release it was installed as
                plan.new.metadata["release"] = dep.metadata["release"]
            return plan

    def plan_rollback(self, name: str, force: bool = False) -> Plan:
        dep = self.store.get(name)
        prev = dep.previous
        if prev is None or prev.backup is None:
            raise NotFoundError(f"{name!r} has no previous version to roll back to")
        dep = self._checked(dep, force)
        backup = self.store.backups(name) / prev.backup
        try:
            files = fsops.read_tree(backup, prev.files)
        except (OSError, ValueError) as exc:
            raise LegerError(
                f"the backup of {name!r} ({prev.short_version}) is damaged: {exc}"
            ) from None
        new = Deployment(
            name=name,
            source=prev.source,
            version=prev.version,
            installed_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            files=dict(prev.files),
            units=prev.units,
            services=prev.services,
            asset_units=prev.asset_units,
            manifest=prev.manifest,
            metadata=prev.metadata,
        )
        return make_plan(new, files, dep, "rollback")

    def remove(self, name: str) -> list[str]:
        """Stop the deployment's units, remove its files and state. Returns the units stopped."""
        dep = self.store.get(name)
        target = self.installer.target(name)
        systemctl = self.installer.systemctl
        units = sorted(set(dep.units.values()))
        if units:
            self.echo(f"Stopping {', '.join(units)}")
            systemctl.stop(units)
        aside = self.installer.qdir / f".leger-{name}.removed-{int(time.time())}"
        if target.exists():
            fsops.rename(target, aside)
        try:
            self.echo("Reloading systemd (daemon-reload)")
            systemctl.daemon_reload()
        except LegerError as exc:
            if aside.exists():
                fsops.rename(aside, target)
            try:
                systemctl.daemon_reload()
                systemctl.start(units)
            except LegerError:
                pass
            raise LegerError(f"removing {name!r} failed: {exc}; its files are back") from None
        fsops.remove_tree(aside)
        fsops.remove_tree(self.store.dir(name))
        return units


def _absolute_if_local(location: str) -> str:
    if "://" in location or "::" in location or _SCP.match(location):
        return location
    return str(Path(location).expanduser().resolve())


def _staging_root() -> Path:
    root = cache_dir() / "staging"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _describe(source: dict[str, Any]) -> str:
    kind = source.get("kind")
    location = str(source.get("location", ""))
    branch = (source.get("options") or {}).get("branch")
    if location.startswith(SERVER_PREFIX):
        return f"release {location[len(SERVER_PREFIX) :]!r} of your leger account"
    return f"{kind} {location}" + (f" (branch {branch})" if branch else "")


def describe_source(source: dict[str, Any]) -> str:
    return _describe(source)
