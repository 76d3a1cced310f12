"""Bundles crafted against ``tarfile``'s header parsing (CVE-2024-6232) are refused from their
headers, fast, while the real server keeps answering; header bytes count against the
unpacked limit; inspection has a time limit."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from typing import Any

import httpx
import pytest

from leger_core.testing import pax_header_tar

GZ = {"content-type": "application/gzip"}
LIMITS = {
    "LEGER_SERVER_MAX_BUNDLE_UNPACKED": str(4 * 1024 * 1024),
    "LEGER_SERVER_MAX_BUNDLE_FILES": "20",
}


def _files(**extra: bytes) -> dict[str, bytes]:
    files = {"web.container": b"[Container]\nImage=x\n", **extra}
    manifest = {
        "deployment_name": "crafted",
        "files": [
            {"path": p, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
            for p, d in files.items()
        ],
    }
    return {"manifest.json": json.dumps(manifest).encode(), **files}


def _pax_record(key: str, value: bytes) -> bytes:
    body = b" %s=%s\n" % (key.encode(), value)
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length += 1
    return b"%d%s" % (length, body)


CRAFTED = {
    # 400 KB of digits as one pax header: ~1 KB gzipped; minutes in an unpatched tarfile
    "huge_pax_header": lambda: pax_header_tar(b"1" * 400_000, _files()),
    # under the 64 KiB bound but a 60 KB digit run: seconds in an unpatched tarfile
    "digit_run": lambda: pax_header_tar(_pax_record("comment", b"1" * 60_000), _files()),
}


def _upload(server: Any, token: str, body: bytes, out: dict[str, Any]) -> None:
    started = time.monotonic()
    try:
        out["response"] = httpx.post(
            server.url + "/api/releases",
            content=body,
            headers={**GZ, "Authorization": f"Bearer {token}"},
            timeout=20.0,
        )
    except Exception as exc:  # reported by the test thread
        out["error"] = exc
    out["seconds"] = time.monotonic() - started


@pytest.mark.parametrize("kind", sorted(CRAFTED))
def test_crafted_header_bundle_is_refused_fast_and_health_answers(leger_server_factory, kind):
    server = leger_server_factory(env=LIMITS)
    token = server.login("crafter")
    body = gzip.compress(CRAFTED[kind](), 9)
    assert len(body) < 1500
    result: dict[str, Any] = {}
    upload = threading.Thread(target=_upload, args=(server, token, body, result))
    health_seconds = []
    with httpx.Client(base_url=server.url, timeout=5.0) as probe:
        upload.start()
        while upload.is_alive() or not health_seconds:
            started = time.monotonic()
            assert probe.get("/health").status_code == 200
            health_seconds.append(time.monotonic() - started)
            time.sleep(0.02)
    upload.join()
    assert "error" not in result, result
    resp = result["response"]
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "invalid_bundle"
    assert error["message"].startswith("bundle refused:")
    assert ("extended tar header" in error["message"]) or ("digits" in error["message"])
    assert result["seconds"] < 2.0
    assert max(health_seconds) < 1.0
    with server.api(token) as api:
        assert api.get("/api/releases").json()["data"]["releases"] == []
    assert list((server.data_dir / "staging").glob("*")) == []


def test_header_bytes_count_against_the_unpacked_limit(leger_server_factory):
    # Eight files of a few bytes, each behind pax headers of ~520 KB in all: over 4 MiB
    # unpacked although the files themselves are tiny.
    server = leger_server_factory(env=LIMITS)
    files = _files(**{f"f{i}.conf": b"x" for i in range(8)})
    # an extended header with its padded payload, and nothing else
    padding = pax_header_tar(_pax_record("comment", b"c" * 65_000), {})[:-1024]
    members = [pax_header_tar(b"", {name: data})[512:-1024] for name, data in files.items()]
    body = gzip.compress(b"".join(padding * 8 + m for m in members) + b"\0" * 1024, 9)
    with server.api(server.login("padder")) as api:
        resp = api.post("/api/releases", content=body, headers=GZ)
        assert resp.status_code == 400, resp.text
        assert "unpacks to more than 4 MiB (headers included)" in resp.json()["error"]["message"]
        # the same files without the padding headers are accepted
        plain = pax_header_tar(b"", files)
        assert (
            api.post("/api/releases", content=gzip.compress(plain), headers=GZ).status_code == 201
        )


def test_empty_directory_entries_are_bounded(leger_server_factory):
    import io
    import tarfile

    server = leger_server_factory(env=LIMITS)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in _files().items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for i in range(21):
            folder = tarfile.TarInfo(f"d{i}")
            folder.type = tarfile.DIRTYPE
            tar.addfile(folder)
    with server.api(server.login("dirs")) as api:
        resp = api.post("/api/releases", content=gzip.compress(raw.getvalue()), headers=GZ)
        assert resp.status_code == 400, resp.text
        assert "at most 20 directories" in resp.json()["error"]["message"]


def test_inspection_has_a_time_limit(leger_server_factory):
    server = leger_server_factory(env={**LIMITS, "LEGER_SERVER_MAX_BUNDLE_SECONDS": "0"})
    with server.api(server.login("slow")) as api:
        resp = api.post(
            "/api/releases", content=gzip.compress(pax_header_tar(b"", _files())), headers=GZ
        )
        assert resp.status_code == 400, resp.text
        assert "took longer than 0 s" in resp.json()["error"]["message"]
