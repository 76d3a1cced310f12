"""The web UI over plain HTTP (no browser): redirects to /login,
CSRF on every form, one user's session never touching another's data, and no stored value in
any page's source."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from leger_server.testing import RunningServer
from leger_testkit.web import BrowserSession, browser_session, csrf_from

SECRET = "sk-test-web-FORMS-4f9a2c"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = RunningServer(tmp_path_factory.mktemp("web-forms") / "data")
    yield running
    running.stop()


@pytest.fixture
def alice(server: RunningServer) -> BrowserSession:
    return browser_session(server, f"alice-{time.monotonic_ns()}")


@pytest.fixture
def bob(server: RunningServer) -> BrowserSession:
    return browser_session(server, f"bob-{time.monotonic_ns()}")


def _secrets(session: BrowserSession, server: RunningServer) -> list[str]:
    with server.api(session.token) as api:
        return [s["name"] for s in api.get("/api/secrets").json()["data"]["secrets"]]


@pytest.mark.parametrize("path", ["/api-keys", "/releases", "/releases/new", "/settings", "/"])
def test_pages_without_a_session_send_the_browser_to_login(
    server: RunningServer, path: str
) -> None:
    resp = httpx.get(server.url + path, follow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/login"


def test_an_expired_session_lands_on_login_saying_so(server: RunningServer) -> None:
    user_uuid = server.login_full("expired-user")["user"]["user_uuid"]
    keys = json.loads((server.data_dir / "keys.json").read_text())
    secret = base64.b64decode(keys["jwt_secret"])
    now = int(time.time())
    expired = jwt.encode(
        {"sub": user_uuid, "iat": now - 100, "exp": now - 10, "jti": "old-session"},
        secret,
        algorithm="HS256",
    )
    client = httpx.Client(base_url=server.url, cookies={"leger_session": expired})
    resp = client.get("/api-keys", follow_redirects=False)
    assert resp.headers["location"] == "/login?expired=1"
    page = client.get("/login?expired=1")
    assert "Your session has expired" in page.text
    assert "leger auth login --browser" in page.text


def test_a_form_without_the_csrf_token_changes_nothing(
    server: RunningServer, alice: BrowserSession
) -> None:
    resp = alice.post_form("/api-keys/openai", {"openai_api_key": SECRET}, csrf="")
    assert resp.status_code == 403
    assert _secrets(alice, server) == []
    resp = alice.post_form("/settings", {"display_name": "Mallory"}, csrf="")
    assert resp.status_code == 403
    resp = alice.post_form(
        "/releases/new", {"name": "x", "git_url": "https://example.com/x.git"}, csrf="forged"
    )
    assert resp.status_code == 403
    with server.api(alice.token) as api:
        assert api.get("/api/me").json()["data"]["display_name"] is None
        assert api.get("/api/releases").json()["data"]["releases"] == []


def test_a_form_posted_from_another_site_changes_nothing(
    server: RunningServer, alice: BrowserSession
) -> None:
    resp = alice.post_form(
        "/api-keys/openai",
        {"openai_api_key": SECRET},
        headers={"Origin": "https://evil.example"},
    )
    assert resp.status_code == 403
    assert _secrets(alice, server) == []


def test_another_users_session_changes_nothing(
    server: RunningServer, alice: BrowserSession, bob: BrowserSession
) -> None:
    with server.api(alice.token) as api:
        api.post("/api/secrets/openai_api_key", json={"value": SECRET}).raise_for_status()
        release = api.post(
            "/api/releases",
            json={"name": "alice-stack", "git_url": "https://example.com/a.git"},
        ).json()["data"]
    # Bob's cookie with Alice's CSRF token: refused before anything runs.
    for path, data in [
        ("/api-keys/delete", {"name": "openai_api_key"}),
        ("/api-keys/openai", {"openai_api_key": "sk-bob"}),
        (f"/releases/{release['id']}/delete", {}),
    ]:
        resp = bob.post_form(path, data, csrf=alice.csrf)
        assert resp.status_code == 403, path
    # Bob's own valid session: Alice's things do not exist for him.
    assert bob.client.get(f"/releases/{release['id']}").status_code == 404
    resp = bob.post_form(
        f"/releases/{release['id']}",
        {"name": "stolen", "git_url": "https://evil.example/x.git", "git_branch": "main"},
    )
    assert resp.status_code == 404
    assert bob.post_form(f"/releases/{release['id']}/delete", {}).status_code == 404
    # Bob deleting "openai_api_key" deletes only his own (he has none).
    assert bob.post_form("/api-keys/delete", {"name": "openai_api_key"}).status_code == 404
    resp = bob.post_form(
        "/api-keys/reveal", {"name": "openai_api_key"}, headers={"X-CSRF-Token": bob.csrf}
    )
    assert resp.status_code == 404
    assert SECRET not in resp.text
    with server.api(alice.token) as api:
        assert api.get("/api/secrets/openai_api_key").json()["data"]["value"] == SECRET
        after = api.get(f"/api/releases/{release['id']}").json()["data"]
    assert after == release


def test_the_page_source_never_holds_a_stored_value(
    server: RunningServer, alice: BrowserSession
) -> None:
    resp = alice.post_form("/api-keys/openai", {"openai_api_key": f"  {SECRET}\n"})
    assert resp.status_code == 303
    assert resp.headers["location"] == "/api-keys?saved=openai#section-openai"
    page = alice.client.get("/api-keys?saved=openai")
    assert "OpenAI saved." in page.text
    assert SECRET not in page.text
    assert "Last updated" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    # Show fetches it on demand: POST, this session's CSRF token, never cached.
    denied = alice.client.post("/api-keys/reveal", data={"name": "openai_api_key"})
    assert denied.status_code == 403
    assert SECRET not in denied.text
    shown = alice.client.post(
        "/api-keys/reveal", data={"name": "openai_api_key"}, headers={"X-CSRF-Token": alice.csrf}
    )
    assert shown.json()["data"] == {"name": "openai_api_key", "value": SECRET}  # stripped
    assert shown.headers["cache-control"] == "no-store"
    assert alice.client.get("/api-keys/reveal?name=openai_api_key").status_code == 405


def test_an_empty_provider_form_or_a_bad_custom_name_is_explained_and_changes_nothing(
    server: RunningServer, alice: BrowserSession
) -> None:
    resp = alice.post_form("/api-keys/anthropic", {"anthropic_api_key": "   "})
    assert resp.status_code == 400
    assert "Enter a new value to save" in resp.text
    resp = alice.post_form("/api-keys/custom", {"custom_name": "bad name", "custom_value": "v"})
    assert resp.status_code == 400
    assert "no spaces" in resp.text
    resp = alice.post_form("/api-keys/custom", {"custom_name": "x" * 129, "custom_value": "v"})
    assert resp.status_code == 400
    assert _secrets(alice, server) == []


def test_release_form_errors_name_the_field_and_create_nothing(
    server: RunningServer, alice: BrowserSession
) -> None:
    resp = alice.post_form("/releases/new", {"name": "", "git_url": ""})
    assert resp.status_code == 400
    assert "Enter a release name." in resp.text
    assert "Enter the git repository URL." in resp.text
    resp = alice.post_form(
        "/releases/new", {"name": "ok", "git_url": "not a url", "git_branch": "main"}
    )
    assert resp.status_code == 400
    assert 'id="git_url-error"' in resp.text
    assert 'value="not a url"' in resp.text  # what was typed is kept
    resp = alice.post_form(
        "/releases/new", {"name": "ok", "git_url": "https://x.example/r.git", "git_branch": ".."}
    )
    assert resp.status_code == 400
    assert 'id="git_branch-error"' in resp.text
    with server.api(alice.token) as api:
        assert api.get("/api/releases").json()["data"]["releases"] == []
    good = {"name": "dup", "git_url": "https://x.example/r.git", "git_branch": "main"}
    assert alice.post_form("/releases/new", good).status_code == 303
    resp = alice.post_form("/releases/new", good)
    assert resp.status_code == 400
    assert "You already have a release named dup" in resp.text
    with server.api(alice.token) as api:
        assert len(api.get("/api/releases").json()["data"]["releases"]) == 1


def test_display_name_over_32_characters_is_refused_and_kept_as_it_was(
    server: RunningServer, alice: BrowserSession
) -> None:
    assert alice.post_form("/settings", {"display_name": "Alice"}).status_code == 303
    resp = alice.post_form("/settings", {"display_name": "A" * 33})
    assert resp.status_code == 400
    assert "at most 32 characters" in resp.text
    with server.api(alice.token) as api:
        assert api.get("/api/me").json()["data"]["display_name"] == "Alice"


def test_logout_ends_the_browser_session(server: RunningServer, alice: BrowserSession) -> None:
    page = alice.client.get("/settings")
    resp = alice.post_form("/logout", {}, csrf=csrf_from(page.text))
    assert resp.status_code == 303
    assert resp.headers["location"] == "/login?logged_out=1"
    assert "leger_session" not in alice.client.cookies
    assert alice.client.get("/api-keys", follow_redirects=False).status_code == 303


def test_static_files_are_served(server: RunningServer) -> None:
    for name in ("app.css", "app.js"):
        assert httpx.get(f"{server.url}/static/{name}").status_code == 200


def test_deleting_a_release_and_a_custom_key_from_their_pages(
    server: RunningServer, alice: BrowserSession
) -> None:
    created = alice.post_form(
        "/releases/new", {"name": "gone", "git_url": "https://x.example/g.git"}
    )
    release_id = created.headers["location"].split("/")[2].split("?")[0]
    resp = alice.post_form(f"/releases/{release_id}/delete", {})
    assert resp.headers["location"] == "/releases?deleted=1"
    assert "Release deleted." in alice.client.get("/releases?deleted=1").text
    assert alice.client.get(f"/releases/{release_id}").status_code == 404
    alice.post_form("/api-keys/custom", {"custom_name": "searxng_secret", "custom_value": "v"})
    resp = alice.post_form("/api-keys/delete", {"name": "searxng_secret"})
    assert resp.headers["location"] == "/api-keys?deleted=searxng_secret"
    assert _secrets(alice, server) == []
    # A name that cannot exist is a clear error page, not a crash.
    assert alice.post_form("/api-keys/delete", {"name": "../x"}).status_code == 400


# The provider sections and the secret names each saves (the names quadlets ask for).
SECTIONS = [
    ("openai", "OpenAI", {"openai_api_key": "sk-openai-T1", "openai_org_id": "org-T1"}),
    ("anthropic", "Anthropic", {"anthropic_api_key": "sk-ant-T1"}),
    ("google", "Google AI", {"google_api_key": "AIza-google-T1"}),
    ("groq", "Groq", {"groq_api_key": "gsk_groq-T1"}),
]


@pytest.mark.parametrize(("slug", "title", "fields"), SECTIONS, ids=[s[0] for s in SECTIONS])
def test_each_provider_section_is_shown_and_saves_its_secrets(
    server: RunningServer, alice: BrowserSession, slug: str, title: str, fields: dict[str, str]
) -> None:
    page = alice.client.get("/api-keys").text
    assert f'id="section-{slug}"' in page and f">{title}<" in page
    for name in fields:
        assert f'name="{name}"' in page
    resp = alice.post_form(f"/api-keys/{slug}", fields)
    assert resp.status_code == 303 and resp.headers["location"].startswith(
        f"/api-keys?saved={slug}"
    )
    with server.api(alice.token) as api:
        stored = api.get("/api/secrets", params={"include_values": "true"}).json()["data"]
    assert {s["name"]: s["value"] for s in stored["secrets"]} == fields
    assert not any(value in alice.client.get("/api-keys").text for value in fields.values())


def test_every_form_refuses_a_post_without_its_csrf_token(
    server: RunningServer, alice: BrowserSession, tmp_path: Path
) -> None:
    """Every POST route of the web UI, found from its routing table (a new form is covered as
    soon as it exists), answers 403 without the token and changes nothing."""
    from starlette.routing import Route

    from leger_server.settings import Settings
    from leger_server.web import routes

    table = routes(Settings.build(data_dir=tmp_path / "routes", identity="dev", env={}))

    with server.api(alice.token) as api:
        api.post("/api/secrets/openai_api_key", json={"value": SECRET}).raise_for_status()
        release = api.post(
            "/api/releases", json={"name": "kept", "git_url": "https://example.com/k.git"}
        ).json()["data"]
    assert alice.post_form("/settings", {"display_name": "Alice"}).status_code == 303
    fill = {"section": "openai", "ref": str(release["id"])}
    posts = [
        r.path.format(**fill) for r in table if isinstance(r, Route) and "POST" in (r.methods or ())
    ]
    assert len(posts) >= 9, posts
    form = {
        "openai_api_key": "sk-overwritten", "name": "openai_api_key", "display_name": "Mallory",
        "git_url": "https://evil.example/x.git", "git_branch": "main", "token": alice.token,
    }  # fmt: skip
    for path in posts:
        resp = alice.post_form(path, form, csrf="", follow_redirects=False)
        assert resp.status_code == 403, (path, resp.status_code)
    with server.api(alice.token) as api:
        values = api.get("/api/secrets", params={"include_values": "true"}).json()["data"]
        assert [(s["name"], s["value"]) for s in values["secrets"]] == [("openai_api_key", SECRET)]
        got = api.get(f"/api/releases/{release['id']}").json()["data"]
        assert (got["name"], got["git_url"]) == ("kept", "https://example.com/k.git")
        assert api.get("/api/me").json()["data"]["display_name"] == "Alice"
    assert alice.client.get("/settings", follow_redirects=False).status_code == 200  # still in


def test_logout_logs_the_sessions_token_out_on_the_server(
    server: RunningServer, alice: BrowserSession
) -> None:
    """A copy of the cookie (another tab, a stolen one) is useless after logout, while the
    CLI's token, which the session came from, stays logged in."""
    cookie = alice.client.cookies["leger_session"]
    page = alice.client.get("/settings")
    assert alice.post_form("/logout", {}, csrf=csrf_from(page.text)).status_code == 303
    copy = httpx.get(f"{server.url}/api-keys", cookies={"leger_session": cookie},
                     follow_redirects=False)  # fmt: skip
    assert copy.status_code == 303 and copy.headers["location"].startswith("/login")
    api = httpx.get(f"{server.url}/api/me", headers={"Authorization": f"Bearer {cookie}"})
    assert api.status_code == 401 and api.json()["error"]["code"] == "token_revoked"
    with server.api(alice.token) as cli:
        assert cli.get("/api/me").status_code == 200


def test_home_with_a_session_is_the_api_keys_page(server: RunningServer, alice: BrowserSession):
    resp = alice.client.get("/", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/api-keys"


def test_release_cards_show_name_version_source_updated_and_deploy_command(
    server: RunningServer, alice: BrowserSession
) -> None:
    with server.api(alice.token) as api:
        made = api.post(
            "/api/releases",
            json={"name": "cards", "git_url": "https://example.com/c.git", "git_branch": "dev"},
        ).json()["data"]
    page = alice.client.get("/releases").text
    card = page[page.index(f'id="r-{made["id"]}"') :].split("</li>")[0]
    assert ">cards</a>" in card and "Version 1 · Git" in card
    assert "https://example.com/c.git" in card and "<dd>dev</dd>" in card
    assert f'<time datetime="{made["updated_at"]}">' in card
    assert "leger deploy install cards" in card
