"""What a container start pays for its secrets: ``leger secrets fetch SERVICE`` and ``leger driver
lookup`` (podman's shell driver, a ``leger:NAME`` reference) run as whole processes, beside
``python -c pass`` from the same venv, against a real legerd on a Unix socket.

    .venv/bin/python -m bench.bench_start [--rounds 60] [--seconds 45]

The three commands run pairwise interleaved — one of each per round, in a rotating order — so a
busier moment of the machine hits all of them alike. Goal: each ≤ 1.5× the bare interpreter.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 1.5
BIN = Path(sys.executable).parent
SECRET_ID = "0123456789abcdef012345678"
# The plugins a container start needs. The fast path of `secrets fetch` caches a service's plan
# only when every `leger_service_secrets` provider declares the files its answer depends on;
# a provider that does not (yet) sends every fetch through the full CLI.
PLUGINS = "envfile,setec,podman"


def cleanup(env: dict[str, str]) -> None:
    shutil.rmtree(env["XDG_RUNTIME_DIR"], ignore_errors=True)


def start_legerd(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    sock = tmp / "legerd.sock"
    proc = subprocess.Popen(
        [str(BIN / "legerd"), "serve", "--state-dir", str(tmp / "state"), "--socket", str(sock)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("legerd did not start")
        time.sleep(0.02)
    return proc, str(sock)


def prepare(tmp: Path, sock: str) -> dict[str, str]:
    from leger_core.models import SecretValue
    from leger_plugin_setec.client import SetecClient

    home = tmp / "home"
    (home / ".config/leger").mkdir(parents=True)
    config = home / ".config/leger/config.toml"
    config.write_text(
        '[secrets]\nprefix = "leger/bench/"\n'
        '[services.openwebui]\nsecrets = ["openai_api_key", "groq_api_key"]\n'
        '[services.openwebui.env]\nANTHROPIC_API_KEY = "team/anthropic"\n'
    )
    with SetecClient(sock) as client:
        for name in ("leger/bench/openai_api_key", "leger/bench/groq_api_key", "team/anthropic"):
            client.put(name, SecretValue("bench-" + "x" * 48))
    # The env file goes to $XDG_RUNTIME_DIR, a tmpfs on a real machine (/run/user/UID).
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    runtime = Path(tempfile.mkdtemp(prefix="leger-bench-run-", dir=shm))
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "XDG_RUNTIME_DIR": str(runtime),
        "LEGER_CONFIG": str(config),
        "LEGERD_SOCKET": sock,
        "SECRET_ID": SECRET_ID,
        "LEGER_LOAD_PLUGINS": PLUGINS,
    }
    for key in ("LEGER_NO_FAST", "LEGER_TRACE_PLUGINS"):
        env.pop(key, None)
    leger = str(BIN / "leger")
    subprocess.run([leger, "driver", "store"], input=b"leger:team/anthropic", env=env, check=True)
    # One full run of each fills the caches the fast path reads (as the first start would).
    for args in (["secrets", "fetch", "openwebui"], ["driver", "lookup"]):
        subprocess.run([leger, *args], env=env, check=True, capture_output=True)
    return env


def timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.decode().strip()}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=45.0, help="stop early after this")
    opts = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="leger-bench-start-"))
    legerd, sock = start_legerd(tmp)
    env: dict[str, str] = {}
    try:
        env = prepare(tmp, sock)
        leger = str(BIN / "leger")
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "leger secrets fetch openwebui": [leger, "secrets", "fetch", "openwebui"],
            "leger driver lookup": [leger, "driver", "lookup"],
        }
        names = list(commands)
        times: dict[str, list[float]] = {n: [] for n in names}
        deadline = time.monotonic() + opts.seconds
        for i in range(opts.rounds):
            order = names[i % 3 :] + names[: i % 3]
            for name in order:
                times[name].append(timed(commands[name], env))
            if time.monotonic() > deadline:
                break
    finally:
        legerd.terminate()
        legerd.wait(timeout=10)
        if env:
            cleanup(env)
        shutil.rmtree(tmp, ignore_errors=True)

    base = times[names[0]]
    base_median = statistics.median(base)
    rounds = len(base)
    load = os.getloadavg()[0]
    print(
        f"Container-start cost, {rounds} interleaved rounds (3 secrets; lookup = a reference); "
        f"load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    print()
    print("| command | median ms | p90 ms | ratio (medians) | ratio (median of pairs) | goal |")
    print("|---|---:|---:|---:|---:|---|")
    ok = True
    for name in names:
        series = times[name]
        median = statistics.median(series)
        p90 = sorted(series)[int(len(series) * 0.9) - 1]
        ratio = median / base_median
        pairs = statistics.median(t / b for t, b in zip(series, base, strict=True))
        goal = "" if name == names[0] else ("ok" if ratio <= GOAL else f"> {GOAL}x")
        ok = ok and (name == names[0] or ratio <= GOAL)
        print(
            f"| `{name}` | {median * 1000:.1f} | {p90 * 1000:.1f} | {ratio:.2f}x "
            f"| {pairs:.2f}x | {goal} |"
        )
    print()
    print("goal met" if ok else f"goal NOT met (each ≤ {GOAL}x python -c pass)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
