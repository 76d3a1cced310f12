"""Each deployment's line in ``leger status``: its version, whether its files are still the
ones Leger installed, and systemd's state of each of its units."""

from __future__ import annotations

from leger_core.context import Leger
from leger_core.status import StatusCheck
from leger_plugin_deploy.deployer import describe_source
from leger_plugin_deploy.fsops import hash_tree
from leger_plugin_deploy.state import Deployment, Store, quadlet_dir, short, user_scope
from leger_plugin_deploy.systemd import Systemctl


def deployment_checks(leger: Leger) -> list[StatusCheck]:
    store = Store()
    deployments = store.all()
    if not deployments:
        return []
    config = leger.config
    root = quadlet_dir(config)
    systemctl = Systemctl(user=user_scope(config))
    return [_check(dep, hash_tree(root / dep.name), systemctl) for dep in deployments]


def _check(dep: Deployment, files: dict[str, str], systemctl: Systemctl) -> StatusCheck:
    units = systemctl.states(sorted(set(dep.units.values())))
    changed = sorted(
        path for path in set(files) | set(dep.files) if files.get(path) != dep.files.get(path)
    )
    down = sorted(unit for unit, state in units.items() if state != "active")
    problems = []
    actions = []
    if changed:
        problems.append(f"{len(changed)} file(s) changed outside Leger ({', '.join(changed[:3])})")
        actions.append(f"leger deploy diff {dep.name}, then leger deploy install again")
    if down:
        problems.append("not active: " + ", ".join(f"{u} ({units[u]})" for u in down))
        scope = "--user " if systemctl.user else ""
        actions.append(
            f"journalctl {scope}-u {down[0]}; if an update broke it: "
            f"leger deploy rollback {dep.name}"
        )
    active = len(units) - len(down)
    summary = f"version {short(dep.version)}, {active}/{len(units)} unit(s) active"
    if problems:
        summary += "; " + "; ".join(problems)
    return StatusCheck(
        "deployment",
        dep.name,
        ok=not problems,
        summary=summary,
        action="; ".join(actions) or None,
        facts={
            "version": dep.version,
            "source": describe_source(dep.source),
            "units": units,
            "changed_files": changed,
        },
    )
