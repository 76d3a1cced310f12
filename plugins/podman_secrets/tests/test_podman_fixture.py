"""The podman fixture itself: the imported image runs a container with runc."""

import pytest

pytestmark = pytest.mark.podman


def test_image_runs_a_container(podman_env):
    out = podman_env.run_container([], "printf '%s' hello; wget --help >/dev/null 2>&1; echo $?")
    assert out.stdout.decode().startswith("hello")


def test_shared_service_answers(podman_env):
    from podman import PodmanClient

    url = podman_env.service()
    with PodmanClient(base_url=url) as client:
        assert client.ping()
