"""The example release under real systemd 257 and podman 5's quadlet generator: `leger deploy
install` creates the podman secrets its `Secret=` lines name (or refuses, changing nothing),
the generator's units come up with the values inside, an update restarts only what changed, a
failed update is rolled back from systemd's own verdict, and no value reaches the journal or a
unit file.

The release is `examples/` as users get it, apart from images: each `Image=` becomes the local
busybox image and `Exec=` a command that keeps busybox running (litellm/postgres/open-webui
images cannot be pulled here)."""

from __future__ import annotations

import hashlib
import re
import secrets
from pathlib import Path

import pytest
from sdmachine import IMAGE, LEGER, LEGERD, Machine

pytestmark = [pytest.mark.systemd, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
RELEASE = "/root/ai-stack"
BUNDLE = "/root/ai-stack.tar.gz"  # installed from here; `leger update` reads it again
QDIR = "/etc/containers/systemd"
KEEP_RUNNING = "sh -c \"trap 'exit 0' TERM; while true; do sleep 1; done\""
SECRETS = ("anthropic_api_key", "litellm_master_key", "openai_api_key", "postgres_password",
           "webui_secret_key")  # fmt: skip
UNITS = ("litellm.service", "postgres.service", "openwebui.service")


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def write_release(machine: Machine, edit: dict[str, str] | None = None) -> None:
    """examples/ into the machine with local images (and ``edit``: path → new text)."""
    for path in sorted((ROOT / "examples").iterdir()):
        text = path.read_text()
        if path.suffix == ".container":
            text = re.sub(r"(?m)^Image=.*$", f"Image={IMAGE}", text)
            text = re.sub(r"(?m)^Exec=.*\n", "", text)
            text = text.replace("[Container]\n", f"[Container]\nExec={KEEP_RUNNING}\n", 1)
        if edit and path.name in edit:
            text = edit[path.name]
        machine.write(f"{RELEASE}/{path.name}", text)
    machine.exec([LEGER, "deploy", "manifest", RELEASE])
    machine.exec([LEGER, "deploy", "bundle", RELEASE, "-o", BUNDLE])


def read_release(machine: Machine, name: str) -> str:
    return machine.exec(["cat", f"{RELEASE}/{name}"]).stdout


def prepare(machine: Machine) -> None:
    machine.exec([LEGERD, "install-units"])
    machine.systemctl("daemon-reload")
    machine.systemctl("enable", "--now", "legerd.service", "podman.socket")
    # Where the example's ExecStartPre= finds leger (a package install puts it there).
    machine.exec(["ln", "-s", LEGER, "/usr/local/bin/leger"])


def env_hash(machine: Machine, container: str, var: str) -> str:
    script = f'printf %s "${var}" | sha256sum'
    return machine.exec(["podman", "exec", container, "sh", "-c", script]).stdout.split()[0]


def main_pid(machine: Machine, unit: str) -> str:
    return machine.systemctl("show", "-P", "MainPID", unit).stdout.strip()


def test_example_release_installs_updates_and_rolls_back_under_systemd(machine: Machine) -> None:
    prepare(machine)
    values = {name: f"{name}-" + secrets.token_hex(12) for name in SECRETS}
    # A key podman's generator does not know: Leger's parser only warns (newer podman versions
    # add keys), podman's own `quadlet -dryrun` refuses it, and nothing is installed.
    volume = (ROOT / "examples/openwebui.volume").read_text() + "Colour=blue\n"
    write_release(machine, {"openwebui.volume": volume})
    refused = machine.exec([LEGER, "deploy", "install", BUNDLE, "--yes"], check=False)
    assert refused.returncode != 0
    assert "podman's quadlet generator refuses the release" in refused.stderr
    assert "unsupported key 'Colour'" in refused.stderr
    assert machine.sh(f"test -e {QDIR}/ai-stack", check=False).returncode != 0
    write_release(machine)

    # One value missing: refused with what is missing and how to provide it; nothing changed.
    for name in SECRETS:
        if name != "anthropic_api_key":
            machine.exec([LEGER, "local", "put", name], input=values[name])
    refused = machine.exec([LEGER, "deploy", "install", BUNDLE, "--yes"], check=False)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "anthropic_api_key (Secret= of litellm" in refused.stderr
    assert "leger local put" in refused.stderr
    assert machine.sh(f"test -e {QDIR}/ai-stack", check=False).returncode != 0
    assert machine.exec(["podman", "secret", "ls", "--noheading"]).stdout.strip() == ""

    # All there: the podman secrets are created under the release's names, units start.
    machine.exec([LEGER, "local", "put", "anthropic_api_key"], input=values["anthropic_api_key"])
    installed = machine.exec([LEGER, "deploy", "install", BUNDLE, "--yes"], check=False)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    made = machine.exec(["podman", "secret", "ls", "--noheading", "--format", "{{.Name}}"])
    assert sorted(made.stdout.split()) == sorted(set(SECRETS) - {"webui_secret_key"})
    assert machine.systemctl("is-active", *UNITS).returncode == 0
    assert env_hash(machine, "ai-stack-litellm", "OPENAI_API_KEY") == sha256(
        values["openai_api_key"]
    )
    assert env_hash(machine, "ai-stack-postgres", "POSTGRES_PASSWORD") == sha256(
        values["postgres_password"]
    )
    # Open WebUI's values came through ExecStartPre= into the env file, on a first install.
    assert env_hash(machine, "ai-stack-openwebui", "WEBUI_SECRET_KEY") == sha256(
        values["webui_secret_key"]
    )
    # podman's own generator accepts every file Leger wrote.
    dry = machine.exec(["/usr/libexec/podman/quadlet", "-dryrun"], check=False)
    assert dry.returncode == 0, dry.stderr
    assert "ExecStartPre=/usr/local/bin/leger secrets fetch openwebui" in dry.stdout

    # `leger inject podman` uses the release's names too: nothing new, nothing renamed.
    inject = machine.exec([LEGER, "inject", "podman", "litellm"]).stdout
    assert "Secret=openai_api_key,type=env,target=OPENAI_API_KEY" in inject
    assert "created" not in inject and "removed" not in inject
    # postgres_password is named by litellm and postgres alike: one podman secret for both.
    inject = machine.exec([LEGER, "inject", "podman", "postgres"]).stdout
    assert "unchanged: POSTGRES_PASSWORD" in inject
    assert "Secret=postgres_password,type=env,target=POSTGRES_PASSWORD" in inject
    again = machine.exec(["podman", "secret", "ls", "--noheading", "--format", "{{.Name}}"])
    assert sorted(again.stdout.split()) == sorted(made.stdout.split())

    status = machine.exec([LEGER, "deploy", "status"]).stdout
    assert "litellm.service" in status and "active" in status

    # An update: only litellm.service restarts.
    before = {unit: main_pid(machine, unit) for unit in UNITS}
    litellm = read_release(machine, "litellm.container")
    updated = litellm.replace("[Service]\n", "[Service]\nEnvironment=LEGER_TEST_REV=2\n")
    write_release(machine, {"litellm.container": updated})
    up = machine.exec([LEGER, "update", "--yes"], check=False)
    assert up.returncode == 0, up.stdout + up.stderr
    after = {unit: main_pid(machine, unit) for unit in UNITS}
    assert after["litellm.service"] != before["litellm.service"]
    assert after["postgres.service"] == before["postgres.service"]
    assert after["openwebui.service"] == before["openwebui.service"]
    good = machine.exec(["cat", f"{QDIR}/ai-stack/litellm.container"]).stdout

    # A failed update under real systemd leaves the previous version running: a bad image.
    broken = updated.replace(f"Image={IMAGE}", "Image=localhost/leger-no-such-image:latest")
    write_release(machine, {"litellm.container": broken})
    bad = machine.exec([LEGER, "update", "--yes"], check=False)
    assert bad.returncode != 0
    assert "Rolled back" in bad.stderr and "litellm.service" in bad.stderr
    assert machine.exec(["cat", f"{QDIR}/ai-stack/litellm.container"]).stdout == good
    assert machine.systemctl("is-active", *UNITS).returncode == 0
    assert env_hash(machine, "ai-stack-litellm", "OPENAI_API_KEY") == sha256(
        values["openai_api_key"]
    )

    # A failing ExecStartPre= (its fetch cannot read a secret): rolled back too.
    openwebui = read_release(machine, "openwebui.container")
    failing = openwebui.replace("fetch openwebui", "fetch openwebui --backend no-such-backend", 1)
    write_release(machine, {"litellm.container": updated, "openwebui.container": failing})
    bad = machine.exec([LEGER, "update", "--yes"], check=False)
    assert bad.returncode != 0 and "Rolled back" in bad.stderr
    assert machine.systemctl("is-active", *UNITS).returncode == 0

    # A rotation reaches the same podman secret through `leger inject podman` and a restart.
    values["openai_api_key (rotated)"] = rotated = "sk-" + secrets.token_hex(12)
    machine.exec([LEGER, "local", "put", "--activate", "openai_api_key"], input=rotated)
    created = ["podman", "secret", "inspect", "openai_api_key", "--format", "{{.CreatedAt}}"]
    created_before = machine.exec(created).stdout
    inject = machine.exec([LEGER, "inject", "podman", "litellm"]).stdout
    assert "replaced: OPENAI_API_KEY" in inject
    # podman 5's own replace: the same secret, updated (remove + create would make a new one)
    assert machine.exec(created).stdout == created_before
    machine.systemctl("restart", "litellm.service")
    assert env_hash(machine, "ai-stack-litellm", "OPENAI_API_KEY") == sha256(rotated)

    # `leger status` reports a unit systemd calls failed, with exit 1.
    machine.exec([LEGER, "local", "delete", "webui_secret_key"], check=False)
    machine.exec(["podman", "rm", "-f", "ai-stack-openwebui"], check=False)
    machine.systemctl("restart", "openwebui.service", check=False)
    machine.wait_for("systemctl show -P ActiveState openwebui.service | grep -qv '^active$'")
    st = machine.exec([LEGER, "status"], check=False)
    assert st.returncode == 1, st.stdout + st.stderr
    assert "openwebui.service" in st.stdout

    # Journal hygiene: no value in the journal, the quadlet directory or any unit file.
    places = {
        "journal": machine.journal(),
        "quadlets": machine.sh(f"cat $(find {QDIR} -type f)").stdout,
        "units": machine.sh(
            "find /run/systemd/generator /etc/systemd/system -type f -exec cat {} +"
        ).stdout,
    }
    for where, text in places.items():
        for name, value in values.items():
            assert value not in text, f"{name}'s value is in the {where}"


def test_driver_strategy_install_and_rotation_without_a_new_podman_secret(
    machine: Machine,
) -> None:
    """`[deploy] secrets_strategy = "driver"`: install creates the release's secrets on the
    `leger driver` shell driver; a rotation in legerd reaches a restarted unit as it is."""
    prepare(machine)
    machine.exec([LEGER, "driver", "install"])
    machine.write("/root/.config/leger/config.toml", '[deploy]\nsecrets_strategy = "driver"\n')
    values = {name: f"{name}-" + secrets.token_hex(12) for name in SECRETS}
    for name, value in values.items():
        machine.exec([LEGER, "local", "put", name], input=value)
    write_release(machine)
    installed = machine.exec([LEGER, "deploy", "install", BUNDLE, "--yes"], check=False)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "Created podman secrets (driver strategy)" in installed.stdout
    drivers = machine.exec(["podman", "secret", "ls", "--noheading", "--format", "{{.Driver}}"])
    assert set(drivers.stdout.split()) == {"shell"}
    assert machine.systemctl("is-active", *UNITS).returncode == 0
    assert env_hash(machine, "ai-stack-litellm", "OPENAI_API_KEY") == sha256(
        values["openai_api_key"]
    )
    rotated = "sk-" + secrets.token_hex(12)
    machine.exec([LEGER, "local", "put", "--activate", "openai_api_key"], input=rotated)
    machine.systemctl("restart", "litellm.service")
    assert env_hash(machine, "ai-stack-litellm", "OPENAI_API_KEY") == sha256(rotated)
    journal = machine.journal()
    for value in [*values.values(), rotated]:
        assert value not in journal
