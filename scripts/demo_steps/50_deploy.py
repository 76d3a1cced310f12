"""Deploy: install the example release from a git repository, update it, roll it back."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import tarfile
from pathlib import Path

from demo_kit import ROOT, Demo

TITLE = "Deploy quadlets from git: install, diff, update, rollback (and from your account)"

# systemd is not PID 1 here: this stand-in says what systemctl would do, and reports units
# as active.
SYSTEMCTL = """#!/bin/sh
echo "systemctl $*" >> "$(dirname "$0")/systemctl.log"
case " $* " in *" is-active "*) echo active ;; esac
exit 0
"""


def _stand_in(demo: Demo) -> dict[str, str]:
    bin_dir = demo.tmp / "deploy-bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "systemctl"
    script.write_text(SYSTEMCTL)
    script.chmod(0o755)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{demo.env['PATH']}",
        "LEGER_QUADLET_DIR": str(Path(demo.env["XDG_CONFIG_HOME"]) / "containers/systemd"),
        "GIT_AUTHOR_NAME": "Demo",
        "GIT_AUTHOR_EMAIL": "demo@leger.invalid",
        "GIT_COMMITTER_NAME": "Demo",
        "GIT_COMMITTER_EMAIL": "demo@leger.invalid",
    }


def _systemctl_calls(demo: Demo) -> None:
    """Show what the stand-in was asked to do since the last look."""
    log = demo.tmp / "deploy-bin" / "systemctl.log"
    if log.exists():
        demo.say("The stand-in systemctl was asked to:")
        for line in log.read_text().splitlines():
            print(f"  {line}")
        log.unlink()


def _hostile_bundle(path: Path) -> None:
    """A bundle whose env file is a symlink to /etc/passwd."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        manifest = json.dumps({"deployment_name": "evil", "files": []}).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
        link = tarfile.TarInfo("passwd.env")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
    path.write_bytes(gzip.compress(raw.getvalue()))


def _crafted_pax_bundle(path: Path) -> None:
    """About 1 KB gzipped: a 400 KB pax header of digits, which an unpatched Python's tarfile
    parses in quadratic time (CVE-2024-6232) — minutes of a frozen process."""
    payload = b"1" * 400_000
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = len(payload)
    tar = header.tobuf(format=tarfile.USTAR_FORMAT) + payload
    tar += b"\0" * (-len(payload) % tarfile.BLOCKSIZE) + b"\0" * (2 * tarfile.BLOCKSIZE)
    path.write_bytes(gzip.compress(tar, compresslevel=9))


def run(demo: Demo) -> None:
    env = _stand_in(demo)
    repo = demo.tmp / "stack-repo"
    shutil.copytree(ROOT / "examples", repo)
    demo.say("A git repository holding the example release (Open WebUI + LiteLLM + Postgres):")
    demo.sh(["git", "init", "-q", "-b", "main"], cwd=repo, env=env)
    demo.sh(["git", "add", "-A"], cwd=repo, env=env)
    demo.sh(["git", "commit", "-q", "-m", "ai-stack: first release"], cwd=repo, env=env)

    demo.say("systemctl is a stand-in that echoes what it would do (systemd is not PID 1 here).")
    # No podman here to hold the secrets the release's Secret= lines name: the step under real
    # systemd (75_systemd) shows install creating them.
    demo.sh(["leger", "config", "set", "deploy.secrets_strategy", "none"], env=env, show=False)
    demo.sh(["leger", "deploy", "install", str(repo), "--yes"], env=env)
    _systemctl_calls(demo)

    demo.say("A new commit: LiteLLM's image moves on; the manifest's checksums are refreshed.")
    litellm = repo / "litellm.container"
    litellm.write_text(litellm.read_text().replace("main-v1.55.8", "main-v1.56.0"))
    demo.sh(["leger", "deploy", "manifest", str(repo)], env=env)
    demo.sh(["git", "commit", "-q", "-am", "litellm 1.56.0"], cwd=repo, env=env)
    demo.sh(["leger", "deploy", "diff", "ai-stack"], env=env)
    demo.say("Only litellm.service restarts:")
    demo.sh(["leger", "update", "--yes"], env=env)
    _systemctl_calls(demo)
    demo.say("Nothing new: no file is fetched, no unit touched.")
    demo.sh(["leger", "update", "--yes"], env=env)
    demo.say("Rollback restores the previous files byte for byte from the backup:")
    demo.sh(["leger", "deploy", "rollback", "ai-stack", "--yes"], env=env)
    _systemctl_calls(demo)
    demo.sh(["leger", "deploy", "list"], env=env)

    demo.say("A hostile bundle (a symlink to /etc/passwd) is refused; nothing is installed:")
    evil = demo.tmp / "evil.tar.gz"
    _hostile_bundle(evil)
    demo.sh(["leger", "deploy", "install", str(evil), "--yes"], env=env, expect=7)
    crafted = demo.tmp / "crafted.tar.gz"
    _crafted_pax_bundle(crafted)
    demo.say(
        f"A {crafted.stat().st_size}-byte bundle crafted against Python's tarfile "
        "(CVE-2024-6232) is refused from its header at once, on any Python version:"
    )
    demo.sh(["leger", "deploy", "install", str(crafted), "--yes"], env=env, expect=7)

    url = demo.state.get("server_url")
    if not url:
        return
    demo.say("The same release as a bundle in your leger account, installed by its name:")
    if not (Path(demo.env["XDG_STATE_HOME"]) / "leger" / "account.json").exists():
        for key, value in (
            ("identity.user_id", "u-demo"),
            ("identity.email", "demo@example.com"),
            ("identity.tailnet", "example.ts.net"),
            ("identity.device_id", "dev-demo"),
        ):
            demo.sh(["leger", "config", "set", key, value], env=env, show=False)
        demo.sh(["leger", "auth", "login", "--server", str(url)], env=env)
    bundle = demo.tmp / "ai-stack.tar.gz"
    demo.sh(["leger", "deploy", "bundle", str(ROOT / "examples"), "-o", str(bundle)], env=env)
    demo.sh(["leger", "releases", "upload", str(bundle)], env=env)
    demo.sh(["leger", "deploy", "remove", "ai-stack", "--yes"], env=env)
    demo.sh(["leger", "deploy", "install", "ai-stack", "--yes"], env=env)
    _systemctl_calls(demo)
    demo.sh(["leger", "deploy", "list"], env=env)
    demo.say("Each change was reported to the account (the web UI shows it too): what runs where.")
    demo.sh(["leger", "releases", "where"], env=env)
