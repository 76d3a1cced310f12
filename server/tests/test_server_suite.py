"""The API against a real server, on SQLite + local blobs and on PostgreSQL + S3 (seaweedfs):
secrets, releases, bundles, user isolation, and no plaintext at rest."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from leger_server.testing import make_bundle

GZ = {"content-type": "application/gzip"}


def stored_blobs(server: Any, user_uuid: str) -> list[str]:
    """Every blob the server holds for the user, plus anything left in its staging dir."""
    leftovers = [str(p) for p in (server.data_dir / "staging").glob("*")]
    storage = server.storage
    if storage["blobs"] is None:
        root = server.data_dir / "blobs" / user_uuid
        return leftovers + [str(p) for p in root.rglob("*") if p.is_file()]
    url = urlparse(storage["blobs"])
    endpoint = parse_qs(url.query)["endpoint"][0]
    assert endpoint == storage["s3"].endpoint
    prefix = url.path.strip("/") + "/" + user_uuid + "/"
    listing = storage["s3"].client().list_objects_v2(Bucket=url.netloc, Prefix=prefix)
    return leftovers + [o["Key"] for o in listing.get("Contents", [])]


def _login(server: Any, user_id: str) -> tuple[str, str]:
    data = server.login_full(user_id)
    return data["token"], data["user"]["user_uuid"]


def test_secret_lifecycle(shared_server, fresh_user):
    with shared_server.api(shared_server.login(fresh_user)) as api:
        resp = api.post("/api/secrets/openai_api_key", json={"value": "sk-1"})
        assert resp.status_code == 201
        assert resp.json()["data"]["version"] == 1
        assert (
            api.post("/api/secrets/openai_api_key", json={"value": "sk-1"}).json()["data"][
                "version"
            ]
            == 1
        )
        assert (
            api.post("/api/secrets/openai_api_key", json={"value": "sk-2"}).json()["data"][
                "version"
            ]
            == 2
        )
        got = api.get("/api/secrets/openai_api_key").json()["data"]
        assert got["value"] == "sk-2" and got["version"] == 2
        listed = api.get("/api/secrets").json()["data"]["secrets"]
        assert [s["name"] for s in listed] == ["openai_api_key"] and "value" not in listed[0]
        with_values = api.get("/api/secrets", params={"include_values": "true"}).json()
        assert with_values["data"]["secrets"][0]["value"] == "sk-2"
        assert api.delete("/api/secrets/openai_api_key").json()["data"]["deleted"] is True
        assert api.get("/api/secrets/openai_api_key").status_code == 404


@pytest.mark.parametrize(
    "name", ["bad name", "a/b", "x" * 129, "..", "ünicode"], ids=lambda n: n[:10]
)
def test_bad_secret_names_are_refused(shared_server, fresh_user, name):
    with shared_server.api(shared_server.login(fresh_user)) as api:
        resp = api.post(f"/api/secrets/{name}", json={"value": "v"})
        assert resp.status_code in (400, 404)
        assert api.get("/api/secrets").json()["data"]["secrets"] == []


def test_secret_name_with_a_trailing_newline_is_refused(shared_server, fresh_user):
    # re.match(r"^...$") took "nl\n" ($ matches before a final newline): 201 and a secret
    # whose name no client can type.
    with shared_server.api(shared_server.login(fresh_user)) as api:
        resp = api.post("/api/secrets/nl%0A", json={"value": "v"})
        assert resp.status_code == 400, resp.text
        assert resp.json()["error"]["code"] == "invalid_name"
        assert api.get("/api/secrets").json()["data"]["secrets"] == []
        assert api.get("/api/secrets/nl").status_code == 404


def test_secret_values_are_bounded(shared_server, fresh_user):
    with shared_server.api(shared_server.login(fresh_user)) as api:
        resp = api.post("/api/secrets/k", json={"value": "x" * (64 * 1024 + 1)})
        assert resp.status_code == 413
        assert api.get("/api/secrets/k").status_code == 404


def test_no_plaintext_in_the_database_or_logs(api_server):
    value = "sk-plaintext-canary-7f3a9c"
    with api_server.api(api_server.login("u1")) as api:
        api.post("/api/secrets/canary", json={"value": value})
        api.get("/api/secrets/canary")
        api.get("/api/secrets", params={"include_values": "true"})
    api_server.stop()
    assert value not in api_server.log()
    if api_server.storage["database"] is None:
        for path in api_server.data_dir.glob("leger.db*"):
            assert value.encode() not in path.read_bytes(), path
    else:
        import psycopg

        with psycopg.connect(api_server.storage["database"]) as conn:
            rows = conn.execute("SELECT * FROM secrets").fetchall()
        assert rows and value.encode() not in repr(rows).encode()
        assert all(value.encode() not in bytes(r[3]) for r in rows)


def test_bundle_upload_list_latest_download(shared_server, fresh_user):
    data = make_bundle({"openwebui.container": b"[Container]\n", "litellm.container": b"x"})
    token, user_uuid = _login(shared_server, fresh_user)
    with shared_server.api(token) as api:
        first = api.post("/api/releases", content=data, headers=GZ)
        assert first.status_code == 201, first.text
        release = first.json()["data"]
        assert release["version"] == 1 and release["kind"] == "bundle"
        assert release["bundle_size_bytes"] == len(data)
        assert release["files"] == ["litellm.container", "openwebui.container"]
        assert release["secrets_required"] == ["openai_api_key"]
        second = api.post("/api/releases", content=make_bundle(name="other"), headers=GZ)
        assert second.json()["data"]["version"] == 2
        assert api.get("/api/releases/latest").json()["data"]["version"] == 2
        listed = api.get("/api/releases").json()["data"]["releases"]
        assert [r["version"] for r in listed] == [1, 2]
        down = api.get("/api/releases/1/download")
        assert down.status_code == 200
        assert down.headers["content-type"] == "application/gzip"
        assert down.content == data
        assert down.headers["x-leger-sha256"] == hashlib.sha256(data).hexdigest()
        by_id = api.get(f"/api/releases/{release['id']}").json()["data"]
        assert by_id["version"] == 1
        assert api.delete("/api/releases/1").status_code == 200
        assert api.get("/api/releases/1/download").status_code == 404
    assert len(stored_blobs(shared_server, user_uuid)) == 1


def _evil(kind: str) -> bytes:
    def add(tar: tarfile.TarFile, info: tarfile.TarInfo, data: bytes = b"") -> None:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data) if data else None)

    if kind == "traversal":
        return make_bundle(extra=lambda t: add(t, tarfile.TarInfo("../escape"), b"x"))
    if kind == "absolute":
        return make_bundle(extra=lambda t: add(t, tarfile.TarInfo("/etc/evil"), b"x"))
    if kind == "symlink":

        def link(t: tarfile.TarFile) -> None:
            info = tarfile.TarInfo("link")
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            add(t, info)

        return make_bundle(extra=link)
    if kind == "hardlink":

        def hard(t: tarfile.TarFile) -> None:
            info = tarfile.TarInfo("hard")
            info.type = tarfile.LNKTYPE
            info.linkname = "openwebui.container"
            add(t, info)

        return make_bundle(extra=hard)
    if kind == "device":

        def dev(t: tarfile.TarFile) -> None:
            info = tarfile.TarInfo("null")
            info.type = tarfile.CHRTYPE
            info.devmajor, info.devminor = 1, 3
            add(t, info)

        return make_bundle(extra=dev)
    if kind == "too_many_files":
        return make_bundle({f"f{i}.container": b"x" for i in range(30)})
    if kind == "bad_sha":
        bundle = make_bundle({"a.container": b"real"})
        manifest = {
            "deployment_name": "x",
            "files": [{"path": "a.container", "sha256": "0" * 64, "size": 4}],
        }
        return make_bundle({"a.container": b"real"}, manifest=manifest) or bundle
    if kind == "bad_size":
        manifest = {
            "deployment_name": "x",
            "files": [
                {"path": "a.container", "sha256": hashlib.sha256(b"real").hexdigest(), "size": 9}
            ],
        }
        return make_bundle({"a.container": b"real"}, manifest=manifest)
    if kind == "unlisted_file":
        manifest = {"deployment_name": "x", "files": []}
        return make_bundle({"a.container": b"real"}, manifest=manifest)
    if kind == "no_manifest":
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            add(tar, tarfile.TarInfo("a.container"), b"x")
        return buf.getvalue()
    if kind == "not_gzip":
        return b"this is not a tarball"
    if kind == "truncated":
        return make_bundle()[:-30]
    if kind == "unpacks_too_large":  # a gzip bomb: small on the wire, huge unpacked
        return make_bundle({"zeros.bin": bytes(5 * 1024 * 1024)})
    if kind == "oversized":
        import os

        return make_bundle({"big.bin": os.urandom(3 * 1024 * 1024)})
    raise AssertionError(kind)


EVIL = [
    "traversal", "absolute", "symlink", "hardlink", "device", "too_many_files", "bad_sha",
    "bad_size", "unlisted_file", "no_manifest", "not_gzip", "truncated", "oversized",
    "unpacks_too_large",
]  # fmt: skip


@pytest.mark.parametrize("kind", EVIL)
def test_bad_bundles_are_refused_and_leave_nothing(shared_server, fresh_user, kind):
    token, user_uuid = _login(shared_server, fresh_user)
    with shared_server.api(token) as api:
        resp = api.post("/api/releases", content=_evil(kind), headers=GZ)
        assert resp.status_code in (400, 413), resp.text
        # Over the upload limit is 413 (refused while streaming); everything else is 400.
        assert resp.status_code == (413 if kind == "oversized" else 400)
        assert resp.json()["success"] is False
        assert api.get("/api/releases").json()["data"]["releases"] == []
        assert api.get("/api/releases/latest").status_code == 404
    assert stored_blobs(shared_server, user_uuid) == []


def test_oversized_bundle_without_content_length_is_refused(shared_server, fresh_user):
    import os

    payload = make_bundle({"big.bin": os.urandom(3 * 1024 * 1024)})

    def chunks():
        for i in range(0, len(payload), 65536):
            yield payload[i : i + 65536]

    token, user_uuid = _login(shared_server, fresh_user)
    with shared_server.api(token) as api:
        resp = api.post("/api/releases", content=chunks(), headers=GZ)
        assert resp.status_code == 413
    assert stored_blobs(shared_server, user_uuid) == []


def test_git_releases(shared_server, fresh_user):
    body = {
        "name": "my-openwebui",
        "git_url": "https://github.com/alice/quadlets",
        "git_branch": "main",
        "description": "OpenWebUI with LiteLLM",
    }
    with shared_server.api(shared_server.login(fresh_user)) as api:
        created = api.post("/api/releases", json=body)
        assert created.status_code == 201
        release = created.json()["data"]
        assert release["version"] == 1 and release["kind"] == "git"
        assert api.post("/api/releases", json=body).status_code == 409
        updated = api.put(
            f"/api/releases/{release['id']}",
            json={"git_url": "https://github.com/alice/quadlets-v2"},
        ).json()["data"]
        assert updated["version"] == 2
        assert updated["git_url"].endswith("quadlets-v2")
        found = api.get("/api/releases", params={"name": "my-openwebui"}).json()["data"]
        assert [r["id"] for r in found["releases"]] == [release["id"]]
        for bad in ("not a url", "ftp://x/y", "javascript:alert(1)", ""):
            resp = api.post("/api/releases", json={**body, "name": "n2", "git_url": bad})
            assert resp.status_code == 400, bad
        assert api.get("/api/releases/latest").status_code == 404  # no bundle yet
        assert api.delete(f"/api/releases/{release['id']}").status_code == 200
        assert api.get(f"/api/releases/{release['id']}").status_code == 404


def test_user_b_never_reaches_user_a_data(shared_server, fresh_user):
    a = shared_server.api(shared_server.login(fresh_user + "-alice"))
    b = shared_server.api(shared_server.login(fresh_user + "-bob"))
    with a, b:
        a.post("/api/secrets/openai_api_key", json={"value": "sk-alice"})
        bundle = a.post("/api/releases", content=make_bundle(), headers=GZ).json()["data"]
        git = a.post("/api/releases", json={"name": "g", "git_url": "https://h/r.git"}).json()[
            "data"
        ]
        denied = (403, 404)
        assert b.get("/api/secrets").json()["data"]["secrets"] == []
        assert (
            b.get("/api/secrets", params={"include_values": "true"}).json()["data"]["secrets"] == []
        )
        assert b.get("/api/secrets/openai_api_key").status_code in denied
        assert b.delete("/api/secrets/openai_api_key").status_code in denied
        assert b.get("/api/releases").json()["data"]["releases"] == []
        assert b.get("/api/releases/latest").status_code in denied
        for ref in (bundle["id"], "1", git["id"]):
            assert b.get(f"/api/releases/{ref}").status_code in denied, ref
            assert b.get(f"/api/releases/{ref}/download").status_code in denied, ref
            assert b.put(f"/api/releases/{ref}", json={"description": "x"}).status_code in denied
            assert b.delete(f"/api/releases/{ref}").status_code in denied, ref
        # B writing the same names makes B's own records; A's are untouched.
        b.post("/api/secrets/openai_api_key", json={"value": "sk-bob"})
        b.post("/api/releases", json={"name": "g", "git_url": "https://h/other.git"})
        assert a.get("/api/secrets/openai_api_key").json()["data"]["value"] == "sk-alice"
        assert a.get(f"/api/releases/{git['id']}").json()["data"]["git_url"] == "https://h/r.git"
        assert a.get("/api/releases/1/download").status_code == 200
        assert a.get(f"/api/releases/{bundle['id']}").json()["data"]["version"] == 1
        assert "alice" not in json.dumps(b.get("/api/me").json())


def test_concurrent_uploads_get_distinct_versions(shared_server, fresh_user):
    from concurrent.futures import ThreadPoolExecutor

    token = shared_server.login(fresh_user)
    bundles = [make_bundle({f"s{i}.container": bytes([i]) * 1000}) for i in range(6)]

    def upload(data: bytes) -> int:
        with shared_server.api(token) as api:
            resp = api.post("/api/releases", content=data, headers=GZ)
            assert resp.status_code == 201, resp.text
            return int(resp.json()["data"]["version"])

    with ThreadPoolExecutor(6) as pool:
        versions = sorted(pool.map(upload, bundles))
    assert versions == [1, 2, 3, 4, 5, 6]


def test_concurrent_writes_of_one_secret_end_consistent(shared_server, fresh_user):
    from concurrent.futures import ThreadPoolExecutor

    token = shared_server.login(fresh_user)

    def put(i: int) -> int:
        with shared_server.api(token) as api:
            resp = api.post("/api/secrets/k", json={"value": f"v{i}"})
            assert resp.status_code in (200, 201, 409), resp.text
            return resp.status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(put, range(16)))
    with shared_server.api(token) as api:
        final = api.get("/api/secrets/k").json()["data"]
    assert final["value"] in {f"v{i}" for i in range(16)}
    assert final["version"] == sum(1 for c in codes if c in (200, 201))


def test_several_workers_share_the_storage(leger_server_factory, storage):
    """``serve --workers 3``: stateless processes on one database and blob store; whichever
    worker answers, the token, the secrets and the bundles are the same."""
    server = leger_server_factory(
        database=storage["database"],
        blobs=storage["blobs"],
        env=storage["env"],
        extra_args=["--workers", "3"],
    )
    server.storage = storage
    data = make_bundle()
    token = server.login("multi")
    for i in range(6):
        with server.api(token) as api:  # a new connection each time: any worker may answer
            assert api.post(f"/api/secrets/k{i}", json={"value": f"v{i}"}).status_code == 201
    with server.api(token) as api:
        assert api.post("/api/releases", content=data, headers=GZ).status_code == 201
    for i in range(6):
        with server.api(token) as api:
            assert api.get(f"/api/secrets/k{i}").json()["data"]["value"] == f"v{i}"
            assert api.get("/api/releases/latest/download").content == data
    assert server.log().count("Started server process") == 3


def test_concurrent_first_logins_make_one_user(shared_server, fresh_user):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        users = list(pool.map(lambda _: shared_server.login_full(fresh_user)["user"], range(8)))
    assert len({u["user_uuid"] for u in users}) == 1
    with shared_server.api(shared_server.login(fresh_user)) as api:
        assert api.get("/api/me").json()["data"]["total_authentications"] == 9


def test_logout_revokes_one_token_on_every_storage(shared_server, fresh_user):
    """Migration 0002 and the revocation store on SQLite and PostgreSQL alike, two logouts of
    the same token included (on PostgreSQL the second insert aborts its transaction)."""
    import concurrent.futures

    out, kept = shared_server.login(fresh_user), shared_server.login(fresh_user)
    with shared_server.api(out) as api:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda _: api.post("/api/auth/logout").status_code, [0, 1]))
        # One of the two logs it out; the other finds it logged out already (or also succeeds).
        assert 200 in answers and set(answers) <= {200, 401}, answers
        resp = api.get("/api/secrets")
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "token_revoked"
    with shared_server.api(kept) as api:
        assert api.get("/api/secrets").status_code == 200


def test_a_login_code_is_redeemed_once_and_logout_all_works_on_every_storage(
    shared_server, fresh_user
):
    """Migration 0003 on SQLite and PostgreSQL alike: of four concurrent redemptions of one
    code exactly one starts a session; log out everywhere ends every token."""
    import concurrent.futures

    import httpx

    from leger_testkit.web import login_code, redeem

    token = shared_server.login(fresh_user)
    code = login_code(shared_server, token)

    def attempt(_: int) -> int:
        with httpx.Client(base_url=shared_server.url) as browser:
            return redeem(browser, code).status_code

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = sorted(pool.map(attempt, range(4)))
    assert answers == [303, 401, 401, 401], answers
    with shared_server.api(token) as api:
        assert api.post("/api/auth/logout-all").status_code == 200
        assert api.get("/api/secrets").json()["error"]["code"] == "token_revoked"
    with shared_server.api(shared_server.login(fresh_user)) as api:
        assert api.get("/api/secrets").status_code == 200
