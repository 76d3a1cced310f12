"""The browser's login: a one-time code from the CLI (never its token in a URL), shown on a page
that names the account, redeemed only by a same-site POST; "Sign in with Tailscale" by WhoIs;
log out everywhere."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
import sqlalchemy as sa

from leger_server.testing import LocalAPIStandIn, RunningServer, bearer
from leger_testkit.web import BrowserSession, browser_session, login_code, redeem


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = RunningServer(tmp_path_factory.mktemp("web-codes") / "data")
    yield running
    running.stop()


def fresh(server: RunningServer, who: str = "user") -> str:
    return server.login(f"{who}-{time.monotonic_ns()}")


def test_a_code_starts_an_httponly_strict_session_on_api_keys(server: RunningServer) -> None:
    token = fresh(server)
    code = login_code(server, token)
    assert len(code) == 9 and code[4] == "-"
    with httpx.Client(base_url=server.url) as browser:
        resp = redeem(browser, code)
        assert resp.status_code == 303 and resp.headers["location"] == "/api-keys"
        cookie = resp.headers["set-cookie"]
        assert cookie.startswith("leger_session=") and "HttpOnly" in cookie
        assert "samesite=strict" in cookie.lower() and "Path=/" in cookie
        session = browser.cookies["leger_session"]
        assert session != token
        me = browser.get("/api/me").json()["data"]
    assert me["user_uuid"] == jwt.decode(token, options={"verify_signature": False})["sub"]


def test_the_get_names_the_account_and_sets_no_cookie(server: RunningServer) -> None:
    data = server.login_full(f"named-{time.monotonic_ns()}")
    code = login_code(server, data["token"])
    resp = httpx.get(f"{server.url}/login/code", params={"code": code}, follow_redirects=False)
    assert resp.status_code == 200
    assert "set-cookie" not in resp.headers
    assert f"Log in as {data['user']['email']}" in resp.text
    assert 'method="post" action="/login/code"' in resp.text
    # The GET did not use the code up: the POST still works, once.
    with httpx.Client(base_url=server.url) as browser:
        assert redeem(browser, code).status_code == 303


def test_a_code_works_once(server: RunningServer) -> None:
    code = login_code(server, fresh(server))
    with httpx.Client(base_url=server.url) as first, httpx.Client(base_url=server.url) as second:
        assert redeem(first, code).status_code == 303
        again = redeem(second, code)
        assert again.status_code == 401 and "used already" in again.text
        assert "leger_session" not in second.cookies


def test_an_expired_code_starts_nothing(server: RunningServer) -> None:
    code = login_code(server, fresh(server))
    engine = sa.create_engine(f"sqlite:///{server.data_dir / 'leger.db'}")
    with engine.begin() as conn:  # as if 61 seconds had passed
        conn.execute(
            sa.text("UPDATE login_codes SET expires_at = :t"),
            {"t": datetime.now(UTC) - timedelta(seconds=1)},
        )
    engine.dispose()
    page = httpx.get(f"{server.url}/login/code", params={"code": code})
    assert page.status_code == 401 and "expired" in page.text
    with httpx.Client(base_url=server.url) as browser:
        assert redeem(browser, code).status_code == 401
        assert "leger_session" not in browser.cookies


@pytest.mark.parametrize("code", ["", "AAAA-AAAA", "x" * 100])
def test_a_wrong_code_starts_nothing(server: RunningServer, code: str) -> None:
    with httpx.Client(base_url=server.url) as browser:
        resp = redeem(browser, code)
        assert resp.status_code in (400, 401)
        assert "leger_session" not in browser.cookies
        assert "leger auth login --browser" in resp.text


def test_the_code_is_stored_hashed(server: RunningServer) -> None:
    code = login_code(server, fresh(server))
    raw = b"".join(p.read_bytes() for p in server.data_dir.glob("leger.db*"))
    assert code.encode() not in raw and code.replace("-", "").encode() not in raw


def test_a_cross_site_post_of_an_attackers_code_does_not_switch_a_session(
    server: RunningServer,
) -> None:
    """A link or auto-submitted form from another site with the attacker's code: the GET only
    shows whose account it is; a POST the other site made is refused; the victim stays."""
    victim = browser_session(server, f"victim-{time.monotonic_ns()}")
    attacker_code = login_code(server, fresh(server, "attacker"))
    page = victim.client.get("/login/code", params={"code": attacker_code})
    assert "set-cookie" not in page.headers
    assert "You are logged in as" in page.text and "switches this browser" in page.text
    for headers in (
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"X-Nothing": "1"},  # neither Fetch Metadata nor Origin: not from our page
    ):
        refused = redeem(victim.client, attacker_code, **headers)
        assert refused.status_code == 403, headers
    assert victim.client.get("/api/me").json()["data"]["user_uuid"] == victim.user["user_uuid"]
    # The victim's own confirmation would switch (that is what the page asks).
    assert redeem(victim.client, attacker_code).status_code == 303


def test_a_code_needs_a_bearer_token_not_the_cookie(server: RunningServer) -> None:
    session = browser_session(server, f"cookie-{time.monotonic_ns()}")
    assert session.client.post("/api/auth/login-code").status_code == 403
    assert httpx.post(f"{server.url}/api/auth/login-code").status_code == 401


def test_the_old_token_link_starts_no_session(server: RunningServer) -> None:
    token = fresh(server)
    resp = httpx.get(f"{server.url}/auth", params={"token": token}, follow_redirects=False)
    assert "set-cookie" not in resp.headers


def test_a_session_never_outlives_the_cli_token(server: RunningServer) -> None:
    token = fresh(server)
    cli_exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    with httpx.Client(base_url=server.url) as browser:
        resp = redeem(browser, login_code(server, token))
        session = browser.cookies["leger_session"]
    assert jwt.decode(session, options={"verify_signature": False})["exp"] <= cli_exp
    max_age = int(resp.headers["set-cookie"].split("Max-Age=")[1].split(";")[0])
    assert 0 < max_age <= cli_exp - time.time() + 1


def test_the_code_never_reaches_the_server_log(tmp_path: Path) -> None:
    own = RunningServer(tmp_path / "data")
    try:
        token = own.login("log-user")
        code = login_code(own, token)
        httpx.get(f"{own.url}/login/code", params={"code": code})
    finally:
        own.stop()  # flushes the log
    log = own.log()
    assert "GET /login/code?code=[redacted]" in log
    assert code not in log and token not in log


# --- log out everywhere ------------------------------------------------------------------------


def test_logout_all_cuts_off_a_stolen_token_and_the_victim_logs_in_again(
    server: RunningServer,
) -> None:
    user_id = f"victim-{time.monotonic_ns()}"
    mine, stolen = server.login(user_id), server.login(user_id)
    code = login_code(server, stolen)  # an unredeemed code dies too
    browser = browser_session(server, user_id)
    resp = httpx.post(f"{server.url}/api/auth/logout-all", headers=bearer(mine))
    assert resp.status_code == 200 and resp.json()["data"]["everywhere"] is True
    for token in (mine, stolen, browser.client.cookies["leger_session"]):
        gone = httpx.get(f"{server.url}/api/me", headers=bearer(token))
        assert gone.status_code == 401 and gone.json()["error"]["code"] == "token_revoked"
    with httpx.Client(base_url=server.url) as other:
        assert redeem(other, code).status_code == 401
    again = server.login(user_id)
    assert httpx.get(f"{server.url}/api/me", headers=bearer(again)).status_code == 200


def test_the_settings_button_logs_out_everywhere(server: RunningServer) -> None:
    user_id = f"button-{time.monotonic_ns()}"
    cli = server.login(user_id)
    browser: BrowserSession = browser_session(server, user_id)
    page = browser.client.get("/settings")
    assert "Log out everywhere" in page.text
    refused = browser.post_form("/logout-everywhere", {"go": "1"}, csrf="")
    assert refused.status_code == 403
    assert httpx.get(f"{server.url}/api/me", headers=bearer(cli)).status_code == 200
    done = browser.post_form("/logout-everywhere", {"go": "1"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/login?logged_out=everywhere"
    assert httpx.get(f"{server.url}/api/me", headers=bearer(cli)).status_code == 401
    assert "logged out everywhere" in httpx.get(f"{server.url}{done.headers['location']}").text


# --- Sign in with Tailscale ---------------------------------------------------------------------


def test_sign_in_with_tailscale_recognises_a_tailnet_browser(
    leger_server_factory, tailscale_localapi: LocalAPIStandIn
) -> None:
    tailscale_localapi.add_member(
        "127.0.0.2", login="alice@github", user_id=123456789, node_id=2929
    )
    server = leger_server_factory(identity="tailscale", env=tailscale_localapi.server_env())

    def browser(address: str) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=address)
        return httpx.Client(base_url=server.url, transport=transport, follow_redirects=False)

    with browser("127.0.0.2") as alice, browser("127.0.0.9") as stranger:
        assert "Sign in with Tailscale" in alice.get("/login").text
        assert "set-cookie" not in alice.get("/login").headers
        cross = alice.post("/login/tailscale", headers={"Sec-Fetch-Site": "cross-site"})
        assert cross.status_code == 403 and "leger_session" not in alice.cookies
        resp = alice.post("/login/tailscale", headers={"Sec-Fetch-Site": "same-origin"})
        assert resp.status_code == 303 and resp.headers["location"] == "/api-keys"
        assert alice.get("/api/me").json()["data"]["email"] == "alice@github"
        refused = stranger.post("/login/tailscale", headers={"Sec-Fetch-Site": "same-origin"})
        assert refused.status_code == 401 and "not a Tailscale peer" in refused.text
        assert "leger_session" not in stranger.cookies


def test_a_dev_server_offers_no_tailscale_button(server: RunningServer) -> None:
    assert "Sign in with Tailscale" not in httpx.get(f"{server.url}/login").text
    cross = httpx.post(f"{server.url}/login/tailscale", headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    resp = httpx.post(f"{server.url}/login/tailscale", headers={"Sec-Fetch-Site": "same-origin"})
    assert resp.status_code == 404 and "set-cookie" not in resp.headers
