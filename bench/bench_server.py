"""leger-server: RSS growth of the server process while a 50 MB bundle is uploaded (streamed
to a staging file, checked member by member, stored) and downloaded again.

    .venv/bin/python -m bench.bench_server [--mb 50] [--rounds 2] [--database URL] [--blobs URL]

Goal: the upload grows the server's RSS by at most 20 MB — the body is never held whole.
RSS is sampled from /proc/<pid>/status every 10 ms during each transfer.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

GOAL_UPLOAD_MB = 20.0
CHUNK = 256 * 1024


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """Peak RSS of ``pid`` while the ``with`` block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.01)

    def __enter__(self) -> Sampler:
        self.peak = rss_mb(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))


def build_bundle(path: Path, megabytes: int) -> None:
    """A bundle with one incompressible file of ``megabytes`` MB, written without holding it."""
    payload = path.with_suffix(".payload")
    digest = hashlib.sha256()
    with open(payload, "wb") as fh:
        for _ in range(megabytes * 4):
            block = os.urandom(256 * 1024)
            digest.update(block)
            fh.write(block)
    size = payload.stat().st_size
    manifest = {
        "deployment_name": "bench",
        "files": [{"path": "data.bin", "sha256": digest.hexdigest(), "size": size}],
        "services": [],
        "secrets_required": [],
    }
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        raw = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
        tar.add(payload, arcname="data.bin")
    payload.unlink()


def file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database", help="a database URL (default: SQLite in a temp dir)")
    parser.add_argument("--blobs", help="a blobs URL, e.g. s3://bucket?endpoint=…&create=1")
    args = parser.parse_args(argv)

    import httpx

    from leger_server.testing import RunningServer

    tmp = Path(tempfile.mkdtemp(prefix="bench-server-"))
    server = RunningServer(
        tmp / "data",
        database=args.database,
        blobs=args.blobs,
        env={"LEGER_SERVER_MAX_BUNDLE_BYTES": str((args.mb + 20) * 1024 * 1024)},
    )
    rows: list[tuple[str, float, float, float, float]] = []
    ok = True
    try:
        bundle = tmp / "bundle.tar.gz"
        build_bundle(bundle, args.mb)
        size_mb = bundle.stat().st_size / 1024 / 1024
        token = server.login("bench")
        pid = server.process.pid
        with httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(300.0),
        ) as api:
            # Warm up imports and code paths with a small bundle first.
            from leger_server.testing import make_bundle

            api.post(
                "/api/releases", content=make_bundle(), headers={"content-type": "application/gzip"}
            )
            for round_no in range(1, args.rounds + 1):
                base = rss_mb(pid)
                start = time.perf_counter()
                with Sampler(pid) as sampler:
                    resp = api.post(
                        "/api/releases",
                        content=file_chunks(bundle),
                        headers={
                            "content-type": "application/gzip",
                            "content-length": str(bundle.stat().st_size),
                        },
                    )
                secs = time.perf_counter() - start
                if resp.status_code != 201:
                    print(f"upload failed: {resp.status_code} {resp.text[:300]}", file=sys.stderr)
                    return 1
                growth = sampler.peak - base
                ok = ok and growth <= GOAL_UPLOAD_MB
                rows.append((f"upload #{round_no}", size_mb, secs, base, growth))

                version = resp.json()["data"]["version"]
                base = rss_mb(pid)
                start = time.perf_counter()
                got = 0
                with (
                    Sampler(pid) as sampler,
                    api.stream("GET", f"/api/releases/{version}/download") as down,
                ):
                    for chunk in down.iter_bytes(CHUNK):
                        got += len(chunk)
                secs = time.perf_counter() - start
                rows.append(
                    (f"download #{round_no}", got / 1024 / 1024, secs, base, sampler.peak - base)
                )
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    where = f"{args.database or 'SQLite'} + {(args.blobs or 'a local dir').split('?')[0]}"
    print(
        f"leger-server bundle transfer, {args.mb} MB of random data, {where} "
        f"(goal: upload RSS growth <= {GOAL_UPLOAD_MB:.0f} MB)"
    )
    print(
        f"{'transfer':<14}{'MB':>8}{'seconds':>10}{'MB/s':>9}{'RSS before':>12}{'RSS growth':>12}"
    )
    for name, mb, secs, base, growth in rows:
        print(f"{name:<14}{mb:>8.1f}{secs:>10.2f}{mb / secs:>9.1f}{base:>10.1f}MB{growth:>10.1f}MB")
    print("upload goal met" if ok else "UPLOAD GOAL MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
