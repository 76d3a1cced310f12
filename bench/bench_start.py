"""What a container start pays for its secrets: ``leger secrets fetch SERVICE`` and ``leger driver
lookup`` (podman's shell driver, a ``leger:NAME`` reference) run as whole processes, beside
``python -c pass`` from the same venv, against a real legerd on a Unix socket.

    .venv/bin/python -m bench.bench_start [--rounds 60] [--seconds 30] [--no-containers]

The three commands run pairwise interleaved — one of each per round, in a rotating order — so a
busier moment of the machine hits all of them alike. Goal: each ≤ 1.5× the bare interpreter.

Then, when podman works here, whole container starts (busybox, runc) with 3 secrets delivered by
each strategy beside a start with none, interleaved the same way (see docs/strategies.md).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 1.5
BIN = Path(sys.executable).parent
SECRET_ID = "0123456789abcdef012345678"
TOKEN = "legerd_bench-start-token-0123456789"  # a throwaway legerd's, for the init script
# The plugins a container start needs. The fast path of `secrets fetch` caches a service's plan
# only when every `leger_service_secrets` provider declares the files its answer depends on;
# a provider that does not (yet) sends every fetch through the full CLI.


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The packages a container start imports (the fast path of both commands).
FAST_PACKAGES = (
    "leger_core",
    "leger_plugin_envfile",
    "leger_plugin_podman",
    "leger_plugin_setec",
    "leger_plugin_pass",
)
# Rows for another backend: measured and shown, but the ≤ 1.5× goal is legerd's. The pass
# backend decrypts each entry with GnuPG (a gpg process per secret, all at once), so its cost
# is mostly gpg's; "full CLI" is what a backend without a fast entry pays.
NO_GOAL = ("pass",)


def compile_bytecode() -> list[str]:
    """Write the ``.pyc`` files a user's install has: pip compiles a package when it installs
    it, but an editable install compiles nothing, and with ``PYTHONDONTWRITEBYTECODE`` set (as
    on these machines) Python recompiles every module at every start. Measuring that would be
    measuring the compiler. Returns the packages compiled."""
    import compileall
    import importlib.util

    done = []
    for name in FAST_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        for folder in spec.submodule_search_locations:
            compileall.compile_dir(folder, quiet=2)
        done.append(name)
    return done


def cleanup(env: dict[str, str]) -> None:
    shutil.rmtree(env["XDG_RUNTIME_DIR"], ignore_errors=True)


def start_legerd(tmp: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    sock = tmp / "legerd.sock"
    proc = subprocess.Popen(
        [
            str(BIN / "legerd"),
            "serve",
            "--state-dir",
            str(tmp / "state"),
            "--socket",
            str(sock),
            *extra,
        ],
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
    }
    # Every installed plugin loads, as for a user: the fast path must hold up with all of them.
    for key in ("LEGER_NO_FAST", "LEGER_TRACE_PLUGINS", "LEGER_LOAD_PLUGINS"):
        env.pop(key, None)
    if prepare_pass(tmp, env):
        with config.open("a") as fh:
            fh.write(
                '[services.passbench]\nbackend = "pass"\n[services.passbench.env]\n'
                + "".join(f'{e} = "bench/{e.lower()}"\n' for e in PASS_ENVS)
            )
    leger = str(BIN / "leger")
    subprocess.run([leger, "driver", "store"], input=b"leger:team/anthropic", env=env, check=True)
    # One full run of each fills the caches the fast path reads (as the first start would).
    for args in (["secrets", "fetch", "openwebui"], ["driver", "lookup"]):
        subprocess.run([leger, *args], env=env, check=True, capture_output=True)
    if "PASSWORD_STORE_DIR" in env:
        subprocess.run([leger, "secrets", "fetch", "passbench"], env=env, check=True)
    return env


PASS_ENVS = ("OPENAI_API_KEY", "GROQ_API_KEY", "ANTHROPIC_API_KEY")


def prepare_pass(tmp: Path, env: dict[str, str]) -> bool:
    """A password store with 3 entries and a GnuPG key made here (no passphrase); adds
    GNUPGHOME and PASSWORD_STORE_DIR to ``env``. False when pass or gpg is missing."""
    if not (shutil.which("pass") and shutil.which("gpg")):
        print("(pass backend not measured: pass or gpg is not installed)")
        return False
    gnupg = tmp / "gnupg"
    gnupg.mkdir(mode=0o700)
    env["GNUPGHOME"] = str(gnupg)
    env["PASSWORD_STORE_DIR"] = str(tmp / "password-store")
    uid = "bench <bench@example.invalid>"
    subprocess.run(
        ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "default", "default",
         "never"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["pass", "init", "bench@example.invalid"], env=env, check=True, capture_output=True
    )
    for e in PASS_ENVS:
        subprocess.run(
            ["pass", "insert", "--multiline", f"bench/{e.lower()}"],
            input=("bench-" + "x" * 48).encode(),
            env=env,
            check=True,
            capture_output=True,
        )
    return True


def stop_gpg_agent(env: dict[str, str]) -> None:
    """The agent gpg started for the bench's GnuPG home, and only that one."""
    if "GNUPGHOME" in env:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, capture_output=True)


def timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.decode().strip()}")
    return elapsed


# --- whole container starts ---------------------------------------------------------------

NAMES = {
    "OPENAI_API_KEY": "leger/bench/openai_api_key",
    "GROQ_API_KEY": "leger/bench/groq_api_key",
    "ANTHROPIC_API_KEY": "team/anthropic",
}


def container_rounds(
    tmp: Path, env: dict[str, str], legerd_addr: str, token: str, rounds: int = 8
) -> dict[str, list[float]]:
    from leger_plugin_initscript.render import SCRIPT_PATH_IN_CONTAINER, render_script
    from leger_plugin_podman.injectors import driver_options
    from leger_testkit.podmanenv import PodmanEnv, busybox_path, podman_missing

    missing = podman_missing()
    if missing:
        print(f"(container starts not measured: {missing})")
        return {}
    (tmp / "podman").mkdir()
    podman = PodmanEnv(tmp / "podman")
    podman.import_image(busybox_path() or "/bin/busybox")
    penv = {**env, **{k: podman.env[k] for k in ("CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF")}}
    image = podman.image
    opts = ",".join(f"{op}={cmd}" for op, cmd in driver_options(env).items())
    file_args: list[str] = []
    driver_args: list[str] = []
    for env_name, secret in NAMES.items():
        fname, dname = f"bench_file_{env_name.lower()}", f"bench_drv_{env_name.lower()}"
        podman.run(["secret", "create", fname, "-"], input=b"bench-value", env=penv)
        podman.run(
            ["secret", "create", "--driver", "shell", "--driver-opts", opts, dname, "-"],
            input=f"leger:{secret}".encode(),
            env=penv,
        )
        file_args += ["--secret", f"{fname},type=env,target={env_name}"]
        driver_args += ["--secret", f"{dname},type=env,target={env_name}"]
    script = tmp / "init.sh"
    script.write_text(render_script("openwebui", list(NAMES.items())))
    script.chmod(0o755)
    token_file = tmp / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    env_file = Path(env["XDG_RUNTIME_DIR"]) / "leger" / "openwebui.env"
    run = ["podman", "run", "--rm", "--network=host"]
    variants: dict[str, list[list[str]]] = {
        "no secrets": [[*run, image, "true"]],
        "envfile (`leger secrets fetch` + `--env-file`)": [
            [str(BIN / "leger"), "secrets", "fetch", "openwebui"],
            [*run, "--env-file", str(env_file), image, "true"],
        ],
        "podman (file driver)": [[*run, *file_args, image, "true"]],
        "driver (3 × `leger driver lookup`)": [[*run, *driver_args, image, "true"]],
        "initscript (3 requests from the container)": [
            [*run, "-v", f"{script}:{SCRIPT_PATH_IN_CONTAINER}:ro",
             "-v", f"{token_file}:/run/secrets/leger_token:ro",
             "-e", f"LEGERD_ADDR={legerd_addr}", "--entrypoint", SCRIPT_PATH_IN_CONTAINER,
             image, "true"],
        ],
    }  # fmt: skip
    names = list(variants)
    times: dict[str, list[float]] = {n: [] for n in names}
    try:
        for i in range(rounds):
            k = i % len(names)
            for name in names[k:] + names[:k]:
                start = time.perf_counter()
                for cmd in variants[name]:
                    proc = subprocess.run(cmd, env=penv, capture_output=True)
                    if proc.returncode != 0:
                        raise SystemExit(f"{name}: {proc.stderr.decode(errors='replace')}")
                times[name].append(time.perf_counter() - start)
    finally:
        subprocess.run(["podman", "rm", "-af"], env=penv, capture_output=True)
        for n in list(os.listdir(env["XDG_RUNTIME_DIR"])):
            if n == "leger":
                subprocess.run(["rm", "-rf", os.path.join(env["XDG_RUNTIME_DIR"], n)])
        podman.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=30.0, help="stop early after this")
    parser.add_argument("--no-containers", action="store_true", help="skip the podman part")
    opts = parser.parse_args(argv)

    compiled = compile_bytecode()
    tmp = Path(tempfile.mkdtemp(prefix="leger-bench-start-"))
    port = free_port()
    rules = tmp / "access.toml"
    rules.write_text(
        '[[allow]]\nprincipals = ["token:bench"]\nactions = ["get"]\nsecrets = ["*"]\n'
        f'[tokens]\nbench = "sha256:{hashlib.sha256(TOKEN.encode()).hexdigest()}"\n'
    )
    legerd, sock = start_legerd(tmp, "--listen", f"127.0.0.1:{port}", "--rules", str(rules))
    containers: dict[str, list[float]] = {}
    env: dict[str, str] = {}
    try:
        env = prepare(tmp, sock)
        leger = str(BIN / "leger")
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "leger secrets fetch openwebui": [leger, "secrets", "fetch", "openwebui"],
            "leger driver lookup": [leger, "driver", "lookup"],
        }
        envs = {name: env for name in commands}
        if "PASSWORD_STORE_DIR" in env:
            fetch = [leger, "secrets", "fetch", "passbench"]
            commands["pass: leger secrets fetch passbench (fast entry)"] = fetch
            commands["pass: leger secrets fetch passbench (full CLI)"] = fetch
            envs["pass: leger secrets fetch passbench (fast entry)"] = env
            envs["pass: leger secrets fetch passbench (full CLI)"] = {**env, "LEGER_NO_FAST": "1"}
        names = list(commands)
        times: dict[str, list[float]] = {n: [] for n in names}
        deadline = time.monotonic() + opts.seconds
        for i in range(opts.rounds):
            k = i % len(names)
            for name in names[k:] + names[:k]:
                times[name].append(timed(commands[name], envs[name]))
            if time.monotonic() > deadline:
                break
        if not opts.no_containers:
            containers = container_rounds(tmp, env, f"127.0.0.1:{port}", TOKEN)
    finally:
        legerd.terminate()
        legerd.wait(timeout=10)
        if env:
            stop_gpg_agent(env)
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
    print(f"(bytecode compiled first, as an install does: {', '.join(compiled)})")
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
        no_goal = name == names[0] or name.startswith(NO_GOAL)
        goal = "" if no_goal else ("ok" if ratio <= GOAL else f"> {GOAL}x")
        ok = ok and (no_goal or ratio <= GOAL)
        print(
            f"| `{name}` | {median * 1000:.1f} | {p90 * 1000:.1f} | {ratio:.2f}x "
            f"| {pairs:.2f}x | {goal} |"
        )
    print()
    print("goal met" if ok else f"goal NOT met (each legerd row ≤ {GOAL}x python -c pass)")
    if containers:
        print_containers(containers)
    return 0


def print_containers(times: dict[str, list[float]]) -> None:
    names = list(times)
    base = statistics.median(times[names[0]])
    print()
    print(f"Whole container starts, {len(times[names[0]])} interleaved rounds, 3 secrets each")
    print()
    print("| strategy | median ms | more than no secrets |")
    print("|---|---:|---:|")
    for name in names:
        median = statistics.median(times[name])
        extra = "" if name == names[0] else f"{(median - base) * 1000:+.0f} ms"
        print(f"| {name} | {median * 1000:.0f} | {extra} |")


if __name__ == "__main__":
    sys.exit(main())
