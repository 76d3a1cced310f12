"""Under real systemd: the example release installed with podman 5's generator, its podman
secrets created from legerd first, an update, and a failed update rolled back."""

from __future__ import annotations

import importlib.util
import re
import secrets
from types import ModuleType
from typing import Any

from demo_kit import ROOT, Demo, DemoFailed

TITLE = "Under real systemd: the example release installed, updated, a failed update rolled back"

RELEASE = "/root/ai-stack"
KEEP_RUNNING = "sh -c \"trap 'exit 0' TERM; while true; do sleep 1; done\""
SECRETS = ("anthropic_api_key", "litellm_master_key", "openai_api_key", "postgres_password",
           "webui_secret_key")  # fmt: skip


def _step70() -> ModuleType:
    path = ROOT / "scripts" / "demo_steps" / "70_systemd.py"
    spec = importlib.util.spec_from_file_location("demo_step_70_systemd", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_release(
    machine: object, image: str, litellm_extra: str = "", litellm_image: str | None = None
) -> None:
    """examples/ as written, apart from images (busybox, kept running)."""
    for path in sorted((ROOT / "examples").iterdir()):
        text = path.read_text()
        if path.suffix == ".container":
            own = litellm_image if path.name == "litellm.container" and litellm_image else image
            text = re.sub(r"(?m)^Image=.*$", f"Image={own}", text)
            text = re.sub(r"(?m)^Exec=.*\n", "", text)
            text = text.replace("[Container]\n", f"[Container]\nExec={KEEP_RUNNING}\n", 1)
        if path.name == "litellm.container" and litellm_extra:
            text = text.replace("[Service]\n", f"[Service]\n{litellm_extra}\n", 1)
        machine.write(f"{RELEASE}/{path.name}", text)  # type: ignore[attr-defined]


def run(demo: Demo) -> None:
    step70 = _step70()
    with step70.leger_machine(demo, tell=False) as booted:
        if booted is not None:
            _deploy(demo, step70._run, *booted)


def _deploy(demo: Demo, run_in: Any, sd: ModuleType, machine: Any) -> None:
    leger, legerd = sd.LEGER, sd.LEGERD
    run_in(machine, [legerd, "install-units"], show=False)
    run_in(machine, ["systemctl", "daemon-reload"], show=False)
    run_in(machine, ["systemctl", "enable", "--now", "legerd", "podman.socket"], show=False)
    run_in(machine, ["ln", "-s", leger, "/usr/local/bin/leger"], show=False)
    demo.say("The release's five secrets go into legerd (values never printed):")
    values = [f"{name}-" + secrets.token_hex(8) for name in SECRETS]
    for name, value in zip(SECRETS, values, strict=True):
        run_in(machine, [leger, "local", "put", name], input=value, show=False)
    demo.say("examples/ as written, images replaced by a local busybox image:")
    _write_release(machine, sd.IMAGE)
    run_in(machine, [leger, "deploy", "manifest", RELEASE])
    run_in(machine, [leger, "deploy", "install", RELEASE, "--yes"])
    run_in(machine, ["podman", "secret", "ls", "--format", "{{.Name}} {{.Driver}}"])
    run_in(machine, [leger, "deploy", "status"])

    demo.say("An update changing litellm.container: only litellm.service restarts.")
    _write_release(machine, sd.IMAGE, "Environment=REV=2")
    run_in(machine, [leger, "deploy", "manifest", RELEASE], show=False)
    run_in(machine, [leger, "deploy", "install", RELEASE, "--yes"])

    demo.say("An update to an image that does not exist: systemd says failed, rolled back.")
    _write_release(machine, sd.IMAGE, "Environment=REV=2", "localhost/no-such-image:latest")
    run_in(machine, [leger, "deploy", "manifest", RELEASE], show=False)
    print(f"[machine] $ {leger} deploy install {RELEASE} --yes")
    bad = machine.exec([leger, "deploy", "install", RELEASE, "--yes"], check=False)
    for line in (bad.stdout + bad.stderr).rstrip().splitlines():
        if not line.startswith("   "):  # the diff is shown by the update above
            print(f"  {line}")
    if bad.returncode == 0 or "Rolled back" not in bad.stderr:
        raise DemoFailed("the failed update was not reported as rolled back")
    run_in(machine, ["systemctl", "is-active", "litellm", "postgres", "openwebui"])
    journal = machine.journal()
    if any(value in journal for value in values):
        raise DemoFailed("a value reached the machine's journal")
    demo.say("No value in the machine's journal.")
