"""``leger deploy …`` and ``leger update``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from leger_core.context import Leger
from leger_core.errors import LegerError
from leger_plugin_deploy.deployer import Deployer, describe_source
from leger_plugin_deploy.diff import render
from leger_plugin_deploy.ensure import ReleaseSecrets, SecretsCheck
from leger_plugin_deploy.installer import Plan
from leger_plugin_deploy.state import Deployment, deploy_lock, short


def _deployer(leger: Leger) -> Deployer:
    return Deployer(leger, echo=click.echo, progress=lambda m: click.echo(m, err=True))


def _note(message: str) -> None:
    click.echo(f"note: {message}", err=True)


def _report(deployer: Deployer, dep: Deployment, event: str, *, removed: bool = False) -> None:
    from leger_plugin_deploy.report import deployment_changed

    systemctl = None if removed else deployer.installer.systemctl
    deployment_changed(deployer.leger, dep, event, systemctl, _note)


def _recover(deployer: Deployer) -> None:
    for note in deployer.installer.recover():
        click.echo(f"note: {note}", err=True)


def show_plan(deployer: Deployer, plan: Plan, *, contents: bool) -> None:
    old = plan.old
    was = f"{short(old.version)} → " if old else ""
    click.echo(f"{plan.name}: {was}{short(plan.new.version)} ({plan.changes.summary()})")
    target = deployer.installer.target(plan.name)

    def old_content(path: str) -> bytes | None:
        try:
            return (target / path).read_bytes()
        except OSError:
            return None

    for line in render(
        plan.changes, old_content, plan.files, contents=contents and old is not None
    ):
        click.echo(line)
    for verb, units in (("restart", plan.restart), ("start", plan.start), ("stop", plan.stop)):
        if units:
            click.echo(f"  will {verb}: {', '.join(units)}")


def run_plan(deployer: Deployer, plan: Plan, *, yes: bool, dry_run: bool) -> bool:
    """Show, ask, apply. Returns whether anything was applied."""
    if plan.up_to_date:
        click.echo(f"{plan.name} is up to date ({short(plan.new.version)}).")
        if plan.old is not None:
            _report(deployer, plan.old, "check")
        return False
    if dry_run:
        show_dry_run(deployer, plan)
        return False
    show_plan(deployer, plan, contents=True)
    if not yes and not click.confirm(f"Apply these changes to {plan.name}?", default=False):
        click.echo("Nothing was changed.")
        return False
    # The podman secrets the release names exist before any unit starts (or nothing changes).
    secrets = ReleaseSecrets(deployer.leger, plan.new)
    secrets.ensure(click.echo)
    try:
        state = deployer.installer.apply(plan)
    except BaseException:
        # the change was undone: so are the podman secrets made for it
        secrets.undo(lambda message: click.echo(message, err=True))
        raise
    _summary(deployer, plan, state)
    _report(deployer, state, plan.action)
    return True


def plan_json(plan: Plan, secrets: SecretsCheck | None) -> dict[str, Any]:
    return {
        "name": plan.name,
        "action": plan.action,
        "version": plan.new.version,
        "previous_version": plan.old.version if plan.old else None,
        "up_to_date": plan.up_to_date,
        "changes": plan.changes.as_dict(),
        "restart": plan.restart,
        "start": plan.start,
        "stop": plan.stop,
        "secrets": secrets.to_json() if secrets is not None else None,
    }


def check_plan(deployer: Deployer, plan: Plan) -> SecretsCheck | None:
    """The podman secrets a change would find, create or refuse for; no value is read."""
    return None if plan.up_to_date else ReleaseSecrets(deployer.leger, plan.new).check()


def show_dry_run(deployer: Deployer, plan: Plan) -> None:
    """The plan and its podman secrets; raises what the real change would raise for missing
    secrets (exit 3), after showing it. Nothing is changed."""
    show_plan(deployer, plan, contents=True)
    secrets = check_plan(deployer, plan)
    if secrets is not None and secrets.strategy != "none":
        parts = [
            f"{label}: {', '.join(n.name for n in items)}"
            for label, items in (
                ("there", secrets.present),
                ("would create", secrets.create),
                ("MISSING", secrets.missing),
            )
            if items
        ]
        if parts:
            click.echo(f"  podman secrets ({secrets.strategy} strategy): {'; '.join(parts)}")
    click.echo("Dry run: nothing was changed.")
    if secrets is not None and secrets.missing:
        raise secrets.error()


def dry_run_json(deployer: Deployer, plans: list[Plan | Deployment]) -> None:
    """``--dry-run --json``: one object per deployment (a :class:`Deployment` is one whose
    source has nothing newer); exit 3 when a real change would be refused for missing
    secrets."""
    rows: list[dict[str, Any]] = []
    refused: list[LegerError] = []
    for plan in plans:
        if isinstance(plan, Deployment):
            rows.append(
                {"name": plan.name, "action": "update", "version": plan.version,
                 "previous_version": plan.version, "up_to_date": True,
                 "changes": {"added": [], "changed": [], "removed": []},
                 "restart": [], "start": [], "stop": [], "secrets": None}
            )  # fmt: skip
            continue
        secrets = check_plan(deployer, plan)
        rows.append(plan_json(plan, secrets))
        if secrets is not None and secrets.missing:
            refused.append(secrets.error())
    click.echo(json.dumps(rows, indent=2))
    if len(refused) == 1:
        raise refused[0]
    if refused:
        error = LegerError(
            "the release names podman secrets that do not exist in "
            f'{len(refused)} deployments (see "missing"); nothing was changed'
        )
        error.exit_code = refused[0].exit_code
        raise error


def _json_needs_dry_run(as_json: bool, dry_run: bool) -> None:
    if as_json and not dry_run:
        raise click.UsageError("--json goes with --dry-run (it shows the plan as JSON)")


def _summary(deployer: Deployer, plan: Plan, state: Deployment) -> None:
    verb = {"install": "Installed", "update": "Updated", "rollback": "Rolled back"}[plan.action]
    was = f" from {short(plan.old.version)} to" if plan.old and plan.action != "install" else ""
    click.echo(
        f"{verb} {plan.name}{was} {short(state.version)} in "
        f"{deployer.installer.target(plan.name)}: {plan.changes.summary()}"
    )
    touched = [
        f"{label} {', '.join(units)}"
        for label, units in (
            ("restarted", plan.restart),
            ("started", plan.start),
            ("stopped", plan.stop),
        )
        if units
    ]
    if touched:
        click.echo("  " + "; ".join(touched) + " — all active")
    else:
        click.echo("  no unit needed a restart")
    needed = sorted({s["name"] for svc in state.services.values() for s in svc["secrets"]})
    if needed:
        click.echo(f"  secrets the services need: {', '.join(needed)}")


@click.group(name="deploy")
def deploy_group() -> None:
    """Install, update and roll back quadlet releases (git, bundle or manifest sources)."""


@deploy_group.command(name="install")
@click.argument("source")
@click.option("--name", help="Deployment name (default: the manifest's, else from the source).")
@click.option("--branch", help="Git branch to track (default: the remote's HEAD).")
@click.option(
    "--source",
    "kind",
    type=click.Choice(["git", "bundle", "manifest"]),
    help="Force the kind of SOURCE instead of guessing it.",
)
@click.option("--version", "version", help="Server releases: install this version.")
@click.option(
    "--allow-insecure",
    is_flag=True,
    help="Allow a plain http:// manifest URL (loopback too); kept for `leger update`.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace files changed outside leger (kept as the backup: rollback brings them back).",
)
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="With --dry-run: the plan as JSON.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def install_command(
    leger: Leger, source: str, name: str | None, branch: str | None, kind: str | None,
    version: str | None, allow_insecure: bool, force: bool, dry_run: bool, as_json: bool,
    yes: bool,
) -> None:  # fmt: skip
    """Install the release SOURCE: a git URL (https, ssh, file://) or repository path, a bundle
    .tar.gz, a manifest URL, or the name of a release of your leger account.

    A release is code you trust: its quadlets run commands as you (ExecStartPre=, the
    containers themselves)."""
    _json_needs_dry_run(as_json, dry_run)
    deployer = _deployer(leger)
    with deploy_lock():
        _recover(deployer)
        plan = deployer.plan_install(
            source, name=name, branch=branch, kind=kind, version=version, force=force,
            allow_insecure=allow_insecure,
        )  # fmt: skip
        if as_json:
            dry_run_json(deployer, [plan])
            return
        run_plan(deployer, plan, yes=yes, dry_run=dry_run)


@deploy_group.command(name="diff")
@click.argument("name")
@click.pass_obj
def diff_command(leger: Leger, name: str) -> None:
    """Show what `leger update NAME` would change."""
    deployer = _deployer(leger)
    with deploy_lock():
        plan = deployer.plan_update(name)
    if plan is None or plan.up_to_date:
        dep = deployer.store.get(name)
        click.echo(f"{name} is up to date ({dep.short_version}).")
        return
    show_plan(deployer, plan, contents=True)


@click.command(name="update")
@click.argument("name", required=False)
@click.option(
    "--force",
    is_flag=True,
    help="Replace files changed outside leger (kept as the backup: rollback brings them back).",
)
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="With --dry-run: the plan as JSON.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def update_command(
    leger: Leger, name: str | None, force: bool, dry_run: bool, as_json: bool, yes: bool
) -> None:
    """Bring deployments (all, or NAME) up to their source's newest version."""
    _json_needs_dry_run(as_json, dry_run)
    deployer = _deployer(leger)
    with deploy_lock():
        _recover(deployer)
        names = [name] if name else deployer.store.names()
        if as_json:
            plans = [
                deployer.plan_update(each, force=force) or deployer.store.get(each)
                for each in names
            ]
            dry_run_json(deployer, plans)
            return
        if not names:
            click.echo("No deployments installed; see `leger deploy install`.")
            return
        updated = 0
        failed: list[str] = []
        codes: set[int] = set()
        for each in names:
            try:
                plan = deployer.plan_update(each, force=force)
                if plan is None or plan.up_to_date:
                    dep = deployer.store.get(each)
                    click.echo(f"{each} is up to date ({dep.short_version}).")
                    _report(deployer, dep, "check")
                    continue
                updated += run_plan(deployer, plan, yes=yes, dry_run=dry_run)
            except LegerError as exc:
                if len(names) == 1:  # one deployment: its error is the command's
                    raise
                click.echo(f"Error: {exc}", err=True)
                failed.append(each)
                codes.add(exc.exit_code)
        if len(names) > 1:
            click.echo(f"{updated} of {len(names)} deployments updated.")
        if failed:
            error = LegerError(f"the update of {', '.join(failed)} failed (see above)")
            error.exit_code = codes.pop() if len(codes) == 1 else 1
            raise error


@deploy_group.command(name="rollback")
@click.argument("name")
@click.option(
    "--force",
    is_flag=True,
    help="Replace files changed outside leger (kept as the backup: rollback brings them back).",
)
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="With --dry-run: the plan as JSON.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def rollback_command(
    leger: Leger, name: str, force: bool, dry_run: bool, as_json: bool, yes: bool
) -> None:
    """Put back the files NAME had before its last change, byte for byte."""
    _json_needs_dry_run(as_json, dry_run)
    deployer = _deployer(leger)
    with deploy_lock():
        _recover(deployer)
        plan = deployer.plan_rollback(name, force=force)
        if as_json:
            dry_run_json(deployer, [plan])
            return
        run_plan(deployer, plan, yes=yes, dry_run=dry_run)


@deploy_group.command(name="remove")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def remove_command(leger: Leger, name: str, yes: bool) -> None:
    """Stop NAME's units and remove its files, state and backups."""
    deployer = _deployer(leger)
    with deploy_lock():
        _recover(deployer)
        dep = deployer.store.get(name)
        target = deployer.installer.target(name)
        if not yes and not click.confirm(f"Remove {name} ({target})?", default=False):
            click.echo("Nothing was changed.")
            return
        units = deployer.remove(dep.name)
    click.echo(f"Removed {name}" + (f"; stopped {', '.join(units)}" if units else ""))
    _report(deployer, dep, "remove", removed=True)


def _row(deployer: Deployer, dep: Deployment) -> dict[str, Any]:
    return {
        "name": dep.name,
        "source": dep.source,
        "version": dep.version,
        "installed_at": dep.installed_at,
        "path": str(deployer.installer.target(dep.name)),
        "files": sorted(dep.files),
        "units": sorted(set(dep.units.values())),
        "previous_version": dep.previous.version if dep.previous else None,
    }


@deploy_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.pass_obj
def list_command(leger: Leger, as_json: bool) -> None:
    """List installed deployments."""
    deployer = _deployer(leger)
    rows = [_row(deployer, dep) for dep in deployer.store.all()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No deployments installed.")
        return
    for row in rows:
        prev = f", previous {short(row['previous_version'])}" if row["previous_version"] else ""
        click.echo(f"{row['name']}  {short(row['version'])}  {describe_source(row['source'])}")
        click.echo(f"    {len(row['files'])} files, units: {', '.join(row['units'])}{prev}")


@deploy_group.command(name="status")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.pass_obj
def status_command(leger: Leger, name: str | None, as_json: bool) -> None:
    """Show deployments with their units' state and whether their files are intact."""
    from leger_plugin_deploy.fsops import hash_tree

    deployer = _deployer(leger)
    deps = [deployer.store.get(name)] if name else deployer.store.all()
    rows = []
    for dep in deps:
        row = _row(deployer, dep)
        row["units"] = deployer.installer.systemctl.states(row["units"])
        row["intact"] = hash_tree(deployer.installer.target(dep.name)) == dep.files
        row["services"] = {
            svc: [s["name"] for s in info["secrets"]] for svc, info in dep.services.items()
        }
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No deployments installed.")
    for row in rows:
        intact = "files intact" if row["intact"] else "FILES CHANGED OUTSIDE LEGER"
        click.echo(f"{row['name']}  {short(row['version'])}  ({intact})  {row['path']}")
        for unit, state in row["units"].items():
            click.echo(f"    {unit}: {state}")


@deploy_group.command(name="validate")
@click.argument("path", type=click.Path(exists=True, file_okay=True, dir_okay=True))
@click.pass_obj
def validate_command(leger: Leger, path: str) -> None:
    """Check a folder of quadlets (or one file) as a release would be checked."""
    from leger_plugin_deploy.authoring import validate_path

    for warning in validate_path(Path(path)):
        click.echo(warning)
    click.echo(f"{path}: valid")


@deploy_group.command(name="manifest")
@click.argument("path", type=click.Path(exists=True, file_okay=False, dir_okay=True))
@click.pass_obj
def manifest_command(leger: Leger, path: str) -> None:
    """Write PATH/manifest.json's file list (sha256 and size of every file) afresh."""
    from leger_plugin_deploy.authoring import refresh_manifest_file

    count = refresh_manifest_file(Path(path))
    click.echo(f"{Path(path) / 'manifest.json'}: {count} files")


@deploy_group.command(name="bundle")
@click.argument("path", type=click.Path(exists=True, file_okay=False, dir_okay=True))
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Bundle file to write.")
@click.pass_obj
def bundle_command(leger: Leger, path: str, output: str | None) -> None:
    """Pack the release in PATH into a verified .tar.gz bundle (manifest.json included)."""
    from leger_plugin_deploy.authoring import make_bundle

    out = Path(output) if output else Path(Path(path).resolve().name + ".tar.gz")
    count = make_bundle(Path(path), out)
    click.echo(f"{out}: {count} files")
