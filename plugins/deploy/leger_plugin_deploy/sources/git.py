"""The ``git`` release source: a shallow fetch into a cache, then ``git archive`` of the commit
read through the same safe tar reader as bundles (so a symlink in the repository is refused).

What a fetch may bring in is bounded: the cache may grow by at most :data:`MAX_FETCH_BYTES`
during one fetch (watched while git runs; past it git is stopped and the cache dropped), each
git command has :data:`TIMEOUT` seconds, and the checkout itself is read with the archive
limits (:class:`leger_plugin_deploy.archive.Limits`: files, sizes, time).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from leger_core.errors import InvalidInputError, LegerError, NotFoundError, UnavailableError
from leger_core.paths import cache_dir
from leger_core.strategies import FetchedRelease
from leger_plugin_deploy.archive import ReleaseRefused, read_tar
from leger_plugin_deploy.sources import Report, finish, quiet

ALLOWED_SCHEMES = ("https", "ssh", "file")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_TRANSPORT = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")  # git's <transport>::<address>
_SCP = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!//)")
_BRANCH = re.compile(r"(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,200}")
TIMEOUT = 300.0
MAX_FETCH_BYTES = 256 * 1024 * 1024  # growth of the cache during one fetch
_POLL = 0.2


def normalize_url(location: str) -> str:
    """An https, ssh or file:// URL, ``user@host:path``, or a local repository path (made a
    ``file://`` URL so that the fetch can be shallow)."""
    if not location or location.startswith("-"):
        raise InvalidInputError(f"invalid git source {location!r}")
    if _TRANSPORT.match(location):
        raise InvalidInputError(
            f"git source {location!r}: only {', '.join(ALLOWED_SCHEMES)} URLs are allowed"
        )
    match = _SCHEME.match(location)
    if match:
        if match.group(1).lower() not in ALLOWED_SCHEMES:
            raise InvalidInputError(
                f"git source {location!r}: only {', '.join(ALLOWED_SCHEMES)} URLs are allowed"
            )
        return location
    if _SCP.match(location):
        return location
    path = Path(location).expanduser()
    if not path.is_dir():
        raise NotFoundError(f"git source {location!r}: no such directory")
    return path.resolve().as_uri()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GIT_ALLOW_PROTOCOL", ":".join(ALLOWED_SCHEMES))
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    env["LC_ALL"] = "C"
    return env


def _git(*args: str, cwd: Path | None = None) -> str:
    cmd = ["git", *(["-C", str(cwd)] if cwd else []), *args]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=_env(), timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except FileNotFoundError:
        raise UnavailableError("git is not installed (needed for git release sources)") from None
    except subprocess.TimeoutExpired:
        raise UnavailableError(f"git {args[0]} took longer than {TIMEOUT:.0f}s") from None
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        raise UnavailableError(f"git {args[0]} failed: {lines[-1] if lines else 'no output'}")
    return proc.stdout


def _tree_bytes(root: Path) -> int:
    total = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            with contextlib.suppress(OSError):  # git renames and removes files as it goes
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def _fetch_bounded(cache: Path, *args: str) -> None:
    """``git fetch ARGS`` in ``cache``, stopped (with everything it started) when the cache has
    grown by more than MAX_FETCH_BYTES or TIMEOUT has passed."""
    cmd = ["git", "-C", str(cache), "fetch", *args]
    before = _tree_bytes(cache)
    deadline = time.monotonic() + TIMEOUT
    try:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
            stdin=subprocess.DEVNULL, start_new_session=True,  # its own group: killed as one
        )  # fmt: skip
    except FileNotFoundError:
        raise UnavailableError("git is not installed (needed for git release sources)") from None
    too_big = ReleaseRefused(
        f"refused: the git fetch brought in more than {MAX_FETCH_BYTES // 2**20} MiB"
    )
    while True:
        try:
            _out, err = proc.communicate(timeout=_POLL)
            break
        except subprocess.TimeoutExpired:
            problem: LegerError | None = None
            if _tree_bytes(cache) - before > MAX_FETCH_BYTES:
                problem = too_big
            elif time.monotonic() > deadline:
                problem = UnavailableError(f"git fetch took longer than {TIMEOUT:.0f}s")
            if problem is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # git and the helpers it started
                proc.communicate()
                shutil.rmtree(cache, ignore_errors=True)  # a cache: the next fetch starts over
                raise problem from None
    if _tree_bytes(cache) - before > MAX_FETCH_BYTES:  # done between two looks
        shutil.rmtree(cache, ignore_errors=True)
        raise too_big
    if proc.returncode != 0:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        raise UnavailableError(f"git fetch failed: {lines[-1] if lines else 'no output'}")


def _ref(branch: str | None) -> str:
    if branch is None:
        return "HEAD"
    if not _BRANCH.fullmatch(branch):
        raise InvalidInputError(f"invalid branch name {branch!r}")
    return f"refs/heads/{branch}"


class GitReleaseSource:
    """``leger deploy install https://…/repo.git --branch main``, ``… ./my-repo``."""

    kind = "git"

    def __init__(self, leger: Any = None, cache: Path | None = None) -> None:
        self.cache_root = cache or cache_dir() / "git"

    def cache_for(self, url: str) -> Path:
        key = hashlib.sha256(url.encode()).hexdigest()[:16]
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", url.rstrip("/").rsplit("/", 1)[-1])[:40]
        return self.cache_root / f"{stem}-{key}.git"

    def latest_version(self, location: str, branch: str | None = None, **_: Any) -> str:
        """The commit the branch (or the remote's HEAD) points at, asked with ``ls-remote``:
        no objects are downloaded."""
        url = normalize_url(location)
        ref = _ref(branch)
        out = _git("ls-remote", "--", url, ref)
        for line in out.splitlines():
            sha, _tab, name = line.partition("\t")
            if name == ref:
                return sha
        what = f"branch {branch!r}" if branch else "a HEAD"
        raise NotFoundError(f"{location} has no {what}")

    def fetch(
        self,
        location: str,
        dest: Path,
        branch: str | None = None,
        report: Report = quiet,
        **_: Any,
    ) -> FetchedRelease:
        url = normalize_url(location)
        cache = self.cache_for(url)
        if not (cache / "HEAD").exists():
            cache.mkdir(parents=True, exist_ok=True)
            _git("init", "--bare", "--quiet", str(cache))
        ref = _ref(branch)
        report(f"Fetching {location} ({branch or 'default branch'}) …")
        try:
            _fetch_bounded(cache, "--depth=1", "--no-tags", "--quiet", "--", url,
                           f"+{ref}:refs/leger/fetched")  # fmt: skip
        except UnavailableError as exc:
            if "couldn't find remote ref" in str(exc):
                raise NotFoundError(f"{location} has no branch {branch!r}") from None
            raise
        commit = _git("rev-parse", "refs/leger/fetched^{commit}", cwd=cache).strip()
        subject = _git("log", "-1", "--format=%s", commit, cwd=cache).strip()
        report(f"  commit {commit[:12]} {subject}")
        files = self._archive(cache, commit)
        return finish(
            files,
            dest,
            version=commit,
            require_checksums=False,
            metadata={"commit": commit, "subject": subject, "url": url, "branch": branch},
        )

    def _archive(self, cache: Path, commit: str) -> dict[str, bytes]:
        proc = subprocess.Popen(
            ["git", "-C", str(cache), "archive", "--format=tar", commit],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            files = read_tar(proc.stdout, compressed=False)
        except ReleaseRefused:
            proc.kill()
            raise
        finally:
            proc.stdout.close()
            _, err = proc.communicate()
        if proc.returncode != 0:
            raise LegerError(f"git archive failed: {err.decode(errors='replace').strip()}")
        return files
