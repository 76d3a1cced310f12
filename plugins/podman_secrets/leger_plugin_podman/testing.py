"""Pytest fixtures for tests that run real containers (entry point ``pytest11``).

Podman 4.3 here needs runc and lowered ulimits (crun fails on hybrid cgroups), and there is no
registry: the image is imported from a busybox rootfs. ``podman_env`` prepares all of that once
per session in a private storage root, so tests never touch the machine's containers, images or
secrets:

* ``podman_env.run(["secret", "ls"])`` runs podman with the private config and storage;
* ``podman_env.run_container(["--secret", "s,type=env,target=X"], "printf %s \\"$X\\"")``
  runs ``sh -c SCRIPT`` in the test image (``--rm --network none`` unless told otherwise);
* ``podman_env.service()`` starts ``podman system service`` on a private socket (once; pass
  ``env=`` for a private one with another environment, stopped at session end) and returns
  its ``unix://`` URL;
* ``podman_env.env`` is the environment for anything else that must see the same podman.

Tests using these are marked ``podman``; when podman or runc is missing they fail (CI installs
them) rather than skip quietly.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

IMAGE = "localhost/leger-test:latest"

CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
"""


class PodmanEnv:
    """Podman with a private storage root, runc, and the busybox test image."""

    image = IMAGE

    def __init__(self, root: Path) -> None:
        self.root = root
        self._services: list[subprocess.Popen[bytes]] = []
        self._default_service: str | None = None
        conf = root / "containers.conf"
        conf.write_text(CONTAINERS_CONF)
        storage = root / "storage.conf"
        storage.write_text(
            "[storage]\n"
            'driver = "overlay"\n'
            f'graphroot = "{root / "graph"}"\n'
            f'runroot = "{root / "run"}"\n'
        )
        self.containers_conf = conf
        # Leger run by podman (the shell driver, from the API service) must not touch the real
        # home: give it private XDG directories and an empty config.
        leger_home = root / "leger-home"
        (leger_home / "config").mkdir(parents=True)
        (leger_home / "config" / "config.toml").write_text("")
        self.env: dict[str, str] = {
            **os.environ,
            "CONTAINERS_CONF": str(conf),
            "CONTAINERS_STORAGE_CONF": str(storage),
            "XDG_CONFIG_HOME": str(leger_home / "config"),
            "XDG_CACHE_HOME": str(leger_home / "cache"),
            "XDG_STATE_HOME": str(leger_home / "state"),
            "LEGER_CONFIG": str(leger_home / "config" / "config.toml"),
        }
        self.env.pop("CONTAINER_HOST", None)

    def run(
        self,
        args: Sequence[str],
        *,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(
            ["podman", *args],
            input=input,
            env={**self.env, **(env or {})},
            capture_output=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"podman {' '.join(args)} exited {proc.returncode}: "
                f"{proc.stderr.decode(errors='replace').strip()}"
            )
        return proc

    def run_container(
        self,
        run_args: Sequence[str],
        script: str,
        *,
        network: str = "none",
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        """``podman run --rm --network NETWORK RUN_ARGS IMAGE sh -c SCRIPT``."""
        return self.run(
            ["run", "--rm", f"--network={network}", *run_args, self.image, "sh", "-c", script],
            env=env,
            check=check,
        )

    def import_image(self, busybox: str) -> None:
        rootfs = self.root / "rootfs"
        (rootfs / "bin").mkdir(parents=True)
        for d in ("etc", "tmp", "run", "proc", "sys", "dev"):
            (rootfs / d).mkdir()
        (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        shutil.copy2(busybox, rootfs / "bin" / "busybox")
        applets = subprocess.run(
            [busybox, "--list"], capture_output=True, text=True, check=True
        ).stdout.split()
        for applet in applets:
            if applet != "busybox":
                (rootfs / "bin" / applet).symlink_to("busybox")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        try:
            self.run(["import", "-", self.image], input=tar.communicate()[0])
        finally:
            tar.wait()

    def service(self, env: Mapping[str, str] | None = None) -> str:
        """The ``unix://`` URL of a running ``podman system service``. Without ``env`` one
        shared service; with ``env`` a new one whose shell-driver commands see that env."""
        if env is None and self._default_service is not None:
            return self._default_service
        path = self.root / f"api-{len(self._services)}.sock"
        with open(self.root / f"api-{len(self._services)}.log", "wb") as log:
            proc = subprocess.Popen(
                ["podman", "system", "service", "--time=0", f"unix://{path}"],
                env={**self.env, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._services.append(proc)
        deadline = time.monotonic() + 20
        while not path.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"podman system service did not start (see {log.name})")
            time.sleep(0.02)
        url = f"unix://{path}"
        if env is None:
            self._default_service = url
        return url

    def secret_inspect(self, name: str) -> dict[str, object]:
        import json

        data = json.loads(self.run(["secret", "inspect", name]).stdout)
        assert isinstance(data, list) and len(data) == 1
        result: dict[str, object] = data[0]
        return result

    def secret_names(self) -> list[str]:
        out = self.run(["secret", "ls", "--format", "{{.Name}}"]).stdout.decode()
        return sorted(out.split())

    def close(self) -> None:
        for proc in self._services:  # only the services this fixture started, by PID
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


class LegerHome:
    """A private home for ``leger`` run as a real process next to a real legerd."""

    def __init__(self, root: Path, legerd_env: Mapping[str, str], plugins: str) -> None:
        import sys

        self.root = root
        root.mkdir()
        self.runtime = root / "run"
        self.runtime.mkdir(mode=0o700)
        self.config = root / "config.toml"
        self.config.write_text("")
        self.leger = str(Path(sys.executable).parent / "leger")
        self.env = {
            **os.environ,
            "HOME": str(root / "home"),
            "XDG_CONFIG_HOME": str(root / "home/.config"),
            "XDG_CACHE_HOME": str(root / "home/.cache"),
            "XDG_STATE_HOME": str(root / "home/.local/state"),
            "XDG_RUNTIME_DIR": str(self.runtime),
            "LEGER_CONFIG": str(self.config),
            "LEGER_LOAD_PLUGINS": plugins,
            **legerd_env,
        }
        self.env.pop("LEGER_NO_FAST", None)

    def write_config(self, data: Mapping[str, object]) -> None:
        import tomli_w

        self.config.write_text(tomli_w.dumps(dict(data)))

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, input: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [self.leger, *args],
            env={**self.env, **(env or {})},
            input=input,
            capture_output=True,
            timeout=60,
        )


@pytest.fixture
def leger_home(tmp_path: Path, legerd_daemon: object) -> LegerHome:
    """``leger`` as a process: private XDG dirs, a config file, ``LEGERD_SOCKET`` of
    ``legerd_daemon``; ``.run(*args, env=, input=)`` returns bytes output."""
    env: Mapping[str, str] = legerd_daemon.env  # type: ignore[attr-defined]
    return LegerHome(tmp_path / "leger-home", env, "envfile,setec,podman,initscript")


def podman_missing() -> str | None:
    for tool in ("podman", "runc", "tar"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install podman runc busybox-static)"
    if not _busybox():
        return "busybox-static is not installed (/bin/busybox)"
    return None


def _busybox() -> str | None:
    for candidate in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.exists(candidate):
            return candidate
    return None


@pytest.fixture(scope="session")
def podman_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodmanEnv]:
    missing = podman_missing()
    if missing:
        pytest.fail(f"podman tests need real podman: {missing}")
    root = tmp_path_factory.mktemp("podman")
    env = PodmanEnv(root)
    try:
        busybox = _busybox()
        assert busybox is not None
        env.import_image(busybox)
        yield env
    finally:
        env.close()
        # Containers are --rm; remove any a failed test left so no overlay stays mounted.
        # (Never `podman system reset`: it would also drop the machine's networks.)
        subprocess.run(["podman", "rm", "-af"], env=env.env, capture_output=True, timeout=60)
