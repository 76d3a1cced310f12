"""The seeds' end-to-end test (backend-spec-v2, "End-to-End Test"), as a user runs it:
log in → create test_key=test123 through the API → `leger secrets get test_key` prints
test123 → upload a bundle → it is listed → download it → the bytes are identical."""

from __future__ import annotations

import json
from pathlib import Path

from leger_server.testing import make_bundle


def test_seeds_end_to_end(leger_server, leger_cli, tmp_path: Path) -> None:
    # 1-2. Log in from the CLI.
    leger_cli("auth", "login", "--server", leger_server.url)
    token = json.loads((leger_cli.state_dir / "cloud-token.json").read_text())[leger_server.url]

    # 3-4. Create the secret through the API (as the web UI does).
    with leger_server.api(token) as api:
        resp = api.post("/api/secrets/test_key", json={"value": "test123"})
        assert resp.status_code == 201 and resp.json()["success"] is True

    # 5. The CLI reads it back.
    assert leger_cli("secrets", "get", "test_key").stdout == "test123\n"

    # 6. Upload a bundle from the CLI.
    bundle = tmp_path / "release.tar.gz"
    bundle.write_bytes(
        make_bundle(
            {
                "openwebui.container": b"[Container]\nImage=ghcr.io/open-webui/open-webui:main\n",
                "openwebui.volume": b"[Volume]\n",
            }
        )
    )
    uploaded = json.loads(leger_cli("releases", "upload", str(bundle), "--json").stdout)

    # 7. It is listed.
    listed = json.loads(leger_cli("releases", "list", "--json").stdout)
    assert [(r["id"], r["version"]) for r in listed] == [(uploaded["id"], 1)]
    assert "openwebui" in leger_cli("releases", "list").stdout

    # 8-9. Download it; the bytes are identical.
    dest = tmp_path / "downloaded.tar.gz"
    leger_cli("releases", "download", str(uploaded["version"]), "-o", str(dest))
    assert dest.read_bytes() == bundle.read_bytes()
