"""leger-server as a real service under systemd 257: the unit ``leger-server install-unit``
writes (DynamicUser, StateDirectory, ProtectSystem=strict, keys from an env file) starts, serves
``/health``, keeps its accounts and secrets across ``systemctl restart``, comes back after
``kill -9``, and passes the machine's own ``systemd-analyze verify`` and ``security``."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from sdmachine import Machine

from leger_core.sdunits import tmp_binds

pytestmark = [pytest.mark.systemd, pytest.mark.slow]

SERVER = str(Path(sys.executable).parent / "leger-server")
UNIT = "/etc/systemd/system/leger-server.service"
ENV_FILE = "/etc/leger-server/leger-server.env"
PROBE = "/usr/local/lib/leger-probe.py"
# Run by the machine's own python3 (standard library only): one HTTP call to the server on
# loopback, printing the JSON answer. A dev-identity login gives a token; the token stays in
# the machine (argv of a process in a throw-away container).
PROBE_SCRIPT = """\
import json, sys, urllib.error, urllib.request

def call(method, path, body=None, token=None):
    req = urllib.request.Request("http://127.0.0.1:8420" + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())

what = sys.argv[1]
if what == "health":
    out = call("GET", "/health")
elif what == "login":
    out = call("POST", "/api/auth/cli", {"user_id": "u1", "email": "u1@example.com",
               "tailnet": "example.ts.net", "device_id": "dev-u1", "hostname": "h"})
elif what == "tslogin":
    # From a tailnet member's address (a loopback alias here): the server asks tailscaled.
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", 8420, timeout=5,
                                      source_address=(sys.argv[2], 0))
    conn.request("POST", "/api/auth/cli", body=json.dumps({"hostname": "h"}),
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    out = resp.status, json.loads(resp.read())
elif what == "put":
    out = call("POST", "/api/secrets/" + sys.argv[3], {"value": sys.argv[4]}, sys.argv[2])
elif what == "get":
    out = call("GET", "/api/secrets/" + sys.argv[3], token=sys.argv[2])
print(json.dumps({"status": out[0], "body": out[1]}))
"""


def probe(machine: Machine, *args: str) -> dict:  # type: ignore[type-arg]
    out = machine.exec(["python3", PROBE, *args]).stdout
    result: dict = json.loads(out)  # type: ignore[type-arg]
    return result


def prepare(machine: Machine) -> None:
    # The bind-mounted interpreter may live under /root (pyenv): the service's dynamic user must
    # be able to reach it, as it would a venv in /opt.
    machine.exec(["chmod", "0711", "/root"])
    if machine.sh(f"test -x {SERVER}", check=False).returncode != 0:
        pytest.skip("leger-server is not installed in this machine (wheels mode)")
    machine.write(PROBE, PROBE_SCRIPT)


def main_pid(machine: Machine) -> int:
    return int(machine.systemctl("show", "-P", "MainPID", "leger-server").stdout.strip())


def wait_healthy(machine: Machine, timeout: float = 30) -> None:
    machine.wait_for(f"python3 {PROBE} health | grep -q '\"status\": 200'", timeout=timeout)


def assert_serving(machine: Machine) -> None:
    """Right after `systemctl start/restart` returned: no waiting, since the unit's
    ExecStartPost= (leger-server health --wait) holds the start until /health answers."""
    answer = probe(machine, "health")
    assert answer["status"] == 200 and answer["body"]["status"] == "healthy", answer


def start(machine: Machine) -> None:
    machine.systemctl("daemon-reload")
    machine.systemctl("enable", "--now", "leger-server.service")
    assert_serving(machine)


def keeps_data_across_restart_and_crash(machine: Machine) -> str:
    """A login and a secret made before ``systemctl restart`` and a ``kill -9`` are there
    after both. Returns the token."""
    login = probe(machine, "login")
    assert login["status"] == 200, login
    token = login["body"]["data"]["token"]
    user = login["body"]["data"]["user"]["user_uuid"]
    put = probe(machine, "put", token, "openai_api_key", "sk-before-restart")
    assert put["status"] in (200, 201), put

    before = main_pid(machine)
    machine.systemctl("restart", "leger-server")
    assert_serving(machine)
    assert main_pid(machine) != before
    # The same token (same keys), the same account, the secret decrypted with the same keys.
    got = probe(machine, "get", token, "openai_api_key")
    assert got["status"] == 200, got
    assert got["body"]["data"]["value"] == "sk-before-restart"
    again = probe(machine, "login")
    assert again["body"]["data"]["user"]["user_uuid"] == user

    # Restart=on-failure: kill -9 (the shell's kill: minbase has no /bin/kill) brings it back.
    crashed = main_pid(machine)
    machine.sh(f"kill -9 {crashed}")
    machine.wait_for(
        'test "$(systemctl show -P MainPID leger-server)" -gt 0 && '
        f'test "$(systemctl show -P MainPID leger-server)" != {crashed}',
        timeout=30,
    )
    wait_healthy(machine)
    assert int(machine.systemctl("show", "-P", "NRestarts", "leger-server").stdout) >= 1
    got = probe(machine, "get", token, "openai_api_key")
    assert got["body"]["data"]["value"] == "sk-before-restart"
    return str(token)


def test_unit_with_keys_from_its_env_file(machine: Machine) -> None:
    prepare(machine)
    # Without the env file the unit must not start (keys never silently appear).
    out = machine.exec([SERVER, "install-unit", "--identity", "dev"], check=False)
    assert out.returncode == 0, out.stderr
    assert f"Wrote {UNIT}" in out.stdout and f"{ENV_FILE} does not exist" in out.stderr
    verify = machine.exec(["systemd-analyze", "verify", UNIT], check=False)
    assert verify.returncode == 0, verify.stderr
    assert "leger-server.service" not in verify.stderr, verify.stderr
    machine.systemctl("daemon-reload")
    assert machine.systemctl("start", "leger-server", check=False).returncode != 0

    out = machine.exec([SERVER, "install-unit", "--identity", "dev", "--new-keys"]).stdout
    assert f"Wrote fresh keys to {ENV_FILE}" in out
    assert machine.exec(["stat", "-c", "%a %U", ENV_FILE]).stdout.split() == ["600", "root"]
    env = machine.exec(["cat", ENV_FILE]).stdout
    jwt_secret = re.search(r"^LEGER_SERVER_JWT_SECRET=(\S+)$", env, re.M)
    assert jwt_secret
    machine.systemctl("reset-failed", "leger-server")
    start(machine)
    health = probe(machine, "health")["body"]
    assert health["status"] == "healthy" and health["identity"] == "dev"

    # Sandboxed: a dynamic user, its data in the state directory, no keys.json (the keys are
    # the env file's), and the keys in neither the unit, its properties, argv nor the journal.
    pid = main_pid(machine)
    uid = machine.sh(f"stat -c %u /proc/{pid}").stdout.strip()
    assert int(uid) not in (0, 1000)
    assert machine.sh("test -e /var/lib/private/leger-server/leger.db", check=False).returncode == 0
    assert machine.sh("test -e /var/lib/leger-server/keys.json", check=False).returncode != 0
    secret = jwt_secret.group(1)
    shown = machine.systemctl("show", "leger-server").stdout
    cmdline = machine.exec(["cat", f"/proc/{pid}/cmdline"]).stdout
    unit_text = machine.exec(["cat", UNIT]).stdout
    for text in (shown, cmdline, unit_text):
        assert secret not in text

    keeps_data_across_restart_and_crash(machine)
    assert secret not in machine.journal("-u", "leger-server")
    assert "sk-before-restart" not in machine.journal("-u", "leger-server")

    # The exposure score systemd gives the unit (docs/server.md reports it).
    security = machine.exec(["systemd-analyze", "security", "leger-server.service"], check=False)
    score = re.search(
        r"Overall exposure level for leger-server\.service: ([0-9.]+)", security.stdout
    )
    assert score, security.stdout[-2000:]
    print(f"systemd-analyze security leger-server.service: {score.group(1)}")
    assert float(score.group(1)) <= 1.5, security.stdout

    # A clean stop is not a failure.
    machine.systemctl("stop", "leger-server")
    assert machine.systemctl("is-failed", "leger-server", check=False).returncode != 0


def test_dev_identity_generates_keys_into_the_state_directory(machine: Machine) -> None:
    """No keys in the env file: --identity dev writes keys.json into the state directory, which
    systemd keeps (and hands to the next dynamic uid), so a restart reads the same keys."""
    prepare(machine)
    machine.write(ENV_FILE, "LEGER_SERVER_IDENTITY=dev\n", mode="0600")
    machine.exec([SERVER, "install-unit"])
    start(machine)
    keys = "/var/lib/private/leger-server/keys.json"
    assert machine.exec(["stat", "-c", "%a", keys]).stdout.strip() == "600"
    first = machine.exec(["sha256sum", keys]).stdout
    token = keeps_data_across_restart_and_crash(machine)
    assert machine.exec(["sha256sum", keys]).stdout == first

    # Admin commands run as the service's own (dynamic) user, on its state directory, as
    # docs/server.md says: rotate-key adds a key to keys.json and re-encrypts the secret.
    machine.systemctl("stop", "leger-server")
    # As the unit does: a checkout under /tmp (a CI clone) is bound into the private /tmp
    # that DynamicUser= implies.
    binds = [a for b in tmp_binds([SERVER]) for a in ("-p", f"BindReadOnlyPaths={b}")]
    rotate = machine.exec(
        [
            "systemd-run", "--wait", "--pipe", "--collect", "-p", "DynamicUser=yes",
            "-p", "StateDirectory=leger-server", "-p", f"EnvironmentFile={ENV_FILE}", *binds,
            SERVER, "rotate-key", "--data-dir", "/var/lib/leger-server",
        ],
        check=False,
    )  # fmt: skip
    assert rotate.returncode == 0, rotate.stdout + rotate.stderr
    assert "re-encrypted 1 secret(s) with key k2" in rotate.stdout
    machine.systemctl("start", "leger-server")
    assert_serving(machine)
    got = probe(machine, "get", token, "openai_api_key")
    assert got["body"]["data"]["value"] == "sk-before-restart"


STAND_IN = """\
import signal, time
from leger_server.testing import LocalAPIStandIn

api = LocalAPIStandIn("/run/tailscale/tailscaled.sock")
api.add_member("127.0.0.2", login="alice@example.com", user_id=7, node_id=70)
api.start()
import os
os.chmod(api.socket_path, 0o666)  # as tailscaled makes it: it decides per peer (SO_PEERCRED)
signal.sigwait([signal.SIGTERM])
api.stop()
"""


def test_tailscale_identity_reaches_tailscaleds_socket_from_the_sandbox(
    machine: Machine,
) -> None:
    """--identity tailscale under DynamicUser and ProtectSystem=strict: the login is identified
    by WhoIs over /var/run/tailscale/tailscaled.sock (a stand-in of tailscaled's LocalAPI, run
    by root like tailscaled), with no extra setting in the unit."""
    prepare(machine)
    machine.write("/usr/local/lib/fake-tailscaled.py", STAND_IN)
    machine.exec(
        [
            "systemd-run", "--unit", "fake-tailscaled", "-p", "Type=exec",
            "-p", "RuntimeDirectory=tailscale", "-p", "RuntimeDirectoryMode=0755",
            sys.executable, "/usr/local/lib/fake-tailscaled.py",
        ]
    )  # fmt: skip
    machine.wait_for("test -S /run/tailscale/tailscaled.sock")
    machine.exec([SERVER, "install-unit", "--identity", "tailscale", "--new-keys"])
    start(machine)
    assert probe(machine, "health")["body"]["identity"] == "tailscale"
    login = probe(machine, "tslogin", "127.0.0.2")
    assert login["status"] == 200, login
    assert login["body"]["data"]["user"]["email"] == "alice@example.com"
    # An address tailscaled does not know is no one.
    stranger = probe(machine, "tslogin", "127.0.0.3")
    assert stranger["status"] == 401, stranger
    assert stranger["body"]["error"]["code"] == "not_a_tailnet_peer"


QUADLET = Path(__file__).resolve().parents[2] / "server" / "container" / "leger-server.container"


def test_quadlet_generates_a_unit_that_verifies(machine: Machine) -> None:
    """The quadlet in server/container/ is read by podman 5's own generator (no image is
    built here: there is no registry for its python base image)."""
    machine.write("/etc/containers/systemd/leger-server.container", QUADLET.read_text())
    dry = machine.exec(["/usr/libexec/podman/quadlet", "-dryrun"], check=False)
    assert dry.returncode == 0, dry.stderr
    assert "leger-server.service" in dry.stdout, dry.stdout + dry.stderr
    assert "--network host" in dry.stdout and "--read-only" in dry.stdout
    assert "--secret leger-server-jwt-secret,type=env,target=LEGER_SERVER_JWT_SECRET" in dry.stdout
    machine.systemctl("daemon-reload")
    unit = machine.systemctl("cat", "leger-server.service").stdout
    assert "ExecStart=/usr/bin/podman run" in unit
    generated = "/run/systemd/generator/leger-server.service"
    verify = machine.exec(["systemd-analyze", "verify", generated], check=False)
    assert verify.returncode == 0, verify.stderr
    assert "leger-server.service" not in verify.stderr, verify.stderr
