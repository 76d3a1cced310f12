"""Whole-unit start times per strategy under real systemd: ``systemctl start`` of a quadlet
unit (busybox, 3 secrets) in the test machine of tests/systemd (systemd 257, podman 5, legerd
as its Type=notify service), beside the same unit with no secrets, interleaved round by round.

    .venv/bin/python -m bench.bench_systemd [ROUNDS]     # ./dev bench systemd
"""

from __future__ import annotations

import random
import secrets
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ENV = {"A_KEY": "team/a", "B_KEY": "team/b", "C_KEY": "team/c"}
KEEP_RUNNING = "sh -c \"trap 'exit 0' TERM; while true; do sleep 1; done\""
UNITS = {"none": "plain", "envfile": "envf", "podman": "pods", "driver": "drv"}


def _quadlet(name: str, image: str, extra: str) -> str:
    return (
        f"[Container]\nImage={image}\nContainerName={name}\nNetwork=none\n"
        f"Exec={KEEP_RUNNING}\n\n{extra}"
    )


def _after_header(text: str) -> str:
    return text[text.index("# Add to") :].split("\n", 1)[1]


def setup(machine: Any, sd: Any) -> None:
    leger = sd.LEGER
    machine.exec([sd.LEGERD, "install-units"])
    machine.systemctl("daemon-reload")
    machine.systemctl("enable", "--now", "legerd")
    env = ", ".join(f'{k} = "{v}"' for k, v in ENV.items())
    config = "".join(f"[services.{unit}]\nenv = {{ {env} }}\n" for unit in UNITS.values())
    machine.write("/root/.config/leger/config.toml", config)
    for name in ENV.values():
        machine.exec([leger, "local", "put", name], input="sk-" + secrets.token_hex(16))
    machine.exec([leger, "driver", "install"])
    machine.systemctl("start", "podman.socket")
    extra = {
        "none": "",
        "envfile": machine.exec([leger, "quadlet", "snippet", "envf"]).stdout,
        "podman": "[Container]\n"
        + _after_header(machine.exec([leger, "inject", "podman", "pods"]).stdout),
        "driver": _after_header(machine.exec([leger, "inject", "driver", "drv"]).stdout),
    }
    for strategy, unit in UNITS.items():
        path = f"/etc/containers/systemd/{unit}.container"
        machine.write(path, _quadlet(unit, sd.IMAGE, extra[strategy]))
    machine.systemctl("daemon-reload")


def start_ms(machine: Any, unit: str) -> float:
    script = (
        f"s=$(date +%s%N); systemctl start {unit}.service; e=$(date +%s%N); "
        f"systemctl stop {unit}.service; echo $(( (e - s) / 1000 ))"
    )
    return int(machine.sh(script).stdout.strip()) / 1000


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT / "tests" / "systemd"))
    import sdmachine as sd

    rounds = int(argv[0]) if argv else 8
    reason = sd.missing_tools()
    if reason:
        print(f"skipped: the systemd machine cannot run here ({reason})")
        return 0
    with sd.Machine(sd.ensure_rootfs(), binds=sd.checkout_binds(ROOT)) as machine:
        setup(machine, sd)
        for unit in UNITS.values():  # warm up: image, caches, the fast path's plans
            start_ms(machine, unit)
        times: dict[str, list[float]] = {s: [] for s in UNITS}
        for _ in range(rounds):
            order = list(UNITS.items())
            random.shuffle(order)
            for strategy, unit in order:
                times[strategy].append(start_ms(machine, unit))
    base = statistics.median(times["none"])
    print(f"`systemctl start` of a busybox quadlet, 3 secrets, {rounds} rounds interleaved:\n")
    print("| strategy | median ms | p90 ms | more than no secrets |")
    print("|---|---:|---:|---:|")
    for strategy, values in times.items():
        med = statistics.median(values)
        p90 = sorted(values)[max(0, int(len(values) * 0.9) - 1)]
        diff = "" if strategy == "none" else f"{med - base:+.0f} ms"
        print(f"| {strategy} | {med:.0f} | {p90:.0f} | {diff} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
