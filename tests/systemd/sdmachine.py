"""A machine with real systemd (Debian 13: systemd 257 as PID 1, podman 5 with its quadlet
generator), booted inside a podman container. Standard library only: the tests, the demo and
``./dev systemd-shell`` (``python tests/systemd/sdmachine.py shell``) use it.

Never run systemd on the machine itself (it takes over every cgroup of the host): here it only
ever runs as PID 1 of a container. What it proves: docs/strategies.md, "Under real systemd".

* :func:`ensure_rootfs` builds the root filesystem once with debootstrap (from the mirror this
  machine's apt uses), configured for systemd-in-podman, and caches it outside the repo under a
  key made of its package list and set-up steps;
* :class:`Machine` boots it on a throw-away overlay (``--rootfs DIR:O``) with a unique name,
  bind-mounts the checkout and the Python that runs it (read-only, at the same paths), runs
  commands in it, collects its journal, and always tears it down, including the empty
  ``libpod-<id>`` cgroups a container leaves on a cgroup-v1 host.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

SUITE = "trixie"
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "libpam-systemd",  # pam_systemd: a lingering user's systemd --user needs it
    "podman",
    "crun",
    "nftables",
    "busybox-static",
    "python3",
    "python3-venv",
)
# A user whose `systemd --user` runs lingering (loginctl enable-linger) inside the machine.
USER = "leger"
USER_UID = 1000
IMAGE = "localhost/busybox:latest"
# The running venv's commands: inside the machine at the same paths (see checkout_binds).
LEGER = str(Path(sys.executable).parent / "leger")
LEGERD = str(Path(sys.executable).parent / "legerd")

# Files written into the root filesystem before the first boot (see ENVIRONMENT.md):
FILES: dict[str, str] = {
    # overlay-in-overlay fails: podman inside uses vfs.
    "etc/containers/storage.conf": (
        '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\n'
        'graphroot = "/var/lib/containers/storage"\n'
    ),
    # without lowered limits: "error setting rlimit type 7: operation not permitted".
    "etc/containers/containers.conf": (
        '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
    ),
    "etc/systemd/system.conf.d/leger-test.conf": (
        "[Manager]\nDefaultEnvironment=PODMAN_IGNORE_CGROUPSV1_WARNING=1\n"
    ),
    "etc/systemd/user.conf.d/leger-test.conf": (
        "[Manager]\nDefaultEnvironment=PODMAN_IGNORE_CGROUPSV1_WARNING=1\n"
    ),
    "etc/hostname": "leger-systemd\n",
}
# Units that cannot work in a container here (no kmod): masked so the state is "running".
MASKED = ("systemd-modules-load.service",)
# Run once inside the new root filesystem (as a plain container, before it is cached).
SETUP_SCRIPT = f"""
set -eu
export PODMAN_IGNORE_CGROUPSV1_WARNING=1
useradd --create-home --uid {USER_UID} --shell /bin/sh {USER}
d=$(mktemp -d)
mkdir -p "$d/bin" "$d/etc" "$d/tmp" "$d/run" "$d/proc" "$d/sys" "$d/dev"
cp /bin/busybox "$d/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$d/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$d/etc/passwd"
tar -C "$d" -c . | podman import - {IMAGE} >/dev/null
rm -rf "$d"
"""
# Bump when the steps above change in a way their text does not show.
SETUP_VERSION = 1

HOST_CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
"""


class MachineError(RuntimeError):
    """The machine could not be built, booted or asked something."""


def missing_tools() -> str | None:
    """Why the machine cannot run here, or None. Only a tool that is truly absent counts."""
    for tool in ("podman", "runc", "debootstrap", "unshare", "tar"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (./dev setup installs it)"
    if os.getuid() != 0:
        return "building and booting the systemd machine needs root (debootstrap, --privileged)"
    return None


def cache_root() -> Path:
    explicit = os.environ.get("LEGER_SYSTEMD_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "leger" / "systemd"


def rootfs_key() -> str:
    recipe = {
        "suite": SUITE,
        "packages": sorted(PACKAGES),
        "files": FILES,
        "masked": MASKED,
        "setup": SETUP_SCRIPT,
        "version": SETUP_VERSION,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def apt_mirror() -> str:
    """The Debian mirror this machine's apt uses (never a hard-coded one)."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and "security" not in parts[1]:
                return parts[1 if not parts[1].startswith("[") else 2]
    raise MachineError("no Debian mirror found in /etc/apt/sources.list.d/debian.sources")


class HostPodman:
    """The host's podman 4.3 with runc, lowered limits and a private storage root, so nothing
    here touches the machine's own containers."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        conf = root / "containers.conf"
        conf.write_text(HOST_CONTAINERS_CONF)
        storage = root / "storage.conf"
        storage.write_text(
            f'[storage]\ndriver = "overlay"\ngraphroot = "{root / "graph"}"\n'
            f'runroot = "{root / "run"}"\n'
        )
        self.env = {
            **os.environ,
            "CONTAINERS_CONF": str(conf),
            "CONTAINERS_STORAGE_CONF": str(storage),
        }
        self.env.pop("CONTAINER_HOST", None)

    def run(
        self, args: Sequence[str], *, check: bool = True, timeout: float = 120, **kw: object
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["podman", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            **kw,  # type: ignore[call-overload]
        )
        if check and proc.returncode != 0:
            raise MachineError(
                f"podman {' '.join(args[:2])} exited {proc.returncode}: {proc.stderr.strip()}"
            )
        result: subprocess.CompletedProcess[str] = proc
        return result


def _log(message: str) -> None:
    print(f"systemd machine: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_rootfs(*, quiet: bool = False) -> Path:
    """The cached root filesystem, built first if needed (about a minute, once per recipe).
    Built in a temporary directory and renamed into place, under a lock, so two test processes
    never build at once and a half-built tree is never used."""
    cache = cache_root()
    final = cache / f"{SUITE}-{rootfs_key()}"
    if final.is_dir():
        os.utime(final)  # in use: see _remove_stale
        return final
    with _lock(cache / ".build.lock"):
        if final.is_dir():
            return final
        if not quiet:
            _log(f"building the Debian {SUITE} root filesystem once into {final} (about a minute)")
        started = time.monotonic()
        tmp = Path(tempfile.mkdtemp(prefix=f".build-{SUITE}-", dir=cache))
        os.chmod(tmp, 0o755)  # it becomes "/": services running as other users chdir into it
        try:
            _debootstrap(tmp)
            _configure(tmp)
            _setup_inside(tmp)
            os.rename(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        if not quiet:
            _log(f"built in {time.monotonic() - started:.0f} s")
        _remove_stale(cache, keep=final)
    return final


def _debootstrap(target: Path) -> None:
    args = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(target),
        apt_mirror(),
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        log = target / "debootstrap" / "debootstrap.log"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else proc.stderr[-3000:]
        raise MachineError(f"debootstrap failed ({proc.returncode}):\n{tail}")


def _configure(root: Path) -> None:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for unit in MASKED:
        link = root / "etc/systemd/system" / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    # apt's cache is of no use in a test machine; it is a third of the size.
    shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)


def _setup_inside(root: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="leger-sd-build-") as tmp:
        podman = HostPodman(Path(tmp))
        cid_file = Path(tmp) / "cid"
        try:
            podman.run(
                [
                    "run",
                    "--rm",
                    "--privileged",
                    "--network=none",
                    f"--cidfile={cid_file}",
                    "--rootfs",
                    str(root),
                    "/bin/sh",
                    "-c",
                    SETUP_SCRIPT,
                ],
                timeout=600,
            )
        finally:
            if cid_file.exists():
                remove_cgroups(cid_file.read_text().strip())


STALE_SECONDS = 2 * 24 * 3600


def _remove_stale(cache: Path, keep: Path) -> None:
    """Root filesystems of other recipes take 400 MB each; one not used for two days goes (a
    recent one may be another checkout's, booted right now). Called under the build lock, so a
    leftover temporary build (``.build-``, ``.wheels-``) is a dead one and goes at once."""
    now = time.time()
    for entry in cache.iterdir():
        if entry == keep or not entry.is_dir():
            continue
        if entry.name.startswith((".build-", ".wheels-")) or (
            entry.name.startswith((f"{SUITE}-", "wheels-"))
            and (now - entry.stat().st_mtime > STALE_SECONDS)
        ):
            shutil.rmtree(entry, ignore_errors=True)


# -- cgroups on a v1 host ---------------------------------------------------------------------

UNMOUNTED_HIERARCHIES = ("net_cls,net_prio", "perf_event", "hugetlb")


def _rmdir_tree(base: Path, cid: str) -> list[str]:
    """rmdir every cgroup directory under ``base`` whose path names ``libpod-<cid>``, deepest
    first. Returns what could not be removed."""
    left: list[str] = []
    for dirpath, _dirs, _files in os.walk(base, topdown=False):
        if f"libpod-{cid}" not in dirpath and f"libpod-conmon-{cid}" not in dirpath:
            continue
        try:
            os.rmdir(dirpath)
        except FileNotFoundError:
            pass
        except OSError as exc:
            left.append(f"{dirpath}: {exc.strerror}")
    return left


def _cgroup_mounts() -> list[Path]:
    mounts = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup":
                mounts.append(Path(fields[4]))
    return mounts


def remove_cgroups(cid: str) -> list[str]:
    """Remove the empty ``libpod-<cid>`` cgroups a stopped container leaves on this cgroup-v1
    host: in every mounted hierarchy, and in the ones the host does not mount (each mounted in
    a private mount namespace, only long enough to rmdir ours). Only this container's."""
    if not re.fullmatch(r"[0-9a-f]{64}", cid):
        raise MachineError(f"not a container id: {cid!r}")
    left: list[str] = []
    for mount in _cgroup_mounts():
        left += _rmdir_tree(mount, cid)
    script = (
        'd=$(mktemp -d); for h in "$@"; do '
        'if mount -t cgroup -o "$h" none "$d" 2>/dev/null; then '
        'find "$d" -depth -type d \\( -path "*libpod-$ID*" -o -path "*libpod-conmon-$ID*" \\) '
        '-exec rmdir {} + 2>/dev/null; umount "$d"; fi; done; rmdir "$d"'
    )
    subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", *UNMOUNTED_HIERARCHIES],
        env={**os.environ, "ID": cid},
        capture_output=True,
        timeout=60,
    )
    return left


def leftover_cgroups(cid: str) -> list[str]:
    """Every cgroup directory that still names the container, in all hierarchies."""
    found = [
        dirpath
        for mount in _cgroup_mounts()
        for dirpath, _dirs, _files in os.walk(mount)
        if f"libpod-{cid}" in dirpath or f"libpod-conmon-{cid}" in dirpath
    ]
    script = (
        'd=$(mktemp -d); for h in "$@"; do '
        'if mount -t cgroup -o "$h" none "$d" 2>/dev/null; then '
        'find "$d" -type d -path "*libpod-*$ID*" -printf "$h:%P\\n"; umount "$d"; fi; done; '
        'rmdir "$d"'
    )
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", *UNMOUNTED_HIERARCHIES],
        env={**os.environ, "ID": cid},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return found + proc.stdout.split()


# -- the running machine ----------------------------------------------------------------------


def python_prefix() -> Path:
    """The installation of the interpreter running this (a venv's base), to bind-mount."""
    return Path(sys.base_prefix)


class Machine:
    """One booted machine. Use as a context manager: it is always torn down."""

    def __init__(
        self,
        rootfs: Path,
        *,
        binds: Sequence[Path] = (),
        name: str | None = None,
    ) -> None:
        self.rootfs = rootfs
        self.name = name or f"leger-sd-{uuid.uuid4().hex[:12]}"
        self.binds = list(binds)
        self._tmp = Path(tempfile.mkdtemp(prefix="leger-sd-"))
        self.podman = HostPodman(self._tmp / "podman")
        self.cid: str | None = None
        self.boot_seconds = 0.0

    # lifecycle

    def boot(self, timeout: float = 60) -> None:
        started = time.monotonic()
        args = [
            "run",
            "-d",
            "--name",
            self.name,
            "--systemd=always",
            "--privileged",
            "--network=none",
            "--hostname",
            "leger-systemd",
        ]
        for path in self.binds:
            args += ["-v", f"{path}:{path}:ro"]
        args += ["--rootfs", f"{self.rootfs}:O", "/lib/systemd/systemd"]
        self.cid = self.podman.run(args).stdout.strip()
        state = self.wait_running(timeout)
        if state != "running":
            failed = self.sh("systemctl --failed --no-legend --plain", check=False).stdout
            raise MachineError(f"the machine booted {state!r}; failed units:\n{failed}")
        self.boot_seconds = time.monotonic() - started

    def wait_running(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            proc = self.exec(
                ["systemctl", "is-system-running", "--wait"], check=False, timeout=timeout
            )
            state = proc.stdout.strip()
            if state in ("running", "degraded"):
                return state
            if time.monotonic() > deadline:
                raise MachineError(
                    f"systemd did not come up (state {state!r}): {proc.stderr.strip()}"
                )
            time.sleep(0.1)  # the bus is not up yet

    def reboot(self, timeout: float = 60) -> None:
        """Stop the machine (systemd shuts down) and boot it again from the same files: the
        throw-away overlay lives as long as the container does."""
        self.podman.run(["stop", "-t", "10", self.name], timeout=60)
        self.podman.run(["start", self.name])
        state = self.wait_running(timeout)
        if state != "running":
            failed = self.sh("systemctl --failed --no-legend --plain", check=False).stdout
            raise MachineError(f"the machine rebooted {state!r}; failed units:\n{failed}")

    def close(self) -> None:
        try:
            if self.cid:
                self.podman.run(["stop", "-t", "5", self.name], check=False, timeout=60)
                self.podman.run(["rm", "-f", self.name], check=False, timeout=60)
                left = remove_cgroups(self.cid)
                if left:
                    _log("cgroups left behind: " + "; ".join(left))
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> Machine:
        try:
            self.boot()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # commands

    def exec(
        self,
        argv: Sequence[str],
        *,
        user: str | None = None,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
        check: bool = True,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the machine (as root, or as ``user`` with its systemd --user bus)."""
        args = ["exec", "-i"] if input is not None else ["exec"]
        full_env = {"PODMAN_IGNORE_CGROUPSV1_WARNING": "1", **(env or {})}
        if user is not None:
            uid = USER_UID if user == USER else int(self.sh(f"id -u {user}").stdout)
            full_env.setdefault("XDG_RUNTIME_DIR", f"/run/user/{uid}")
            full_env.setdefault("HOME", f"/home/{user}")
            args += ["--user", user, "--workdir", f"/home/{user}"]
        for key, value in full_env.items():
            args += ["--env", f"{key}={value}"]
        proc = subprocess.run(
            ["podman", *args, self.name, *argv],
            env=self.podman.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise MachineError(
                f"{' '.join(argv)} exited {proc.returncode} in the machine:\n"
                f"{proc.stdout.strip()}\n{proc.stderr.strip()}"
            )
        return proc

    def sh(self, script: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return self.exec(["sh", "-c", script], **kw)  # type: ignore[arg-type]

    def write(self, path: str, text: str, mode: str = "0644") -> None:
        self.exec(
            [
                "sh",
                "-c",
                'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1"',
                "sh",
                path,
                mode,
            ],
            input=text,
        )

    def copy_in(self, src: Path, dest: str) -> None:
        """Copy a file or directory of this machine into the test machine."""
        self.podman.run(["cp", str(src), f"{self.name}:{dest}"])

    def install_venv(self, venv: str, wheels: Path) -> None:
        """A venv at ``venv`` in the machine's own Python with the project's wheels (no index)."""
        self.copy_in(wheels, "/tmp/wheels")
        self.exec(["python3", "-m", "venv", venv])
        pip = [f"{venv}/bin/pip", "install", "-q", "--no-index", "--find-links", "/tmp/wheels"]
        self.exec([*pip, *DISTRIBUTIONS], timeout=600)

    def journal(self, *args: str) -> str:
        return self.exec(["journalctl", "--no-pager", "-b", *args], check=False).stdout

    def systemctl(
        self, *args: str, user: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        scope = ["--user"] if user else []
        return self.exec(["systemctl", *scope, *args], user=user, check=check)

    def wait_for(self, script: str, timeout: float = 20, user: str | None = None) -> None:
        """Until ``sh -c SCRIPT`` succeeds in the machine."""
        deadline = time.monotonic() + timeout
        while self.sh(script, check=False, user=user).returncode != 0:
            if time.monotonic() > deadline:
                raise MachineError(f"timed out waiting for: {script}")
            time.sleep(0.1)


# The distributions a machine needs to run legerd and the four strategies' commands.
DISTRIBUTIONS = {
    "leger": ".",
    "leger-plugin-setec": "plugins/setec_backend",
    "leger-plugin-envfile": "plugins/envfile",
    "leger-plugin-podman": "plugins/podman_secrets",
    "leger-plugin-initscript": "plugins/initscript",
    "legerd": "legerd",
}


def _sources_key(checkout: Path, python_version: str) -> str:
    """A hash of what the wheels are built from: each distribution's pyproject.toml and every
    file of its packages."""
    digest = hashlib.sha256(python_version.encode())
    for member in sorted(DISTRIBUTIONS.values()):
        root = checkout / member
        files = [root / "pyproject.toml"]
        for pkg in sorted(root.iterdir()):
            if pkg.name.startswith("leger") and (pkg / "__init__.py").exists():
                files += sorted(
                    f for f in pkg.rglob("*") if f.is_file() and "__pycache__" not in f.parts
                )
        for f in files:
            digest.update(str(f.relative_to(checkout)).encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()[:16]


def wheelhouse(checkout: Path, python_version: str = "3.13") -> Path:
    """Wheels for the machine's own Python, cached like the root filesystem (keyed by the
    sources): the project's, built here (``pip wheel --no-deps``), plus every dependency
    downloaded from the package index for that Python on Linux x86-64 (binary wheels only, so
    nothing is compiled in the machine)."""
    cache = cache_root()
    final = cache / f"wheels-{_sources_key(checkout, python_version)}"
    if final.is_dir():
        os.utime(final)
        return final
    with _lock(cache / ".build.lock"):
        if final.is_dir():
            return final
        tmp = Path(tempfile.mkdtemp(prefix=".wheels-", dir=cache))
        try:
            pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
            members = [str(checkout / path) for path in DISTRIBUTIONS.values()]
            _run_pip([*pip, "wheel", "--no-deps", "-w", str(tmp), *members])
            platforms = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]
            _run_pip(
                [
                    *pip,
                    "download",
                    "-d",
                    str(tmp),
                    "--only-binary=:all:",
                    "--python-version",
                    python_version,
                    "--implementation",
                    "cp",
                    *[arg for p in [*platforms, "any"] for arg in ("--platform", p)],
                    "--find-links",
                    str(tmp),
                    *DISTRIBUTIONS,
                ]
            )
            os.rename(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        _remove_stale(cache, keep=final)
    return final


def _run_pip(args: list[str]) -> None:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise MachineError(f"{' '.join(args[3:5])} failed:\n{proc.stderr[-3000:]}")


def checkout_binds(checkout: Path) -> list[Path]:
    """What to bind-mount so the running venv's ``leger``/``legerd`` work inside: the checkout
    (editable installs import from it), the venv if it lives elsewhere, and the interpreter
    installation the venv points to. A venv on the system's own /usr Python cannot be mounted
    over the machine's /usr: install wheels into the machine's Python then."""
    prefix = python_prefix()
    if prefix in (Path("/usr"), Path("/")):
        raise MachineError(
            f"the Python running this lives in {prefix}, which cannot be bind-mounted into the "
            "machine; use a Python installed elsewhere (pyenv, actions/setup-python)"
        )
    binds = [checkout, prefix]
    venv = Path(sys.prefix)
    if not venv.is_relative_to(checkout) and venv != prefix:
        binds.append(venv)
    return binds


def main(argv: list[str]) -> int:
    """``shell``: boot a machine with the checkout mounted and open a shell in it."""
    if argv[:1] == ["build"]:
        print(ensure_rootfs())
        return 0
    if argv[:1] != ["shell"]:
        print("usage: sdmachine.py build|shell", file=sys.stderr)
        return 2
    reason = missing_tools()
    if reason:
        print(f"systemd machine: {reason}", file=sys.stderr)
        return 1
    checkout = Path(__file__).resolve().parents[2]
    with Machine(ensure_rootfs(), binds=checkout_binds(checkout)) as machine:
        _log(
            f"booted {machine.name} in {machine.boot_seconds:.1f} s; exit the shell to tear it down"
        )
        tty = ["-t"] if sys.stdin.isatty() else []
        return subprocess.call(
            ["podman", "exec", "-i", *tty, "--workdir", str(checkout), machine.name, "bash"],
            env=machine.podman.env,
        )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
