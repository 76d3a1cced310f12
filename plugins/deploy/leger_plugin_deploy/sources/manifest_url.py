"""The ``manifest`` release source (pq-style): fetch ``manifest.json`` from a base URL, then
download only the files whose sha256 differs from what is installed; unchanged files are
copied from the installed deployment (after checking their sha256 there too).

Plain ``http://`` is refused unless the user passed ``--allow-insecure`` (loopback included:
the flag says in the deployment's record that its source can be changed on the way). A
redirect may only go to the same scheme and host, at most :data:`MAX_REDIRECTS` times, and one
fetch (the manifest and every file) must finish within :data:`TOTAL_TIMEOUT` seconds.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from leger_core.errors import InvalidInputError, NotFoundError, UnavailableError
from leger_core.strategies import FetchedRelease
from leger_plugin_deploy.archive import DEFAULT_LIMITS, ReleaseRefused, check_relpath
from leger_plugin_deploy.manifest import MANIFEST_NAME, MAX_MANIFEST, parse_manifest, sha256
from leger_plugin_deploy.release import check_allowed
from leger_plugin_deploy.sources import Report, finish, human_size, quiet

SCHEMES = ("https", "http", "file")
TIMEOUT = 30.0  # per read
TOTAL_TIMEOUT = 300.0  # the manifest and every file of one fetch
MAX_REDIRECTS = 3
CHUNK = 64 * 1024


def base_url(location: str, allow_insecure: bool = False) -> str:
    """The directory URL holding ``manifest.json`` (``…/manifest.json`` or a local directory
    are accepted too). ``http://`` only with ``allow_insecure``."""
    if "://" not in location:
        path = Path(location).expanduser()
        if not path.is_dir():
            raise NotFoundError(f"manifest source {location!r}: no such directory")
        location = path.resolve().as_uri()
    scheme = urllib.parse.urlsplit(location).scheme.lower()
    if scheme not in SCHEMES:
        raise InvalidInputError(f"manifest source {location!r}: only {', '.join(SCHEMES)} URLs")
    if scheme == "http" and not allow_insecure:
        raise InvalidInputError(
            f"manifest source {location!r}: plain http can be read and changed by anyone on "
            "the way, and a release runs code as you",
            hint="use https, or pass --allow-insecure if you accept that",
        )
    if location.endswith("/" + MANIFEST_NAME):
        location = location[: -len(MANIFEST_NAME)]
    return location if location.endswith("/") else location + "/"


class _SameOrigin(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to the same scheme and host (so https never drops to http and
    a static host cannot send the fetch elsewhere), and only a few times."""

    max_redirections = MAX_REDIRECTS

    def redirect_request(  # type: ignore[no-untyped-def]
        self, req, fp, code, msg, headers, newurl
    ):
        old = urllib.parse.urlsplit(req.full_url)
        new = urllib.parse.urlsplit(urllib.parse.urljoin(req.full_url, newurl))
        if (new.scheme.lower(), new.netloc.lower()) != (old.scheme.lower(), old.netloc.lower()):
            raise ReleaseRefused(
                f"refused: {req.full_url} redirects to another scheme or host ({newurl[:200]})"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameOrigin)


def _get(url: str, limit: int, deadline: float | None = None) -> bytes:
    """``url``'s body, at most ``limit`` bytes, read before ``deadline`` (time.monotonic)."""
    deadline = time.monotonic() + TOTAL_TIMEOUT if deadline is None else deadline

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise UnavailableError(
                f"fetching {url} took too long (a release may take {TOTAL_TIMEOUT:.0f}s in all)"
            )
        return remaining

    data = bytearray()
    try:
        with _OPENER.open(url, timeout=min(TIMEOUT, left())) as resp:
            while len(data) <= limit:
                # read1: returns what has arrived, so a server dripping bytes meets the deadline
                chunk = resp.read1(CHUNK)
                if not chunk:
                    break
                data += chunk
                left()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise NotFoundError(f"{url}: not found (HTTP 404)") from None
        if 300 <= exc.code < 400:
            raise UnavailableError(
                f"{url}: more than {MAX_REDIRECTS} redirects, or a redirect loop (HTTP {exc.code})"
            ) from None
        raise UnavailableError(f"{url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise UnavailableError(f"cannot fetch {url}: {reason}") from None
    if len(data) > limit:
        raise ReleaseRefused(f"refused: {url} is larger than expected ({limit} bytes)")
    return bytes(data)


class ManifestReleaseSource:
    """``leger deploy install https://static.example/alice/latest/manifest.json``."""

    kind = "manifest"

    def __init__(self, leger: Any = None) -> None:
        self.leger = leger

    def latest_version(self, location: str, allow_insecure: bool = False, **_: Any) -> str:
        raw = _get(base_url(location, allow_insecure) + MANIFEST_NAME, MAX_MANIFEST)
        return parse_manifest(raw, require_checksums=True).version or "sha256:" + sha256(raw)[:12]

    def fetch(
        self,
        location: str,
        dest: Path,
        report: Report = quiet,
        installed_files: Mapping[str, str] | None = None,
        installed_dir: Path | None = None,
        allow_insecure: bool = False,
        **_: Any,
    ) -> FetchedRelease:
        base = base_url(location, allow_insecure)
        deadline = time.monotonic() + TOTAL_TIMEOUT
        report(f"Fetching {base}{MANIFEST_NAME} …")
        raw = _get(base + MANIFEST_NAME, MAX_MANIFEST, deadline)
        manifest = parse_manifest(raw, require_checksums=True)
        assert manifest.files is not None
        limits = DEFAULT_LIMITS
        if len(manifest.files) > limits.max_files:
            raise ReleaseRefused(f"refused: manifest.json lists more than {limits.max_files} files")
        if sum(e.size or 0 for e in manifest.files.values()) > limits.max_total_size:
            raise ReleaseRefused("refused: manifest.json lists more data than allowed")
        files: dict[str, bytes] = {MANIFEST_NAME: raw}
        downloaded: list[str] = []
        reused: list[str] = []
        for path, entry in sorted(manifest.files.items()):
            check_allowed(check_relpath(path))  # before anything is downloaded
            assert entry.sha256 is not None and entry.size is not None
            if entry.size > limits.max_file_size:
                raise ReleaseRefused(f"refused: {path} is larger than allowed")
            local = self._installed(path, entry.sha256, installed_files, installed_dir)
            if local is not None:
                files[path] = local
                reused.append(path)
                continue
            report(f"  downloading {path} ({human_size(entry.size)})")
            files[path] = _get(base + urllib.parse.quote(path), entry.size, deadline)
            downloaded.append(path)
        report(f"  {len(downloaded)} downloaded, {len(reused)} unchanged")
        return finish(
            files,
            dest,
            version=manifest.version or "sha256:" + sha256(raw)[:12],
            require_checksums=True,
            metadata={"url": base, "downloaded": downloaded, "reused": reused},
        )

    @staticmethod
    def _installed(
        path: str, digest: str, installed: Mapping[str, str] | None, where: Path | None
    ) -> bytes | None:
        if not installed or where is None or installed.get(path) != digest:
            return None
        try:
            data = (where / path).read_bytes()
        except OSError:
            return None
        return data if sha256(data) == digest else None
