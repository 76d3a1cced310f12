"""The web UI driven in a real browser: Playwright and Debian's Chromium walk every page the way
a person does, from the CLI's login link to saving, showing and deleting a key, releases and
settings. Each page's screenshot goes to ``artifacts/screenshots/`` at the repository root."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from leger_server.testing import RunningServer, make_bundle
from leger_testkit.userenv import user_env
from leger_testkit.web import CHROMIUM, CHROMIUM_ARGS, login_code

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
BIN = Path(sys.executable).parent
OPENAI_KEY = "sk-proj-browser-7Qw2Lm9Xc4"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = RunningServer(tmp_path_factory.mktemp("web-browser") / "data")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def context(browser: Browser, server: RunningServer) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    p = context.new_page()
    p.on("dialog", lambda dialog: dialog.accept())  # the Delete buttons confirm first
    return p


# Fields without a <label> (or aria-label) and buttons without text: what a screen reader
# would announce as just "edit text" or "button".
UNLABELLED = """() => Array.from(document.querySelectorAll(
    'input:not([type=hidden]), textarea, select, button')).filter((el) =>
    el.tagName === 'BUTTON'
      ? !(el.textContent.trim() || el.getAttribute('aria-label'))
      : !((el.labels && el.labels.length) || el.getAttribute('aria-label'))
  ).map((el) => el.outerHTML)"""


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def unique(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns()}"


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def confirm(page: Page, server: RunningServer, link: str) -> None:
    """Open a one-time login link and confirm the account on its page, as a person does."""
    page.goto(link)
    page.locator("#confirm-login").click()
    expect(page).to_have_url(f"{server.url}/api-keys")


def log_in(page: Page, server: RunningServer, user_id: str) -> str:
    """Follow the login link the CLI opens; returns the CLI's token (for API checks)."""
    token = server.login(user_id)
    confirm(page, server, f"{server.url}/login/code?code={login_code(server, token)}")
    return token


def test_login_link_starts_an_httponly_session_and_lands_on_api_keys(
    page: Page, context: BrowserContext, server: RunningServer
) -> None:
    page.goto(f"{server.url}/api-keys")
    expect(page).to_have_url(f"{server.url}/login")
    expect(page.get_by_role("heading", name="Log in to Leger")).to_be_visible()
    expect(page.locator("#login-command")).to_have_text("leger auth login --browser")
    shoot(page, "01-login")

    user_id = unique("login")
    token = server.login(user_id)
    page.goto(f"{server.url}/login/code?code={login_code(server, token)}")
    expect(page.get_by_role("heading", name=f"Log in as {user_id}@example.com?")).to_be_visible()
    assert context.cookies() == []  # the page with the code starts nothing
    shoot(page, "01-login-confirm")
    page.locator("#confirm-login").click()
    expect(page).to_have_url(f"{server.url}/api-keys")
    expect(page.get_by_role("heading", name="API Keys & Integrations")).to_be_visible()
    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["leger_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    # Scripts see no token anywhere: not in storage, not in document.cookie, not in the page.
    assert page.evaluate("() => [localStorage.length, sessionStorage.length]") == [0, 0]
    assert page.evaluate("() => document.cookie") == ""
    assert token not in page.content()
    assert session["value"] not in page.content()

    page.goto(f"{server.url}/login/code?code=AAAA-AAAA")
    expect(page.get_by_role("alert")).to_contain_text("not valid")


def test_another_sites_form_with_an_attackers_code_does_not_switch_the_session(
    page: Page, context: BrowserContext, server: RunningServer
) -> None:
    """The attack on the old /auth?token= link: a page elsewhere submits the attacker's login
    to this server. The browser marks that post cross-site, and the victim stays themselves."""
    victim = unique("victim")
    log_in(page, server, victim)
    code = login_code(server, server.login(unique("attacker")))
    page.goto("about:blank")  # a document of no origin of this server's
    page.set_content(
        f'<form id="f" method="post" action="{server.url}/login/code">'
        f'<input name="code" value="{code}"></form>'
    )
    page.evaluate("() => document.getElementById('f').submit()")
    page.wait_for_load_state()
    expect(page.get_by_role("alert")).to_contain_text("confirmed on this site")
    page.goto(f"{server.url}/settings")
    expect(page.locator("#profile-email")).to_have_text(f"{victim}@example.com")


def test_openai_key_is_saved_masked_after_reload_shown_on_demand_and_deleted(
    page: Page, server: RunningServer
) -> None:
    token = log_in(page, server, unique("keys"))
    section = page.locator("#section-openai")
    save = section.get_by_role("button", name="Save OpenAI")
    key_input = page.get_by_label("API key", exact=True).first
    expect(save).to_be_disabled()  # nothing changed yet
    key_input.fill(OPENAI_KEY)
    expect(save).to_be_enabled()
    page.get_by_label("Organization ID (optional)", exact=True).fill("org-example")
    save.click()

    expect(page.get_by_role("status").first).to_have_text("OpenAI saved.")
    expect(section.locator("#openai_api_key-status")).to_contain_text("Last updated")
    # Only OpenAI's Save was affected; other sections stay disabled.
    expect(page.get_by_role("button", name="Save Anthropic")).to_be_disabled()

    page.reload()
    key_input = page.locator("#openai_api_key")
    expect(key_input).to_have_value("")
    expect(key_input).to_have_attribute("type", "password")
    expect(key_input).to_have_attribute("placeholder", "••••••••••••••••")
    expect(section.locator("#openai_api_key-status")).to_contain_text("Saved")
    assert OPENAI_KEY not in page.content()
    assert "org-example" not in page.content()
    shoot(page, "02-api-keys")

    show = section.get_by_role("button", name="Show OpenAI API key")
    show.click()
    expect(key_input).to_have_value(OPENAI_KEY)
    expect(key_input).to_have_attribute("type", "text")
    expect(section.get_by_role("button", name="Hide OpenAI API key")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(save).to_be_disabled()  # shown is not changed
    shoot(page, "03-api-keys-shown")
    section.get_by_role("button", name="Hide OpenAI API key").click()
    expect(key_input).to_have_value("")
    expect(key_input).to_have_attribute("type", "password")

    section.get_by_role("button", name="Delete OpenAI API key").click()
    expect(page.get_by_role("status").first).to_have_text("Deleted openai_api_key.")
    expect(section.locator("#openai_api_key-status")).to_contain_text("Not set")
    with server.api(token) as api:
        assert api.get("/api/secrets/openai_api_key").status_code == 404
        assert api.get("/api/secrets/openai_org_id").json()["data"]["value"] == "org-example"


def test_custom_key_errors_are_shown_in_its_section_and_a_good_one_is_listed(
    page: Page, server: RunningServer
) -> None:
    log_in(page, server, unique("custom"))
    custom = page.locator("#section-custom")
    page.get_by_label("Name", exact=True).fill("bad name")
    page.get_by_label("Value", exact=True).fill("v1")
    custom.get_by_role("button", name="Save custom key").click()
    expect(custom.get_by_role("alert")).to_contain_text("no spaces")
    page.get_by_label("Name", exact=True).fill("searxng_secret")
    page.get_by_label("Value", exact=True).fill("s3cr3t-value")
    custom.get_by_role("button", name="Save custom key").click()
    expect(page.get_by_role("status").first).to_have_text("Custom key saved.")
    row = custom.get_by_role("listitem").filter(has_text="searxng_secret")
    expect(row).to_contain_text("••••••••")
    assert "s3cr3t-value" not in page.content()
    row.get_by_role("button", name="Show searxng_secret").click()
    expect(row).to_contain_text("s3cr3t-value")
    row.get_by_role("button", name="Hide searxng_secret").click()
    expect(row).not_to_contain_text("s3cr3t-value")


def _cli_env(tmp_path: Path, user_id: str) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    config = home / ".config" / "leger" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        f'[identity]\nuser_id = "{user_id}"\nemail = "{user_id}@example.com"\n'
        'tailnet = "example.ts.net"\ndevice_id = "dev-web"\nhostname = "web-laptop"\n'
        # The stand-in systemctl starts nothing: no podman secrets to make for the release.
        '[deploy]\nsecrets_strategy = "none"\n'
    )
    # `leger auth login --browser` opens the link with Python's webbrowser, which runs
    # $BROWSER: this one hands the link to the test instead of a desktop browser.
    opener = tmp_path / "open-link"
    opener.write_text(
        f"#!{sys.executable}\nimport sys, os\n"
        f"fd = os.open({str(tmp_path / 'link')!r}, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)\n"
        "os.write(fd, sys.argv[1].encode())\n"
    )
    opener.chmod(stat.S_IRWXU)
    return user_env(
        home,
        drop=("LEGER", "DBUS", "DISPLAY"),
        LEGER_CONFIG=str(config),
        LEGER_TOKEN_STORE="file",
        BROWSER=f"{opener} %s",
        PATH=f"{BIN}{os.pathsep}/usr/bin:/bin",
    )


def leger(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "leger"), *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_key_saved_in_the_browser_is_what_leger_secrets_get_prints(
    page: Page, server: RunningServer, tmp_path: Path
) -> None:
    env = _cli_env(tmp_path, unique("cli"))
    login = leger(env, "auth", "login", "--server", server.url, "--browser")
    assert login.returncode == 0, login.stderr
    link = (tmp_path / "link").read_text()
    assert link.startswith(f"{server.url}/login/code?code=")
    token = json.loads((tmp_path / "home/.local/state/leger/cloud-token.json").read_text())
    assert next(iter(token.values())) not in link  # the browser's argv holds no token
    assert link.split("code=")[1] in login.stdout  # the code the CLI printed

    confirm(page, server, link)  # what the browser the CLI opened does
    page.locator("#openai_api_key").fill(OPENAI_KEY)
    page.get_by_role("button", name="Save OpenAI").click()
    expect(page.get_by_role("status").first).to_have_text("OpenAI saved.")

    got = leger(env, "secrets", "get", "openai_api_key")
    assert got.returncode == 0, got.stderr
    assert got.stdout == OPENAI_KEY + "\n"


def test_git_release_is_created_with_validation_messages_then_edited(
    page: Page, server: RunningServer
) -> None:
    token = log_in(page, server, unique("releases"))
    nav(page, "Releases")
    expect(page.get_by_role("heading", name="No releases yet")).to_be_visible()
    shoot(page, "04-releases-empty")

    page.get_by_role("link", name="Create first release").click()
    expect(page).to_have_url(f"{server.url}/releases/new")
    page.get_by_label("Git repository URL").fill("not a url")
    page.get_by_role("button", name="Create release").click()
    errors = page.locator("#form-errors")
    expect(errors).to_contain_text("Enter a release name.")
    expect(page.locator("#name-error")).to_have_text("Enter a release name.")
    expect(page.get_by_label("Release name")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Release name").fill("my-openwebui")
    page.get_by_role("button", name="Create release").click()
    expect(page.locator("#git_url-error")).to_contain_text("Enter a git URL")
    expect(page.locator("#form-errors")).to_be_focused()
    expect(page.get_by_label("Release name")).to_have_value("my-openwebui")  # kept
    shoot(page, "05-release-new-errors")

    page.get_by_label("Git repository URL").fill("https://github.com/example/quadlets")
    page.get_by_label("Description").fill("Open WebUI with LiteLLM")
    page.get_by_role("button", name="Create release").click()
    expect(page.get_by_role("status").first).to_have_text("Release created.")
    expect(page.get_by_role("heading", name="Edit release")).to_be_visible()
    release_url = page.url
    expect(page.locator("#deploy-command")).to_have_text("$ leger deploy install my-openwebui")

    save = page.get_by_role("button", name="Save release")
    expect(save).to_be_disabled()
    page.get_by_label("Git branch").fill("stable")
    expect(save).to_be_enabled()
    save.click()
    expect(page.get_by_role("status").first).to_have_text("Release saved.")
    expect(page.get_by_label("Git branch")).to_have_value("stable")
    shoot(page, "06-release-edit")
    release_id = release_url.rsplit("/", 1)[1]
    with server.api(token) as api:
        saved = api.get(f"/api/releases/{release_id}").json()["data"]
    assert (saved["git_branch"], saved["version"]) == ("stable", 2)

    nav(page, "Releases")
    card = page.get_by_role("listitem").filter(has_text="my-openwebui")
    expect(card).to_contain_text("Version 2")
    expect(card).to_contain_text("https://github.com/example/quadlets")
    card.get_by_role("button", name="Copy deploy command for my-openwebui").click()
    expect(page.locator("#live")).to_have_text("Copied: leger deploy install my-openwebui")
    assert page.evaluate("() => navigator.clipboard.readText()") == (
        "leger deploy install my-openwebui"
    )
    shoot(page, "07-releases")


def test_bundle_release_detail_lists_files_services_secrets_size_and_downloads(
    page: Page, server: RunningServer
) -> None:
    token = log_in(page, server, unique("bundle"))
    files = {
        "openwebui.container": b"[Container]\nImage=ghcr.io/open-webui/open-webui:main\n",
        "litellm.container": b"[Container]\nImage=ghcr.io/berriai/litellm:main\n",
        "openwebui.volume": b"[Volume]\n",
    }
    body = make_bundle(files, secrets_required=["openai_api_key", "anthropic_api_key"])
    with server.api(token) as api:
        api.post("/api/secrets/openai_api_key", json={"value": OPENAI_KEY}).raise_for_status()
        resp = api.post("/api/releases", content=body, headers={"Content-Type": "application/gzip"})
        resp.raise_for_status()

    nav(page, "Releases")
    card = page.get_by_role("listitem").filter(has_text="openwebui")
    expect(card).to_contain_text("Bundle")
    card.get_by_role("link", name="Open openwebui").click()
    expect(page.get_by_role("heading", name="openwebui version 1")).to_be_visible()
    table = page.locator("#bundle-files")
    for path in files:
        expect(table).to_contain_text(path)
    expect(page.locator("#bundle-services")).to_contain_text("openwebui")
    expect(page.locator("#bundle-services")).to_contain_text("litellm")
    secrets = page.locator("#bundle-secrets")
    expect(secrets.get_by_role("listitem").filter(has_text="openai_api_key")).to_contain_text(
        "set in your account"
    )
    expect(secrets.get_by_role("listitem").filter(has_text="anthropic_api_key")).to_contain_text(
        "missing"
    )
    expect(page.locator("#bundle-size")).to_have_text(f"{len(body)} bytes")
    shoot(page, "08-release-bundle")

    with page.expect_download() as info:
        page.get_by_role("link", name="Download").click()
    download = info.value
    assert download.suggested_filename == "openwebui-v1.tar.gz"
    assert Path(download.path()).read_bytes() == body


def test_settings_show_the_account_and_change_the_display_name(
    page: Page, server: RunningServer
) -> None:
    user_id = unique("settings")
    user = server.login_full(user_id)["user"]
    log_in(page, server, user_id)
    nav(page, "Settings")
    expect(page.locator("#profile-email")).to_have_text(f"{user_id}@example.com")
    expect(page.locator("#profile-tailnet")).to_have_text("example.ts.net")
    expect(page.get_by_role("textbox", name="Leger user id")).to_have_value(user["user_uuid"])
    page.get_by_role("button", name="Copy your Leger user id").click()
    assert page.evaluate("() => navigator.clipboard.readText()") == user["user_uuid"]

    name = page.get_by_role("textbox", name="Display name")
    save = page.get_by_role("button", name="Save display name")
    expect(save).to_be_disabled()
    name.fill("x" * 40)
    expect(name).to_have_value("x" * 32)  # the field stops at 32
    name.fill("Alice Example")
    expect(page.locator("#display_name-count")).to_have_text("13/32 characters")
    save.click()
    expect(page.get_by_role("status").first).to_have_text("Display name saved.")
    expect(page.locator(".who-name")).to_have_text("Alice Example")
    expect(name).to_have_value("Alice Example")
    shoot(page, "09-settings")


def test_pages_fit_a_phone_and_keyboard_reaches_the_skip_link_first(
    browser: Browser, server: RunningServer
) -> None:
    ctx = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    try:
        page = ctx.new_page()
        log_in(page, server, unique("phone"))
        for path, shot in [
            ("/api-keys", "10-phone-api-keys"),
            ("/releases", "11-phone-releases"),
            ("/settings", "12-phone-settings"),
            ("/releases/new", "13-phone-release-new"),
        ]:
            page.goto(server.url + path)
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
            assert page.evaluate(UNLABELLED) == [], f"{path} has fields or buttons without a name"
            shoot(page, shot)
        page.goto(server.url + "/api-keys")
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        # The first field is reached after the skip link: the OpenAI key, by its label.
        assert page.evaluate("() => document.activeElement.id") == "openai_api_key"
    finally:
        ctx.close()


def test_sign_in_with_tailscale_needs_no_cli(
    browser: Browser, leger_server_factory, tailscale_localapi
) -> None:
    """Chromium connects from 127.0.0.1, which the LocalAPI stand-in knows as Alice's node:
    the button on /login logs the browser in as her, with no CLI and no code."""
    tailscale_localapi.add_member(
        "127.0.0.1", login="alice@github", user_id=123456789, node_id=2929
    )
    server = leger_server_factory(identity="tailscale", env=tailscale_localapi.server_env())
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        page = ctx.new_page()
        page.goto(f"{server.url}/login")
        shoot(page, "01-login-tailscale")
        page.get_by_role("button", name="Sign in with Tailscale").click()
        expect(page).to_have_url(f"{server.url}/api-keys")
        page.goto(f"{server.url}/settings")
        expect(page.locator("#profile-email")).to_have_text("alice@github")
    finally:
        ctx.close()


STAND_IN_SYSTEMCTL = """#!{python}
# systemd is not PID 1 here: a stand-in that says every unit is active, except those listed
# in $FAKE_SYSTEMCTL_FAILED (is-active prints "failed" for them, like systemctl).
import os, sys
words = [a for a in sys.argv[1:] if a != "--user"]
if words and words[0] == "is-active":
    failed = os.environ.get("FAKE_SYSTEMCTL_FAILED", "").split()
    print("failed" if words[-1] in failed else "active")
    sys.exit(3 if words[-1] in failed else 0)
"""


def test_the_deployed_version_shows_per_device_after_leger_deploy_install(
    page: Page, server: RunningServer, tmp_path: Path
) -> None:
    import shutil

    user_id = unique("where")
    env = _cli_env(tmp_path, user_id)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(STAND_IN_SYSTEMCTL.format(python=sys.executable))
    systemctl.chmod(stat.S_IRWXU)
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env['PATH']}",
        LEGER_QUADLET_DIR=str(tmp_path / "quadlets"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Leger Test",
        GIT_AUTHOR_EMAIL="test@leger.invalid",
        GIT_COMMITTER_NAME="Leger Test",
        GIT_COMMITTER_EMAIL="test@leger.invalid",
    )
    repo = tmp_path / "ai-stack"
    shutil.copytree(ROOT / "examples", repo)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "v1"]):
        subprocess.run(["git", "-C", str(repo), *args], env=env, check=True)
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], env=env, check=True, capture_output=True
    ).stdout.decode()[:12]

    for args in (
        ["auth", "login", "--server", server.url],
        ["releases", "create", "ai-stack", "--git-url", repo.as_uri(), "--branch", "main"],
        ["deploy", "install", "ai-stack", "--yes"],
    ):
        done = leger(env, *args)
        assert done.returncode == 0, done.stdout + done.stderr
    assert "note:" not in done.stderr  # reported without a hitch
    # Later the device checks in (nothing new) with one unit down.
    done = leger({**env, "FAKE_SYSTEMCTL_FAILED": "openwebui.service"}, "update", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr

    log_in(page, server, user_id)
    nav(page, "Releases")
    card = page.get_by_role("listitem").filter(has_text="ai-stack")
    expect(card.locator(".runs-on")).to_contain_text(f"web-laptop · {head}")
    expect(card.locator(".runs-on")).to_contain_text("1 not active")
    shoot(page, "14-releases-runs-on")

    card.get_by_role("link", name="Edit ai-stack").click()
    row = page.locator("#release-deployments tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(0)).to_have_text("web-laptop")
    expect(row.locator("code.version")).to_have_text(head)
    expect(row.locator(".units")).to_have_text("openwebui.service: failed")
    expect(page.locator("#release-deployments")).not_to_contain_text(str(tmp_path))
    shoot(page, "15-release-where-it-runs")

    nav(page, "Settings")
    device = page.locator("#device-deployments tbody tr")
    expect(device).to_have_count(1)
    expect(device).to_contain_text("web-laptop")
    expect(device).to_contain_text(head)
    expect(device.locator("time")).not_to_have_text("never")
    shoot(page, "16-settings-devices")
