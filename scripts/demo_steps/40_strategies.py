"""The four ways a secret gets into a container: env file, podman secrets, the `leger driver`
shell driver and the init script — each with a real container when podman works here."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from demo_kit import BIN, Demo, DemoFailed

TITLE = "Secrets into containers: env file, podman secrets, shell driver, init script"

SERVICE = "openwebui"
OPENAI = "sk-demo-openai-0123456789"  # demo values only
ANTHROPIC = "sk-ant-demo-abcdefghij"
ROTATED = "sk-demo-rotated-in-legerd-000042"
# What a container prints: each value's length and the start of its sha256, never the value.
SHOW = (
    'for v in {vars}; do eval "x=\\${{$v}}"; '
    'printf "%s: %s chars, sha256 %s…\\n" "$v" "${{#x}}" '
    '"$(printf %s "$x" | sha256sum | cut -c1-8)"; '
    "done"
)


def _accepts(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ensure_legerd(demo: Demo) -> None:
    if demo.env.get("LEGERD_SOCKET"):
        return
    sock = Path(demo.env["XDG_RUNTIME_DIR"]) / "legerd.sock"
    state = Path(demo.env["XDG_STATE_HOME"]) / "legerd"
    demo.say("legerd is not running yet (its step was skipped): starting it")
    demo.background(
        [str(BIN / "legerd"), "serve", "--state-dir", str(state), "--socket", str(sock)],
        log="legerd.log",
    )
    demo.wait_for(lambda: _accepts(sock), "legerd's socket")
    demo.env["LEGERD_SOCKET"] = str(sock)


def _masked_env_file(demo: Demo, path: Path) -> None:
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            line = f"{name}={value[:7]}… ({len(value)} chars)"
        print(f"  {line}")


def run(demo: Demo) -> None:
    _ensure_legerd(demo)
    demo.say("A service's secrets come from config (or an installed release's manifest):")
    demo.sh(["leger", "config", "set", "secrets.prefix", "demo40/"])
    demo.sh(["leger", "config", "set", f"services.{SERVICE}.secrets", '["openai_api_key"]'])
    demo.sh(
        ["leger", "config", "set", f"services.{SERVICE}.env.ANTHROPIC_API_KEY", "team/anthropic"]
    )
    demo.sh(["leger", "local", "put", "--activate", "demo40/openai_api_key"], input=OPENAI)
    demo.sh(["leger", "local", "put", "--activate", "team/anthropic"], input=ANTHROPIC)

    demo.say("1. envfile — ExecStartPre= runs this at every start: a 0600 file on tmpfs, atomic:")
    demo.sh(["leger", "secrets", "fetch", SERVICE])
    env_file = Path(demo.env["XDG_RUNTIME_DIR"]) / "leger" / f"{SERVICE}.env"
    demo.sh(["stat", "-c", "%a %U %n", str(env_file)])
    demo.say(f"{env_file.name}, values masked here:")
    _masked_env_file(demo, env_file)
    demo.say("The lines for the .container file:")
    demo.sh(["leger", "quadlet", "snippet", SERVICE])
    demo.say("A value that podman and systemd would read differently is refused, by name:")
    demo.sh(["leger", "local", "put", "--activate", "team/anthropic"], input="two\nlines")
    demo.sh(["leger", "secrets", "fetch", SERVICE], expect=7)
    demo.sh(["test", "-e", str(env_file)], expect=1)
    demo.sh(["leger", "local", "put", "--activate", "team/anthropic"], input=ANTHROPIC)

    podman = _podman(demo)
    if podman is None:
        return
    penv, image = podman
    show = SHOW.format(vars="OPENAI_API_KEY ANTHROPIC_API_KEY")
    run_args = ["podman", "run", "--rm", "--network=none"]

    demo.say("A real container reading the env file (podman --env-file):")
    demo.sh(["leger", "secrets", "fetch", SERVICE])
    demo.sh([*run_args, "--env-file", str(env_file), image, "sh", "-c", show], env=penv)
    demo.sh(["leger", "secrets", "clean", SERVICE])

    api = Path(demo.tmp) / "podman-api.sock"
    demo.say("2. podman — secrets created through podman's API (podman-py):")
    demo.background(
        ["podman", "system", "service", "--time=0", f"unix://{api}"],
        env=penv,
        log="podman-api.log",
    )
    demo.wait_for(api.exists, "podman's API socket")
    demo.sh(["leger", "config", "set", "podman.socket", f"unix://{api}"])
    demo.sh(["leger", "inject", "podman", SERVICE])
    secret_args = [
        "--secret", f"{SERVICE}_openai_api_key,type=env,target=OPENAI_API_KEY",
        "--secret", f"{SERVICE}_anthropic_api_key,type=env,target=ANTHROPIC_API_KEY",
    ]  # fmt: skip
    demo.sh([*run_args, *secret_args, image, "sh", "-c", show], env=penv)
    demo.say("Unchanged values are left alone:")
    demo.sh(["leger", "inject", "podman", SERVICE])
    for name in (f"{SERVICE}_openai_api_key", f"{SERVICE}_anthropic_api_key"):
        demo.sh(["podman", "secret", "rm", name], env=penv, show=False)

    demo.say("3. driver — podman keeps only `leger:NAME`; each start asks legerd (leger driver):")
    demo.sh(["leger", "inject", "driver", SERVICE])
    inspect = [
        "podman",
        "secret",
        "inspect",
        "--format",
        "{{.ID}} {{.CreatedAt}} {{.Spec.Driver.Name}}",
    ]
    before = demo.sh([*inspect, f"{SERVICE}_openai_api_key"], env=penv).stdout
    demo.sh([*run_args, *secret_args, image, "sh", "-c", show], env=penv)
    demo.say("Rotate the value in legerd only, then start the container again:")
    demo.sh(["leger", "local", "put", "--activate", "demo40/openai_api_key"], input=ROTATED)
    demo.sh([*run_args, *secret_args, image, "sh", "-c", show], env=penv)
    after = demo.sh([*inspect, f"{SERVICE}_openai_api_key"], env=penv).stdout
    if before != after:
        raise DemoFailed("the driver's podman secret was recreated")
    demo.say("Same podman secret (ID and CreatedAt unchanged), new value.")
    for name in (f"{SERVICE}_openai_api_key", f"{SERVICE}_anthropic_api_key"):
        demo.sh(["podman", "secret", "rm", name], env=penv, show=False)

    _initscript(demo, penv, image, show)
    _pass_backend(demo, penv, image, show)


def _pass_backend(demo: Demo, penv: dict[str, str], image: str, show: str) -> None:
    demo.say("5. Another secret backend: the same strategies reading from password-store (pass),")
    demo.say("with legerd out of the picture (LEGERD_SOCKET points at nothing):")
    gnupg = Path(demo.tmp) / "gnupg"
    gnupg.mkdir(mode=0o700)
    store = Path(demo.tmp) / "password-store"
    env = {
        "GNUPGHOME": str(gnupg),
        "PASSWORD_STORE_DIR": str(store),
        "LEGERD_SOCKET": str(Path(demo.tmp) / "no-legerd.sock"),
    }
    try:
        demo.sh(
            ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "demo <demo@example.invalid>",
             "default", "default", "never"],
            env=env, show=False,
        )  # fmt: skip
        demo.sh(["pass", "init", "demo@example.invalid"], env=env)
        demo.sh(
            ["pass", "insert", "--multiline", "ai/openai"], input=OPENAI + "\nlogin: me\n", env=env
        )
        demo.sh(
            ["leger", "config", "set", "services.passdemo.env.OPENAI_API_KEY", "pass:ai/openai"]
        )
        demo.sh(["leger", "secrets", "fetch", "passdemo"], env=env)
        env_file = Path(demo.env["XDG_RUNTIME_DIR"]) / "leger" / "passdemo.env"
        demo.say("The entry's first line is the value, as pass treats it:")
        demo.sh(
            ["podman", "run", "--rm", "--network=none", "--env-file", str(env_file), image, "sh",
             "-c", SHOW.format(vars="OPENAI_API_KEY")],
            env=penv,
        )  # fmt: skip
        demo.sh(["leger", "secrets", "clean", "passdemo"])
    finally:
        # the agent gpg started for this home, and only that one
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**demo.env, **env}, check=False)


def _podman(demo: Demo) -> tuple[dict[str, str], str] | None:
    from leger_testkit.podmanenv import PodmanEnv, busybox_path, podman_missing

    missing = podman_missing()
    if missing:
        demo.say(f"podman cannot run containers here ({missing}): skipping the container runs")
        return None
    root = Path(demo.tmp) / "podman"
    root.mkdir()
    env = PodmanEnv(root)
    demo.say("Podman with runc, a private storage root and a busybox image from a local rootfs:")
    try:
        env.import_image(busybox_path() or "/bin/busybox")
    except (AssertionError, subprocess.SubprocessError) as exc:
        demo.say(f"podman does not work here ({exc}): skipping the container runs")
        return None
    penv = {k: env.env[k] for k in ("CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF")}
    demo.sh(["podman", "images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"], env=penv)
    return penv, env.image


def _initscript(demo: Demo, penv: dict[str, str], image: str, show: str) -> None:
    demo.say("4. initscript — the container fetches at start over legerd's TCP listener, with a")
    demo.say("bearer token allowed to `get` only this service's secrets (a second legerd here):")
    state = Path(demo.tmp) / "legerd-tcp"
    sock = Path(demo.tmp) / "legerd-tcp.sock"
    demo.sh(["legerd", "init", "--state-dir", str(state)])
    made = demo.sh(
        ["legerd", "token", "add", "openwebui-init", "--state-dir", str(state)], show=False
    )
    token = next(w for w in made.stdout.split() if w.startswith("legerd_"))
    token_file = Path(demo.tmp) / "openwebui.token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    rules = state / "access.toml"
    rules.write_text(
        '[[allow]]\nprincipals = ["token:openwebui-init"]\nactions = ["get"]\n'
        + 'secrets = ["demo40/openai_api_key", "team/anthropic"]\n'
    )
    demo.say(f"(the token, shown only once by legerd, is kept in {token_file.name}, mode 0600)")
    port = _free_port()
    demo.background(
        ["legerd", "serve", "--state-dir", str(state), "--socket", str(sock),
         "--listen", f"127.0.0.1:{port}"],
        log="legerd-tcp.log",
    )  # fmt: skip
    demo.wait_for(lambda: _accepts(sock), "the second legerd")
    tcp = {"LEGERD_SOCKET": str(sock)}
    demo.sh(["leger", "local", "put", "demo40/openai_api_key"], input=ROTATED, env=tcp)
    demo.sh(["leger", "local", "put", "team/anthropic"], input=ANTHROPIC, env=tcp)
    out = demo.sh(
        ["leger", "inject", "initscript", SERVICE, "--legerd-addr", f"127.0.0.1:{port}",
         "--command", "/app/start.sh"],
        env=tcp,
    ).stdout  # fmt: skip
    script = out.split()[1]
    demo.sh(
        ["podman", "run", "--rm", "--network=host",
         "-v", f"{script}:/run/leger/init.sh:ro",
         "-v", f"{token_file}:/run/secrets/leger_token:ro",
         "-e", f"LEGERD_ADDR=127.0.0.1:{port}",
         "--entrypoint", "/run/leger/init.sh", image, "sh", "-c", show],
        env=penv,
    )  # fmt: skip
    demo.say("The script names secrets, never values; the token goes through a pipe, not argv.")
