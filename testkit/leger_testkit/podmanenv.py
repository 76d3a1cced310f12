"""Podman as this machine runs it (podman 4.3): runc, lowered ulimits, a private storage root
and a busybox image imported from a local rootfs (there is no registry). Used by the test
fixtures (:mod:`leger_testkit.podman`), the demo and the benchmarks; nothing here touches the
machine's own containers, images or secrets.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from leger_testkit.procs import stop

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
        data = json.loads(self.run(["secret", "inspect", name]).stdout)
        assert isinstance(data, list) and len(data) == 1
        result: dict[str, object] = data[0]
        return result

    def secret_names(self) -> list[str]:
        out = self.run(["secret", "ls", "--format", "{{.Name}}"]).stdout.decode()
        return sorted(out.split())

    def close(self) -> None:
        for proc in self._services:  # only the services this fixture started, by PID
            stop(proc)


def podman_missing() -> str | None:
    for tool in ("podman", "runc", "tar"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install podman runc busybox-static)"
    if not busybox_path():
        return "busybox-static is not installed (/bin/busybox)"
    return None


def busybox_path() -> str | None:
    for candidate in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.exists(candidate):
            return candidate
    return None
