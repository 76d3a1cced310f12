"""The init script renders names only and, in a real busybox container, fetches the values from
a real legerd over TCP with a bearer token, then execs the command."""

import os
import re
import stat
import subprocess

import pytest

from leger_core.errors import InvalidInputError
from leger_core.models import SecretValue
from leger_core.testing import InjectorConformance
from leger_plugin_initscript.injector import InitScriptInjector
from leger_plugin_initscript.render import SCRIPT_PATH_IN_CONTAINER, render_script
from leger_testkit.podman import ArgvWatch

VALUE = "sk-init-VALUE-\"quoted\"\\back $HOME 'single'"


def put(daemon, name, value):
    with daemon.client() as client:
        client.activate(name, client.put(name, SecretValue(value)))


def run_with_script(podman_env, daemon, script_path, command, token_file=None):
    args = [
        "--network=host",
        "-v", f"{script_path}:{SCRIPT_PATH_IN_CONTAINER}:ro",
        "-v", f"{token_file or daemon.token_file}:/run/secrets/leger_token:ro",
        "-e", f"LEGERD_ADDR={daemon.addr}",
        "--entrypoint", SCRIPT_PATH_IN_CONTAINER,
    ]  # fmt: skip
    return podman_env.run(
        ["run", "--rm", *args, podman_env.image, "sh", "-c", command], check=False
    )


def test_script_holds_names_only_and_is_posix_sh(tmp_path):
    script = render_script("web", [("OPENAI_API_KEY", "leger/u/openai_api_key")])
    assert "leger/u/openai_api_key" in script and "OPENAI_API_KEY" in script
    path = tmp_path / "s.sh"
    path.write_text(script)
    for shell in ("/bin/busybox", "/bin/dash"):
        if os.path.exists(shell):
            args = (
                [shell, "sh", "-n", str(path)] if "busybox" in shell else [shell, "-n", str(path)]
            )
            assert subprocess.run(args, capture_output=True).returncode == 0


def test_bad_names_are_refused():
    with pytest.raises(InvalidInputError):
        render_script("web", [("BAD NAME", "x")])
    with pytest.raises(InvalidInputError):
        render_script("web", [("OK", "x'; rm -rf /")])
    with pytest.raises(InvalidInputError):
        render_script("web", [("leger_token", "x")])
    with pytest.raises(InvalidInputError):
        render_script("../web", [])


@pytest.mark.podman
def test_container_gets_the_exact_values_and_runs_its_command(tcp_legerd, podman_env, tmp_path):
    put(tcp_legerd, "app/key", VALUE + "\n\n")
    put(tcp_legerd, "app/other", "second-value-7f3")
    script = tmp_path / "web.sh"
    script.write_text(render_script("web", [("APP_KEY", "app/key"), ("OTHER", "app/other")]))
    script.chmod(0o755)
    token = tcp_legerd.token_file.read_bytes()
    with ArgvWatch([VALUE.encode(), b"second-value-7f3", token]) as watch:
        proc = run_with_script(
            podman_env, tcp_legerd, script,
            'printf "[%s][%s]" "$APP_KEY" "$OTHER"; env | grep -c "^leger_"; '
            'ls /tmp | wc -l; echo "$0 $1"',
        )  # fmt: skip
    assert watch.hits == [] and watch.scans > 10
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode() == f"[{VALUE}\n\n][second-value-7f3]0\n0\nsh \n"
    assert VALUE not in tcp_legerd.output()


@pytest.mark.podman
def test_podman_inspect_shows_no_value(tcp_legerd, podman_env, tmp_path):
    """docs/strategies.md: the value exists only inside the started container; its config
    holds LEGERD_ADDR and the token is a mounted file, so inspect shows neither value."""
    put(tcp_legerd, "app/key", "sk-inspect-init-77")
    script = tmp_path / "web.sh"
    script.write_text(render_script("web", [("APP_KEY", "app/key")]))
    script.chmod(0o755)
    expected = tmp_path / "expected"  # compared inside, so the value is in no argument
    expected.write_text("sk-inspect-init-77")
    name = "leger-initscript-inspect"
    podman_env.run([
        "create", "--name", name, "--network=host",
        "-v", f"{script}:{SCRIPT_PATH_IN_CONTAINER}:ro",
        "-v", f"{tcp_legerd.token_file}:/run/secrets/leger_token:ro",
        "-v", f"{expected}:/expected:ro",
        "-e", f"LEGERD_ADDR={tcp_legerd.addr}", "--entrypoint", SCRIPT_PATH_IN_CONTAINER,
        podman_env.image, "sh", "-c", 'test "$APP_KEY" = "$(cat /expected)"',
    ])  # fmt: skip
    try:
        started = podman_env.run(["start", "--attach", name], check=False)
        assert started.returncode == 0, started.stderr  # the container did get the value
        inspect = podman_env.run(["inspect", name]).stdout.decode()
        assert "sk-inspect-init-77" not in inspect
        assert f"LEGERD_ADDR={tcp_legerd.addr}" in inspect
        assert tcp_legerd.token_file.read_text().strip() not in inspect
    finally:
        podman_env.run(["rm", "-f", name])


@pytest.mark.podman
def test_rotation_reaches_the_next_start(tcp_legerd, podman_env, tmp_path):
    put(tcp_legerd, "app/key", "first")
    script = tmp_path / "web.sh"
    script.write_text(render_script("web", [("APP_KEY", "app/key")]))
    script.chmod(0o755)
    assert run_with_script(podman_env, tcp_legerd, script, 'printf "$APP_KEY"').stdout == b"first"
    put(tcp_legerd, "app/key", "second")
    assert run_with_script(podman_env, tcp_legerd, script, 'printf "$APP_KEY"').stdout == b"second"


@pytest.mark.podman
@pytest.mark.parametrize(
    ("name", "token", "expect"),
    [("app/missing", None, "404"), ("team/forbidden", None, "403"), ("app/key", "wrong", "403")],
)
def test_failures_stop_the_container_naming_the_secret(
    tcp_legerd, podman_env, tmp_path, name, token, expect
):
    put(tcp_legerd, "app/key", "v")
    put(tcp_legerd, "team/forbidden", "v")
    script = tmp_path / "web.sh"
    script.write_text(render_script("web", [("K", name)]))
    script.chmod(0o755)
    token_file = None
    if token:
        token_file = tmp_path / "bad-token"
        token_file.write_text(token)
    proc = run_with_script(podman_env, tcp_legerd, script, "echo RAN", token_file)
    assert proc.returncode != 0 and b"RAN" not in proc.stdout
    assert f"answered {expect} for {name} (K)".encode() in proc.stderr


@pytest.mark.podman
def test_legerd_unreachable_stops_the_container(tcp_legerd, podman_env, tmp_path):
    script = tmp_path / "web.sh"
    script.write_text(render_script("web", [("K", "app/key")]))
    script.chmod(0o755)
    tcp_legerd.stop()
    proc = run_with_script(podman_env, tcp_legerd, script, "echo RAN")
    assert proc.returncode != 0 and b"RAN" not in proc.stdout
    assert b"cannot reach legerd" in proc.stderr


def test_token_never_in_an_argument(tmp_path):
    """The token and values travel through builtins and pipes: no external command gets them as
    arguments (busybox wget would need --header 'Authorization: …')."""
    script = render_script("web", [("K", "app/key")])
    for line in script.splitlines():
        if "leger_token" in line and not line.lstrip().startswith("#"):
            assert re.search(r"\b(wget|curl|nc)\b.*leger_token", line) is None, line


def test_inject_initscript_command_writes_script_and_prints_quadlet_lines(leger_home):
    leger_home.write_config(
        {
            "secrets": {"prefix": "leger/u1/"},
            "services": {"openwebui": {"secrets": ["openai_api_key"]}},
        }
    )
    proc = leger_home.run(
        "inject", "initscript", "openwebui", "--legerd-addr", "10.0.2.2:8080",
        "--command", "/app/start.sh",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    path = re.search(r"Wrote (\S+) ", out).group(1)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o755
    with open(path) as fh:
        assert "leger/u1/openai_api_key" in fh.read()
    assert f"Volume={path}:{SCRIPT_PATH_IN_CONTAINER}:ro" in out
    assert f"PodmanArgs=--entrypoint {SCRIPT_PATH_IN_CONTAINER}" in out
    assert "Exec=/app/start.sh" in out and "Environment=LEGERD_ADDR=10.0.2.2:8080" in out
    assert "Secret=leger-token-openwebui,type=mount,target=leger_token" in out


@pytest.mark.podman
class TestInitScriptInjectorConformance(InjectorConformance):
    @pytest.fixture
    def injector(self, tcp_legerd, tmp_path, monkeypatch):
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
        return InitScriptInjector(client=tcp_legerd.client())

    @pytest.fixture
    def delivered(self, injector, tcp_legerd, podman_env):
        from leger_plugin_initscript.injector import script_path

        def read(service):
            path = script_path(service)
            if not path.exists():
                return None
            envs = re.findall(r"^leger_get (\w+) ", path.read_text(), re.M)
            command = "".join(f'printf "%s=[%s]\\n" {e} "${e}"; ' for e in envs)
            proc = run_with_script(podman_env, tcp_legerd, path, command)
            assert proc.returncode == 0, proc.stderr
            result = {}
            for line in proc.stdout.decode().splitlines():
                key, _, rest = line.partition("=")
                result[key] = rest[1:-1].encode()
            return result

        return read
