"""The web UI: the one-time link `leger auth login --browser` opens, its confirmation, the API
keys page it lands on, and logging out everywhere."""

from __future__ import annotations

import html as htmllib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from demo_kit import BIN, Demo, DemoFailed, free_port

TITLE = "Web UI: log in with the CLI's one-time code, keys shown masked"

CHROMIUM = "/usr/bin/chromium"
DEMO_KEY = "sk-demo-web-3b7e1c"  # only stored when the account has no OpenAI key yet


def _server_url(demo: Demo) -> str:
    """The server step's leger-server, or (when this step runs alone) one of our own."""
    url = demo.state.get("server_url")
    if url:
        return str(url)

    port = free_port()
    demo.say("No server from an earlier step: starting a dev leger-server for this one.")
    demo.background(
        [
            str(BIN / "leger-server"),
            "serve",
            "--identity",
            "dev",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(demo.tmp / "web-server"),
        ],
        log="web-server.log",
    )
    url = f"http://127.0.0.1:{port}"
    demo.wait_healthy(url, "leger-server")
    demo.state["server_url"] = url
    return url


def _link_catcher(demo: Demo) -> tuple[str, Path]:
    """A $BROWSER for Python's webbrowser that keeps the link (0600) instead of opening it."""
    link = demo.tmp / "web-login-link"
    script = demo.tmp / "catch-link"
    script.write_text(
        f"#!{sys.executable}\nimport os, sys\n"
        f"fd = os.open({str(link)!r}, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)\n"
        "os.write(fd, sys.argv[1].encode())\n"
    )
    script.chmod(stat.S_IRWXU)
    return f"{script} %s", link


def run(demo: Demo) -> None:
    import httpx

    url = _server_url(demo)
    has_identity = (
        subprocess.run(
            [str(BIN / "leger"), "config", "get", "identity.user_id"],
            env=demo.env,
            capture_output=True,
        ).returncode
        == 0
    )
    if not has_identity:
        for key, value in [
            ("user_id", "demo-alice"),
            ("email", "alice@example.com"),
            ("tailnet", "example.ts.net"),
            ("device_id", "demo-laptop"),
        ]:
            demo.sh(["leger", "config", "set", f"identity.{key}", value])
    browser, link_file = _link_catcher(demo)
    demo.say("`--browser` asks the server for a one-time code and hands the browser a link with")
    demo.say("only that code ($BROWSER here keeps it); the API token never enters a URL:")
    login = demo.sh(
        ["leger", "auth", "login", "--server", url, "--browser"],
        env={"BROWSER": browser, "LEGER_TOKEN_STORE": "file"},
    )
    link = link_file.read_text()
    link_file.unlink()
    base, _, code = link.partition("?code=")
    if base != f"{url}/login/code" or not code or code not in login.stdout:
        raise DemoFailed(f"unexpected login link {link}")
    token_file = Path(demo.env["XDG_STATE_HOME"]) / "leger" / "cloud-token.json"
    token = json.loads(token_file.read_text())[url]
    if token in link or token in login.stdout:
        raise DemoFailed("the API token appeared in the login link or the output")
    demo.say(f"The link: {link} (60 seconds, works once)")

    listed = demo.sh(
        ["leger", "secrets", "list", "--json"], show=False, env={"LEGER_TOKEN_STORE": "file"}
    )
    if '"openai_api_key"' not in listed.stdout:
        demo.say("Storing an OpenAI key (from stdin) so the page has one to show:")
        demo.sh(
            ["leger", "secrets", "set", "openai_api_key"],
            input=DEMO_KEY,
            env={"LEGER_TOKEN_STORE": "file"},
        )

    with httpx.Client(base_url=url, timeout=10) as browser_like:
        confirm = browser_like.get(link)
        heading = re.search(r'<h1 id="code-title">(.*?)</h1>', confirm.text)
        demo.say(
            f"GET the link → {confirm.status_code} "
            f"'{htmllib.unescape(heading.group(1)) if heading else '?'}'; cookies set: "
            f"{'yes' if 'set-cookie' in confirm.headers else 'none'} (a GET starts nothing)"
        )
        if "set-cookie" in confirm.headers or not heading:
            raise DemoFailed("the confirmation page set a cookie or named no account")
        # The button's POST, as the browser sends it from the page itself.
        landing = browser_like.post(
            "/login/code",
            data={"code": code},
            headers={"Sec-Fetch-Site": "same-origin"},
            follow_redirects=False,
        )
        cookie = landing.headers.get("set-cookie", "")
        flags = [f for f in ("HttpOnly", "SameSite=strict") if f.lower() in cookie.lower()]
        demo.say(
            f"POST /login/code (the button) → {landing.status_code} to "
            f"{landing.headers.get('location')}; session cookie set with {', '.join(flags)}"
        )
        again = httpx.post(
            url + "/login/code", data={"code": code}, headers={"Sec-Fetch-Site": "same-origin"}
        )
        demo.say(f"The same code a second time → {again.status_code} (single use)")
        if again.status_code != 401:
            raise DemoFailed("a login code worked twice")
        page = browser_like.get("/api-keys")
        session = browser_like.cookies["leger_session"]
    html = page.text
    title = re.search(r"<title>(.*?)</title>", html)
    demo.say(
        f"GET /api-keys → {page.status_code}: {htmllib.unescape(title.group(1)) if title else '?'}"
    )
    status = re.search(r'id="openai_api_key-status">(.*?)</p>', html, re.S)
    if not status:
        raise DemoFailed("the API keys page has no OpenAI row")
    row = " ".join(re.sub(r"<[^>]+>", " ", status.group(1)).split())
    row = row.replace(" Delete", "")
    demo.say(f"  OpenAI · API key: •••••••••••••••• — {row}")
    with httpx.Client(base_url=url, timeout=10) as api:
        stored = api.get(
            "/api/secrets/openai_api_key", headers={"Authorization": f"Bearer {token}"}
        ).json()["data"]["value"]
    if stored in html:
        raise DemoFailed("a key value appeared in the page source")
    demo.say("The page source holds no key value; Show fetches one on demand (POST + CSRF).")

    if os.path.exists(CHROMIUM) and shutil.which("chromium"):
        shot = demo.tmp / "web-api-keys.png"
        try:
            _screenshot(url, session, shot)
        except Exception as exc:  # a screenshot is a bonus; the page was already checked
            demo.say(f"(no screenshot: {type(exc).__name__})")
        else:
            demo.say(
                f"Screenshot of /api-keys in Chromium: {shot}"
                + ("" if demo.keep else " (run with --keep to look at it)")
            )

    demo.say("Log out everywhere: every token of the account (this machine's, the browser's,")
    demo.say("a stolen copy) stops working; logging in again works as before:")
    demo.sh(["leger", "auth", "logout", "--all"], env={"LEGER_TOKEN_STORE": "file"})
    with httpx.Client(base_url=url, timeout=10) as api:
        after = api.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        cookie_after = api.get("/api/me", headers={"Authorization": f"Bearer {session}"})
    code = after.json().get("error", {}).get("code")
    if after.status_code != 401 or code != "token_revoked" or cookie_after.status_code != 401:
        raise DemoFailed(f"a logged-out token still works: {after.status_code} {code}")
    demo.say(
        f"GET /api/me with the CLI's old token → {after.status_code} {code}; "
        f"with the browser's → {cookie_after.status_code}"
    )


def _screenshot(url: str, session: str, path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from leger_testkit.web import CHROMIUM_ARGS

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1100, "height": 800})
            context.add_cookies([{"name": "leger_session", "value": session, "url": url}])
            page = context.new_page()
            page.goto(url + "/api-keys")
            page.wait_for_url("**/api-keys")
            page.screenshot(path=str(path), full_page=True)
        finally:
            browser.close()
