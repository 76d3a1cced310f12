"""The env file strategy with a real container: podman --env-file reads exactly what fetch wrote,
and no process ever has a value in its arguments."""

import pytest

from leger_testkit.podman import ArgvWatch

pytestmark = pytest.mark.podman

# Characters an env file must carry verbatim: '=', '#', quotes inside, '$', spaces inside, UTF-8.
VALUE = "sk-envfile=VALUE #1 'q' \"d\" $HOME ü-end"


def test_container_sees_the_exact_value_and_no_argv_holds_it(
    leger_home, secrets_in_legerd, podman_env
):
    leger_home.write_config({"services": {"openwebui": {"env": {"OPENAI_API_KEY": "team/openai"}}}})
    secrets_in_legerd("team/openai", VALUE)
    with ArgvWatch([VALUE.encode(), b"sk-envfile"]) as watch:
        fetch = leger_home.run_text("secrets", "fetch", "openwebui")
        assert fetch.returncode == 0, fetch.stderr
        path = leger_home.env_file("openwebui")
        out = podman_env.run_container(["--env-file", str(path)], 'printf "[%s]" "$OPENAI_API_KEY"')
        assert leger_home.run_text("secrets", "clean", "openwebui").returncode == 0
    assert out.stdout.decode() == f"[{VALUE}]"
    assert watch.hits == [] and watch.scans > 10
    assert any(b"podman" in c for c in watch.commands)
    assert not path.exists()


def test_what_podman_inspect_shows(leger_home, secrets_in_legerd, podman_env):
    """docs/strategies.md: podman copies --env-file into the container's config, so the value
    is in Config.Env from the moment the container is created (to the user who owns it)."""
    leger_home.write_config({"services": {"openwebui": {"env": {"OPENAI_API_KEY": "team/openai"}}}})
    secrets_in_legerd("team/openai", "sk-inspect-envfile-42")
    assert leger_home.run_text("secrets", "fetch", "openwebui").returncode == 0
    name = "leger-envfile-inspect"
    path = leger_home.env_file("openwebui")
    podman_env.run(["create", "--name", name, "--env-file", str(path), podman_env.image, "true"])
    try:
        assert (
            "OPENAI_API_KEY=sk-inspect-envfile-42"
            in podman_env.run(["inspect", name]).stdout.decode()
        )
    finally:
        podman_env.run(["rm", "-f", name])
