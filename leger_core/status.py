"""``leger status``: what each plugin reports about this machine, gathered in one place.

A plugin answers :func:`leger_core.hookspecs.leger_status` with :class:`StatusCheck` items. The
core calls every implementation at once (each bounds its own network calls with a short
timeout), so the whole report costs about as much as its slowest check, and one plugin that
breaks shows up as a failed check instead of hiding the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from leger_core.errors import LegerError

if TYPE_CHECKING:
    from leger_core.context import Leger

SECTIONS = ("config", "plugin", "legerd", "backend", "account", "service", "deployment")
SECTION_ORDER = {name: i for i, name in enumerate(SECTIONS)}

# How long a status check may wait on a daemon or server before it reports it as unreachable.
QUICK_TIMEOUT = 2.0


@dataclass(frozen=True)
class StatusCheck:
    """One line of ``leger status``: ``ok`` False means something needs ``action``."""

    section: str  # what kind of thing: "legerd", "account", "service", "deployment", …
    name: str  # which one: a socket path, a service or deployment name, …
    ok: bool
    summary: str  # one line for a person; names only, never a secret value
    action: str | None = None  # the command or step that fixes it, when not ok
    facts: Mapping[str, Any] = field(default_factory=dict)  # the same, for --json

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "facts": dict(self.facts)}


def collect(leger: Leger) -> list[StatusCheck]:
    """Every plugin's checks, in plugin order; a plugin that raises becomes a failed check."""
    impls = leger.pm.hook.leger_status.get_hookimpls()
    if not impls:
        return []

    def run(impl: Any) -> list[StatusCheck]:
        try:
            return list(impl.function(leger=leger) or [])
        except LegerError as exc:
            return [_broken(impl.plugin_name, str(exc))]
        except Exception as exc:  # a plugin's bug must not hide every other plugin's report
            return [_broken(impl.plugin_name, f"{type(exc).__name__} (a bug in the plugin)")]

    with ThreadPoolExecutor(max_workers=len(impls)) as pool:
        results = list(pool.map(run, impls))
    checks = [check for checks in results for check in checks]
    # From the machine outwards, whichever plugin reported what; unknown sections go last.
    return sorted(checks, key=lambda c: SECTION_ORDER.get(c.section, len(SECTION_ORDER)))


def _broken(plugin: str, why: str) -> StatusCheck:
    return StatusCheck(
        section="plugin",
        name=plugin,
        ok=False,
        summary=f"the status check failed: {why}",
        action=f"run with LEGER_TRACE_PLUGINS=1 and report it to the plugin {plugin!r}",
    )


def render(checks: Sequence[StatusCheck]) -> list[str]:
    """Aligned lines for a terminal: section, state, name and summary, then ``→ action``."""
    if not checks:
        return ["Nothing to report: no plugin that checks anything is installed."]
    width = max(len(c.section) for c in checks)
    lines = []
    shown: set[str] = set()  # one cause (legerd down) fails several checks: say its fix once
    for check in checks:
        state = "ok  " if check.ok else "FAIL"
        lines.append(f"{check.section:<{width}}  {state}  {check.name}: {check.summary}")
        if not check.ok and check.action and check.action not in shown:
            shown.add(check.action)
            lines.append(f"{'':<{width}}        → {check.action}")
    return lines
