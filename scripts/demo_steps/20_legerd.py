"""legerd: the local, encrypted secrets daemon that speaks setec's API, and `leger local`."""

from __future__ import annotations

import socket
from pathlib import Path

from demo_kit import BIN, Demo

TITLE = "legerd: the local encrypted secrets daemon (setec's API)"


def _accepts(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def run(demo: Demo) -> None:
    sock = Path(demo.env["XDG_RUNTIME_DIR"]) / "legerd.sock"
    state = Path(demo.env["XDG_STATE_HOME"]) / "legerd"
    demo.say("A new state dir is initialised on first start: a random data key, wrapped by")
    demo.say("keys/main.key, encrypts the database; values never touch the disk in clear.")
    demo.background(
        [str(BIN / "legerd"), "serve", "--state-dir", str(state), "--socket", str(sock)],
        log="legerd.log",
    )
    demo.wait_for(lambda: _accepts(sock), "legerd's socket")
    demo.state["legerd_socket"] = str(sock)
    demo.state["legerd_state_dir"] = str(state)
    demo.env["LEGERD_SOCKET"] = str(sock)
    demo.env["LEGERD_STATE_DIR"] = str(state)
    demo.sh(["legerd", "status"])
    demo.say("GET /health tells a supervisor it is up (a count, never names or values):")
    demo.sh(["curl", "-s", "--unix-socket", str(sock), "http://legerd/health"])
    demo.say("`leger local put` reads the value from stdin, never from an argument:")
    demo.sh(["leger", "local", "put", "demo/openai_api_key"], input="sk-demo-first")
    demo.sh(["leger", "local", "get", "demo/openai_api_key"])
    demo.say("A changed value is a new version, inactive until activated (setec's rule):")
    demo.sh(["leger", "local", "put", "demo/openai_api_key"], input="sk-demo-second")
    demo.sh(["leger", "local", "activate", "demo/openai_api_key", "2"])
    demo.sh(["leger", "local", "list"])
    demo.say("The database on disk is sealed; the audit log names actions, never values:")
    demo.sh(
        ["grep", "-c", "sk-demo", str(state / "secrets.db"), str(state / "audit.log")], expect=1
    )
    demo.sh(["tail", "-n", "2", str(state / "audit.log")])
    demo.say("An unknown secret is a clear error with exit code 4:")
    demo.sh(["leger", "local", "get", "demo/missing"], expect=4)
