"""The ``bundle`` release source: a ``.tar.gz`` with ``manifest.json`` listing every file's
sha256 and size — a local file, or a release of the logged-in leger-server account
(``server:NAME`` / ``server:VERSION``, through the ``leger-plugin-cloud`` client)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from leger_core.errors import InvalidInputError, NotFoundError
from leger_core.strategies import FetchedRelease
from leger_plugin_deploy.archive import read_tar_file
from leger_plugin_deploy.manifest import MANIFEST_NAME, parse_manifest, sha256
from leger_plugin_deploy.sources import Report, finish, human_size, quiet

SERVER_PREFIX = "server:"


def local_version(files: dict[str, bytes], bundle: bytes) -> str:
    """A bundle file's version: its manifest's version and its own sha256, so a bundle rebuilt
    without bumping the version still counts as new (``3+1a2b3c4d5e6f``)."""
    digest = sha256(bundle)[:12]
    raw = files.get(MANIFEST_NAME)
    version = parse_manifest(raw, require_checksums=False).version if raw is not None else None
    return f"{version}+{digest}" if version else f"sha256:{digest}"


class BundleReleaseSource:
    """``leger deploy install ./release.tar.gz``, or a server release by name."""

    kind = "bundle"

    def __init__(self, leger: Any = None) -> None:
        self.leger = leger

    def latest_version(self, location: str, **_: Any) -> str:
        if location.startswith(SERVER_PREFIX):
            from leger_plugin_deploy.sources.server import latest_version

            return latest_version(self.leger, location[len(SERVER_PREFIX) :])
        path = self._path(location)
        return local_version(read_tar_file(path), path.read_bytes())

    def fetch(
        self, location: str, dest: Path, report: Report = quiet, **options: Any
    ) -> FetchedRelease:
        if location.startswith(SERVER_PREFIX):
            from leger_plugin_deploy.sources.server import download

            with tempfile.TemporaryDirectory(prefix="leger-bundle-") as tmp:
                bundle, info = download(
                    self.leger, location[len(SERVER_PREFIX) :], Path(tmp), report,
                    version=options.get("version"),
                )  # fmt: skip
                fetched = self._from_file(bundle, dest, report, {"server": info})
                fetched.version = str(info["version"])  # the account's version number
                return fetched
        return self._from_file(self._path(location), dest, report, {})

    def _path(self, location: str) -> Path:
        path = Path(location).expanduser()
        if not path.is_file():
            raise NotFoundError(f"bundle {location!r}: no such file")
        return path.resolve()

    def _from_file(
        self, path: Path, dest: Path, report: Report, extra: dict[str, Any]
    ) -> FetchedRelease:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"cannot read bundle {path}: {exc.strerror}") from None
        report(f"Reading bundle {path.name} ({human_size(len(data))}) …")
        files = read_tar_file(path)
        fetched = finish(
            files,
            dest,
            version=None,
            require_checksums=True,
            metadata={"bundle_sha256": sha256(data), "bundle": str(path), **extra},
        )
        fetched.version = local_version(files, data)
        report(f"  verified {len(fetched.files)} files against manifest.json")
        return fetched
