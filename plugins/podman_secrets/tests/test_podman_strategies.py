"""The podman and driver strategies, proven with real containers (podman 4.3 + runc)."""

import shutil

import pytest

from leger_core.models import SecretValue
from leger_core.testing import InjectorConformance
from leger_plugin_podman.injectors import DriverInjector, PodmanInjector, podman_secret_name
from leger_testkit.podman import ArgvWatch

pytestmark = pytest.mark.podman

VALUE = "sk-podman-strategy-VALUE-42"


def put(legerd_daemon, name, value):
    with legerd_daemon.client() as client:
        client.activate(name, client.put(name, SecretValue(value)))


@pytest.fixture
def openwebui(leger_home, legerd_daemon, podman_env):
    leger_home.write_config(
        {
            "secrets": {"prefix": "leger/u1/"},
            "services": {"openwebui": {"secrets": ["openai_api_key"]}},
            "podman": {"socket": podman_env.service()},
        }
    )
    put(legerd_daemon, "leger/u1/openai_api_key", VALUE)
    yield leger_home
    for name in podman_env.secret_names():
        if name.startswith("openwebui_"):
            podman_env.run(["secret", "rm", name])


def env_of(podman_env, leger_home, service, envs):
    args = []
    for env in envs:
        args += ["--secret", f"{podman_secret_name(service, env)},type=env,target={env}"]
    script = "".join(f'printf "%s=[%s]\\n" {e} "${e}"; ' for e in envs)
    out = podman_env.run_container(args, script, env=leger_home.env)
    return out.stdout.decode()


def test_inject_podman_creates_secrets_a_container_reads(openwebui, podman_env):
    with ArgvWatch([VALUE.encode()]) as watch:
        proc = openwebui.run("inject", "podman", "openwebui")
        out = env_of(podman_env, openwebui, "openwebui", ["OPENAI_API_KEY"])
    assert watch.hits == []
    assert proc.returncode == 0, proc.stderr
    assert b"Secret=openwebui_openai_api_key,type=env,target=OPENAI_API_KEY" in proc.stdout
    assert VALUE.encode() not in proc.stdout + proc.stderr
    assert out == f"OPENAI_API_KEY=[{VALUE}]\n"
    inspect = podman_env.secret_inspect("openwebui_openai_api_key")
    assert VALUE not in str(inspect)
    assert inspect["Spec"]["Driver"]["Name"] == "file"


def test_inject_podman_leaves_unchanged_values_alone_and_replaces_changed(
    openwebui, podman_env, legerd_daemon
):
    assert openwebui.run("inject", "podman", "openwebui").returncode == 0
    first = podman_env.secret_inspect("openwebui_openai_api_key")
    again = openwebui.run("inject", "podman", "openwebui")
    assert b"unchanged: OPENAI_API_KEY" in again.stdout
    assert podman_env.secret_inspect("openwebui_openai_api_key")["ID"] == first["ID"]
    put(legerd_daemon, "leger/u1/openai_api_key", "sk-rotated")
    changed = openwebui.run("inject", "podman", "openwebui")
    assert b"replaced: OPENAI_API_KEY" in changed.stdout, changed.stdout
    assert podman_env.secret_inspect("openwebui_openai_api_key")["ID"] != first["ID"]
    out = env_of(podman_env, openwebui, "openwebui", ["OPENAI_API_KEY"])
    assert out == "OPENAI_API_KEY=[sk-rotated]\n"


def test_inject_podman_refuses_a_secret_it_did_not_make(openwebui, podman_env):
    podman_env.run(["secret", "create", "openwebui_openai_api_key", "-"], input=b"theirs")
    proc = openwebui.run("inject", "podman", "openwebui")
    assert proc.returncode == 8 and b"not made by Leger" in proc.stderr


def test_podman_api_down_is_a_clear_error(openwebui):
    openwebui.write_config(
        {
            "services": {"openwebui": {"secrets": ["key"]}},
            "secrets": {"prefix": "leger/u1/openai_api_"},
            "podman": {"socket": "unix:///nonexistent/podman.sock"},
        }
    )
    proc = openwebui.run("inject", "podman", "openwebui")
    assert proc.returncode == 5 and b"podman's API is not reachable" in proc.stderr


def test_driver_rotation_reaches_the_next_start_without_a_new_podman_secret(
    openwebui, podman_env, legerd_daemon
):
    with ArgvWatch([VALUE.encode(), b"sk-rotated"]) as watch:
        _driver_rotation(openwebui, podman_env, legerd_daemon)
    assert watch.hits == [] and watch.scans > 10


def _driver_rotation(openwebui, podman_env, legerd_daemon):
    proc = openwebui.run("inject", "driver", "openwebui")
    assert proc.returncode == 0, proc.stderr
    before = podman_env.secret_inspect("openwebui_openai_api_key")
    assert before["Spec"]["Driver"]["Name"] == "shell"
    assert env_of(podman_env, openwebui, "openwebui", ["OPENAI_API_KEY"]) == (
        f"OPENAI_API_KEY=[{VALUE}]\n"
    )
    put(legerd_daemon, "leger/u1/openai_api_key", "sk-rotated-in-legerd")
    assert env_of(podman_env, openwebui, "openwebui", ["OPENAI_API_KEY"]) == (
        "OPENAI_API_KEY=[sk-rotated-in-legerd]\n"
    )
    again = openwebui.run("inject", "driver", "openwebui")
    assert b"unchanged: OPENAI_API_KEY" in again.stdout
    after = podman_env.secret_inspect("openwebui_openai_api_key")
    assert (after["ID"], after["CreatedAt"]) == (before["ID"], before["CreatedAt"])
    # podman keeps only the reference; the value is in legerd
    assert VALUE not in str(after) and "sk-rotated" not in str(after)
    assert "sk-rotated" not in legerd_daemon.output()
    for log in podman_env.root.glob("api-*.log"):
        assert VALUE not in log.read_text(errors="replace")


def test_podman_secret_create_with_the_installed_driver(leger_home, podman_env, legerd_daemon):
    """The user's path: `leger driver install`, then plain `podman secret create --driver shell`."""
    conf = leger_home.root / "containers.conf"
    shutil.copy(podman_env.containers_conf, conf)
    assert leger_home.run("driver", "install", "--path", str(conf)).returncode == 0
    env = {**leger_home.env, "CONTAINERS_CONF": str(conf)}
    podman_env.run(
        ["secret", "create", "--driver", "shell", "userkey", "-"], input=b"typed-value", env=env
    )
    try:
        out = podman_env.run_container(
            ["--secret", "userkey,type=env,target=K"], 'printf "[%s]" "$K"', env=env
        )
        assert out.stdout == b"[typed-value]"
        mount = podman_env.run_container(
            ["--secret", "userkey"], "cat /run/secrets/userkey", env=env
        )
        assert mount.stdout == b"typed-value"
        with legerd_daemon.client() as client:
            sid = podman_env.secret_inspect("userkey")["ID"]
            assert client.get(f"leger-driver/{sid}").reveal() == b"typed-value"
    finally:
        podman_env.run(["secret", "rm", "userkey"], env=env)
    with legerd_daemon.client() as client:
        assert not [i for i in client.list() if i.name.startswith("leger-driver/")]


class _PodmanConformance(InjectorConformance):
    service = "conformance-svc"

    @pytest.fixture
    def delivered(self, podman_env, leger_home, injector):
        def read(service):
            infos = injector.store.labelled("leger.service", service)
            if not infos:
                return None
            envs = sorted(i["Spec"]["Labels"]["leger.env"] for i in infos)
            out = env_of(podman_env, leger_home, service, envs)
            result = {}
            for line in out.splitlines():
                key, _, rest = line.partition("=")
                result[key] = rest[1:-1].encode()
            return result

        yield read
        injector.remove(self.service)


class TestPodmanInjectorConformance(_PodmanConformance):
    @pytest.fixture
    def injector(self, podman_env, leger_home, monkeypatch):
        monkeypatch.setenv("XDG_STATE_HOME", leger_home.env["XDG_STATE_HOME"])
        return PodmanInjector(url=podman_env.service())


class TestDriverInjectorConformance(_PodmanConformance):
    @pytest.fixture
    def injector(self, podman_env, leger_home, monkeypatch):
        for key in ("XDG_STATE_HOME", "LEGERD_SOCKET", "LEGER_CONFIG"):
            monkeypatch.setenv(key, leger_home.env[key])
        return DriverInjector(url=podman_env.service())


def test_driver_lookup_failure_stops_the_container(openwebui, podman_env, legerd_daemon):
    assert openwebui.run("inject", "driver", "openwebui").returncode == 0
    legerd_daemon.stop()
    try:
        args = ["--secret", "openwebui_openai_api_key,type=env,target=K"]
        proc = podman_env.run_container(args, "echo RAN", env=openwebui.env, check=False)
        assert proc.returncode != 0 and b"RAN" not in proc.stdout
    finally:
        legerd_daemon.start()  # so the podman secret can be removed (its driver asks legerd)


def test_what_podman_inspect_shows(openwebui, podman_env):
    """docs/strategies.md: env secrets appear in Config.Env only once the container started;
    a mount secret never does."""
    assert openwebui.run("inject", "driver", "openwebui").returncode == 0
    name = "leger-inspect-probe"
    env_args = ["--secret", "openwebui_openai_api_key,type=env,target=K"]
    podman_env.run(["create", "--name", name, *env_args, podman_env.image, "true"])
    try:
        assert VALUE not in podman_env.run(["inspect", name]).stdout.decode()
        podman_env.run(["start", "--attach", name], env=openwebui.env)
        assert f"K={VALUE}" in podman_env.run(["inspect", name]).stdout.decode()
    finally:
        podman_env.run(["rm", "-f", name])
    mount_args = ["--secret", "openwebui_openai_api_key"]
    podman_env.run(
        ["create", "--name", name, *mount_args, podman_env.image, "true"], env=openwebui.env
    )
    try:
        podman_env.run(["start", "--attach", name], env=openwebui.env)
        assert VALUE not in podman_env.run(["inspect", name]).stdout.decode()
    finally:
        podman_env.run(["rm", "-f", name])


@pytest.mark.parametrize("strategy", ["podman", "driver"])
def test_a_service_whose_podman_secret_name_podman_refuses_is_refused_before_anything_is_made(
    strategy, leger_home, legerd_daemon, podman_env
):
    """``web@1`` is a Leger service name (a systemd template instance) but podman refuses the
    derived ``web@1_openai_api_key``: the strategy says so, names the rule and the way out,
    and neither podman nor legerd is changed."""
    leger_home.write_config(
        {
            "secrets": {"prefix": "leger/u1/"},
            "services": {"web@1": {"secrets": ["openai_api_key"]}},
            "podman": {"socket": podman_env.service()},
        }
    )
    put(legerd_daemon, "leger/u1/openai_api_key", VALUE)
    before = podman_env.secret_names()
    with legerd_daemon.client() as client:
        legerd_before = sorted(s.name for s in client.list())
    proc = leger_home.run("inject", strategy, "web@1")
    assert proc.returncode == 7, proc.stderr
    err = proc.stderr.decode()
    assert "podman would refuse the secret name 'web@1_openai_api_key'" in err
    assert "1 to 64 letters, digits, '_', '.' and '-'" in err
    assert "Secret=NAME,type=env,target=OPENAI_API_KEY" in err
    assert VALUE not in err
    assert podman_env.secret_names() == before
    with legerd_daemon.client() as client:
        assert sorted(s.name for s in client.list()) == legerd_before
    # podman itself refuses that name: the rule is podman's, not a guess.
    own = podman_env.run(["secret", "create", "web@1_openai_api_key", "-"], input=b"x", check=False)
    assert own.returncode != 0 and b"invalid secret name" in own.stderr
    assert podman_env.secret_names() == before


def test_replace_falls_back_to_remove_and_create_on_a_podman_without_it(podman_env):
    """podman 4.3 ignores ``replace`` on create (answers "name in use"): the store learns that
    once and removes and creates instead; the new value and labels are what podman holds.
    (podman 5's own replace is used under real systemd: tests/systemd/test_deploy_systemd.py.)"""
    from leger_plugin_podman.store import PodmanSecretStore

    store = PodmanSecretStore(podman_env.service())
    name = "leger_replace_probe"
    try:
        store.create(name, b"one", {"leger.digest": "a"})
        store.replace(name, b"two", {"leger.digest": "b"})
        version = podman_env.run(["version", "--format", "{{.Server.Version}}"]).stdout
        if version.decode().startswith("4.3."):
            assert store.can_replace is False
        assert podman_env.secret_inspect(name)["Spec"]["Labels"] == {"leger.digest": "b"}  # type: ignore[index]
        store.replace(name, b"three", {"leger.digest": "c"})  # asks podman nothing new
        out = podman_env.run_container(["--secret", f"{name},type=env,target=V"], 'printf %s "$V"')
        assert out.stdout == b"three"
    finally:
        store.remove(name)
        store.close()
