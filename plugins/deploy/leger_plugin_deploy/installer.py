"""Installing a release as one transaction.

1. back up the installed files into the state dir (``backups/<txid>``), checked by sha256;
2. write the new tree beside the old one (``<quadlet_dir>/.leger-<name>.new-<txid>``);
3. stop units the release no longer has, then swap the directories by rename;
4. ``systemctl daemon-reload``; write ``state.json`` (a unit's ``ExecStartPre=leger secrets
   fetch SERVICE`` reads the services from it, so it must be there before the first start);
5. restart units whose files changed; start new ones; 6. wait while a unit is ``activating``
   (bounded), then check each with ``is-active``: systemd's own state is the verdict.

If any step fails the previous files come back from the backup, systemd is reloaded, the
previous ``state.json`` is written back (or removed on a first install), the units touched are
put back, the pending backup is dropped: the machine is as it was, and the error says what
happened. A journal file marks a change in
flight so that one interrupted by a crash is undone by the next command (:meth:`recover`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from leger_core.errors import ConflictError, LegerError
from leger_plugin_deploy import fsops, health
from leger_plugin_deploy.diff import Changes, compare
from leger_plugin_deploy.quadlet import parse, quadlet_type, service_name
from leger_plugin_deploy.state import Deployment, Store, short
from leger_plugin_deploy.systemd import Systemctl, unit_search_path

Echo = Callable[[str], None]
# How long units may stay ``activating`` after a start before the change is called failed.
ACTIVATING_WAIT = float(os.environ.get("LEGER_DEPLOY_ACTIVATING_WAIT", "60"))
_PENDING = ("activating", "reloading", "refreshing")


class DeployFailed(LegerError):
    """A change failed and was undone."""


@dataclass
class Plan:
    """Everything :meth:`Installer.apply` needs, decided before anything is touched."""

    new: Deployment  # the state to record (``previous`` filled in on apply)
    files: dict[str, bytes]
    old: Deployment | None
    changes: Changes
    restart: list[str] = field(default_factory=list)
    start: list[str] = field(default_factory=list)
    stop: list[str] = field(default_factory=list)
    action: str = "install"  # install, update, rollback

    @property
    def name(self) -> str:
        return self.new.name

    @property
    def up_to_date(self) -> bool:
        return (
            self.old is not None
            and not self.changes.any
            and self.old.version == self.new.version
            and self.old.source == self.new.source
        )


def _startable(unit: str) -> bool:
    return "@." not in unit  # a template needs an instance name to run


def unit_changes(old: Deployment | None, new: Deployment, changes: Changes) -> tuple[
    list[str], list[str], list[str]
]:  # fmt: skip
    """(restart, start, stop): units whose files changed, units that are new, units gone."""
    old_units = set(old.units.values()) if old else set()
    new_units = set(new.units.values())
    restart: set[str] = set()
    for path in changes.changed + changes.added + changes.removed:
        if quadlet_type(path):
            unit = new.units.get(path)
            if unit:
                restart.add(unit)
        else:
            restart.update(new.asset_units.get(path, []))
            if old:
                restart.update(old.asset_units.get(path, []))
    start = new_units - old_units
    stop = old_units - new_units
    restart = (restart & old_units & new_units) - start
    keep = [u for u in sorted(restart) if _startable(u)]
    return keep, sorted(u for u in start if _startable(u)), sorted(stop)


def make_plan(
    new: Deployment, files: dict[str, bytes], old: Deployment | None, action: str
) -> Plan:
    changes = compare(old.files if old else {}, new.files)
    restart, start, stop = unit_changes(old, new, changes)
    return Plan(new, files, old, changes, restart, start, stop, action)


@dataclass
class _Tx:
    txid: str
    created_store_dir: bool = False
    backup: Path | None = None
    new_dir: Path | None = None
    old_dir: Path | None = None
    swapped: bool = False
    stopped: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    saved: bool = False


class Installer:
    def __init__(
        self,
        quadlet_dir: Path,
        store: Store,
        systemctl: Systemctl,
        echo: Echo,
        unit_path: list[Path] | None = None,
    ) -> None:
        self.qdir = quadlet_dir
        self.store = store
        self.systemctl = systemctl
        self.echo = echo
        self.unit_path = unit_search_path(systemctl.user) if unit_path is None else unit_path

    def target(self, name: str) -> Path:
        return self.qdir / name

    # --- checks before a change -------------------------------------------------------------

    def check_installed(self, dep: Deployment) -> None:
        """The installed files are exactly what the state says: nothing edited by hand would
        be lost or end up in a backup that does not match its record."""
        actual = fsops.hash_tree(self.target(dep.name))
        modified = sorted(p for p in dep.files if actual.get(p) != dep.files[p])
        extra = sorted(set(actual) - set(dep.files))
        if modified or extra:
            what = ", ".join([*modified, *extra][:5])
            raise ConflictError(
                f"files of deployment {dep.name!r} in {self.target(dep.name)} were changed "
                f"outside leger ({what}); nothing was changed",
                hint=f"restore them, or `leger deploy remove {dep.name}` and install again",
            )

    def adopt(self, dep: Deployment) -> Deployment:
        """``dep`` with the files its folder really holds (``--force``): the hand-edited files
        become the backup, so a rollback brings them back."""
        actual = fsops.hash_tree(self.target(dep.name))
        odd = sorted(p for p, digest in actual.items() if len(digest) != 64)
        if odd:
            raise ConflictError(
                f"{self.target(dep.name)} holds links or special files ({', '.join(odd[:5])}); "
                "nothing was changed"
            )
        return replace(dep, files=actual)

    def check_conflicts(self, plan: Plan) -> None:
        if plan.old is None and self.target(plan.name).exists():
            raise ConflictError(
                f"{self.target(plan.name)} exists and was not installed by leger; nothing was "
                "changed",
                hint="move it away or choose another --name",
            )
        ours = {Path(p).name: p for p in plan.files if quadlet_type(p)}
        by_unit = {unit: path for path, unit in plan.new.units.items()}
        for found in self._loose_quadlets(plan.name):
            if found.name in ours:
                raise ConflictError(
                    f"{ours[found.name]} clashes with {found} (quadlet reads one file per "
                    "name); nothing was changed"
                )
            unit = _loose_service_name(found)
            if unit in by_unit:
                raise ConflictError(
                    f"{by_unit[unit]} would generate {unit}, which {found} (not managed by "
                    "leger) generates too; nothing was changed",
                    hint="rename the quadlet or set ServiceName=",
                )
        self._check_shadowing(by_unit)
        units = set(plan.new.units.values())
        for other in self.store.all():
            if other.name == plan.name:
                continue
            for path, unit in other.units.items():
                if Path(path).name in ours or unit in units:
                    raise ConflictError(
                        f"{ours.get(Path(path).name, unit)} clashes with {path} of deployment "
                        f"{other.name!r} (quadlet reads one file per name); nothing was changed"
                    )

    def _check_shadowing(self, by_unit: dict[str, str]) -> None:
        """A generated unit must not share its name with a unit file systemd already loads
        from elsewhere: one of the two would silently hide the other, and ``restart`` would
        act on whichever systemd picked (a release could stand in for a system service)."""
        for unit, path in sorted(by_unit.items()):
            for directory in self.unit_path:
                found = directory / unit
                if found.exists() or found.is_symlink():
                    raise ConflictError(
                        f"{path} would generate {unit}, which would shadow {found} (a unit "
                        "leger did not install); nothing was changed",
                        hint="rename the quadlet or set ServiceName=",
                    )

    def _loose_quadlets(self, name: str) -> list[Path]:
        """Quadlet files under the quadlet directory that no deployment manages (the
        generator reads them all, first name wins)."""
        managed = {n for n in self.store.names()} | {name}
        found: list[Path] = []
        if not self.qdir.is_dir():
            return found
        for dirpath, dirnames, filenames in os.walk(self.qdir):
            base = Path(dirpath)
            if base == self.qdir:
                dirnames[:] = [d for d in dirnames if d not in managed and not d.startswith(".")]
            found.extend(base / f for f in filenames if quadlet_type(f))
        return found

    # --- the transaction ------------------------------------------------------------------------

    def apply(self, plan: Plan) -> Deployment:
        name = plan.name
        target = self.target(name)
        tx = _Tx(txid=time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3))
        new_state = replace(plan.new)
        if plan.old is not None:
            prev = replace(plan.old, previous=None, backup=tx.txid)
            new_state.previous = prev
        try:
            store_dir = self.store.dir(name)
            tx.created_store_dir = not store_dir.exists()
            store_dir.mkdir(parents=True, exist_ok=True)
            self._journal(name, {"txid": tx.txid, "action": plan.action})
            if plan.old is not None and target.exists():
                tx.backup = self.store.backups(name) / tx.txid
                tx.backup.parent.mkdir(parents=True, exist_ok=True)
                fsops.write_tree(tx.backup, fsops.read_tree(target, plan.old.files), mode=0o600)
            self.qdir.mkdir(parents=True, exist_ok=True)
            tx.new_dir = self.qdir / f".leger-{name}.new-{tx.txid}"
            fsops.write_tree(tx.new_dir, plan.files)
            if plan.stop:
                self.echo(f"Stopping {', '.join(plan.stop)}")
                tx.stopped = list(plan.stop)
                self.systemctl.stop(plan.stop)
            self._swap_in(tx, target)
            self.echo("Reloading systemd (daemon-reload)")
            self.systemctl.daemon_reload()
            # The journal keeps the state to return to should this process die from here on.
            previous = plan.old.to_json() if plan.old is not None else None
            self._journal(
                name, {"txid": tx.txid, "action": plan.action, "previous_state": previous}
            )
            self.store.save(new_state)  # atomic: on an error the previous state is intact
            tx.saved = True
            if plan.restart:
                self.echo(f"Restarting {', '.join(plan.restart)}")
                tx.restarted = list(plan.restart)
                self.systemctl.restart(plan.restart)
            if plan.start:
                self.echo(f"Starting {', '.join(plan.start)}")
                tx.started = list(plan.start)
                self.systemctl.start(plan.start)
            self._check_active(plan.restart + plan.start)
            self._check_health(plan)
        except BaseException as exc:
            notes = self._undo(tx, plan, target)
            raise self._failure(plan, exc, notes) from exc
        self._finish(name, new_state)
        return new_state

    def _swap_in(self, tx: _Tx, target: Path) -> None:
        assert tx.new_dir is not None
        if target.exists():
            tx.old_dir = self.qdir / f".leger-{target.name}.old-{tx.txid}"
            fsops.rename(target, tx.old_dir)
        tx.swapped = True
        fsops.rename(tx.new_dir, target)
        tx.new_dir = None
        # The old tree must not stay under the quadlet directory: the generator reads every
        # subdirectory, and would see two files of the same name. It is kept in the backup.
        if tx.old_dir is not None:
            fsops.remove_tree(tx.old_dir)
            tx.old_dir = None

    def _check_active(self, units: list[str]) -> None:
        deadline = time.monotonic() + ACTIVATING_WAIT
        for unit in units:
            active, state = self.systemctl.is_active(unit)
            # ``activating``: still in ExecStartPre, or waiting to be restarted (Restart=);
            # systemd decides soon either way, so wait for its verdict, bounded.
            while not active and state in _PENDING and time.monotonic() < deadline:
                time.sleep(0.2)
                active, state = self.systemctl.is_active(unit)
            if not active:
                raise DeployFailed(f"{unit} is not active after the change ({state})")
            self.echo(f"  {unit}: {state}")

    def _check_health(self, plan: Plan) -> None:
        """The manifest's health checks of the services whose units were (re)started."""
        touched = set(plan.restart + plan.start)
        checks = health.from_manifest(plan.new.manifest)
        for service, check in sorted(checks.items()):
            unit = (plan.new.services.get(service) or {}).get("unit")
            if unit not in touched:
                continue
            why = health.wait_healthy(check)
            if why is not None:
                raise DeployFailed(
                    f"{service} is not healthy after {check.timeout:g} s ({why}; "
                    f"{check.describe()})"
                )
            self.echo(f"  {service}: healthy ({check.describe()})")

    def _undo(self, tx: _Tx, plan: Plan, target: Path) -> list[str]:
        """Put everything back; return notes about what could not be."""
        notes: list[str] = []

        def attempt(what: str, fn: Callable[[], object]) -> None:
            try:
                fn()
            except BaseException as exc:  # keep undoing the rest whatever happens
                notes.append(f"{what} failed: {exc}")

        if tx.saved:
            attempt("restoring the previous state", lambda: self._restore_state(plan))
        if tx.started:
            attempt(f"stopping {', '.join(tx.started)}", lambda: self.systemctl.stop(tx.started))
        if tx.swapped:
            attempt("restoring the previous files", lambda: self._restore_files(tx, plan, target))
            attempt("daemon-reload after restoring", self.systemctl.daemon_reload)
        for path in (tx.new_dir, tx.old_dir):
            if path is not None:
                attempt(f"removing {path}", lambda p=path: fsops.remove_tree(p))  # type: ignore[misc]
        if tx.restarted:
            units = tx.restarted
            attempt(f"restarting {', '.join(units)}", lambda: self.systemctl.restart(units))
        if tx.stopped:
            attempt(f"starting {', '.join(tx.stopped)}", lambda: self.systemctl.start(tx.stopped))
        if tx.backup is not None:
            attempt("removing the pending backup", lambda: fsops.remove_tree(tx.backup))  # type: ignore[arg-type]
            backups = self.store.backups(plan.name)
            if backups.is_dir() and not any(backups.iterdir()):
                attempt("removing the backups folder", backups.rmdir)
        attempt("removing the journal", lambda: self._journal_path(plan.name).unlink(True))
        if tx.created_store_dir:
            attempt(
                "removing the state folder", lambda: fsops.remove_tree(self.store.dir(plan.name))
            )
        return notes

    def _restore_state(self, plan: Plan) -> None:
        if plan.old is not None:
            self.store.save(plan.old)
        else:
            self.store.state_path(plan.name).unlink(missing_ok=True)

    def _restore_files(self, tx: _Tx, plan: Plan, target: Path) -> None:
        failed = self.qdir / f".leger-{plan.name}.failed-{tx.txid}"
        if target.exists():
            fsops.rename(target, failed)
        if plan.old is not None and tx.backup is not None:
            # The backup was checked against the recorded sha256 when it was made; the old
            # tree (if the swap stopped half way) is removed by the caller.
            files = fsops.read_tree(tx.backup, plan.old.files)
            restore = self.qdir / f".leger-{plan.name}.restore-{tx.txid}"
            fsops.write_tree(restore, files)
            fsops.rename(restore, target)
        elif tx.old_dir is not None:
            fsops.rename(tx.old_dir, target)
            tx.old_dir = None
        fsops.remove_tree(failed)

    def _failure(self, plan: Plan, exc: BaseException, notes: list[str]) -> LegerError:
        if isinstance(exc, KeyboardInterrupt):
            why = "interrupted"
        elif isinstance(exc, OSError):
            why = f"cannot write {exc.filename or 'a file'}: {exc.strerror or exc}"
        else:
            why = str(exc)
        if plan.old is not None:
            back = (
                f"the previous files and state of {plan.name!r} ({short(plan.old.version)}) "
                "are back"
            )
        else:
            back = f"nothing of {plan.name!r} was installed"
        message = f"{plan.action} of {plan.name!r} failed: {why.rstrip('.')}. Rolled back: {back}"
        if notes:
            message += "; but " + "; ".join(notes)
        error = DeployFailed(message)
        if isinstance(exc, LegerError) and not isinstance(exc, DeployFailed):
            error.exit_code = exc.exit_code
        return error

    def _finish(self, name: str, state: Deployment) -> None:
        """After the commit: drop backups nothing refers to, and the journal."""
        keep = state.previous.backup if state.previous else None
        backups = self.store.backups(name)
        try:
            if backups.is_dir():
                for entry in backups.iterdir():
                    if entry.name != keep:
                        fsops.remove_tree(entry)
            self._journal_path(name).unlink(missing_ok=True)
        except OSError as exc:
            self.echo(f"warning: could not tidy up old backups: {exc}")

    # --- journal and recovery ---------------------------------------------------------------

    def _journal_path(self, name: str) -> Path:
        return self.store.dir(name) / "journal.json"

    def _journal(self, name: str, data: dict[str, Any]) -> None:
        from leger_core.fsutil import atomic_write

        atomic_write(self._journal_path(name), json.dumps(data).encode(), mode=0o600)

    def recover(self) -> list[str]:
        """Undo changes a crash interrupted (a journal is left behind): the installed tree is
        put back to what ``state.json`` records. Returns what was done."""
        done: list[str] = []
        if not self.store.root.is_dir():
            return done
        for journal in sorted(self.store.root.glob("*/journal.json")):
            name = journal.parent.name
            try:
                record = json.loads(journal.read_text())
            except (OSError, ValueError):
                record = {}
            txid = record.get("txid", "")
            if "previous_state" in record:  # the new state was written before units started
                previous = record["previous_state"]
                if previous is None:
                    self.store.state_path(name).unlink(missing_ok=True)
                else:
                    self.store.save(Deployment.from_json(previous))
            dep = self.store.load(name)
            target = self.target(name)
            reference = dep.previous.backup if dep and dep.previous else None
            if dep is not None and fsops.hash_tree(target) != dep.files:
                backup = self.store.backups(name) / txid
                files = fsops.read_tree(backup, dep.files)
                if target.exists():
                    fsops.remove_tree(target)
                fsops.write_tree(target, files)
            elif dep is None and target.exists():
                fsops.remove_tree(target)
            for leftover in self.qdir.glob(f".leger-{name}.*"):
                fsops.remove_tree(leftover)
            pending = self.store.backups(name) / txid
            if txid and pending.exists() and txid != reference:
                fsops.remove_tree(pending)
            journal.unlink()
            if dep is None:
                fsops.remove_tree(self.store.dir(name))
            done.append(f"recovered {name!r} from an interrupted change")
        if done:
            try:
                self.systemctl.daemon_reload()
            except LegerError as exc:
                done.append(f"daemon-reload failed: {exc}")
        return done


def _loose_service_name(path: Path) -> str:
    """The service quadlet generates for a file Leger does not manage (its ``ServiceName=``
    when it can be read, else the name its file name gives)."""
    unit = None
    with contextlib.suppress(OSError):
        # a regular file of sensible size only: a FIFO named x.container would block the read
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= 1024 * 1024:
            unit, _ = parse(path.read_text(encoding="utf-8", errors="replace"), str(path))
    return service_name(str(path), unit)
