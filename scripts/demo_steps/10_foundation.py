"""Foundation: the CLI, its plugins and its configuration."""

from __future__ import annotations

from demo_kit import Demo

TITLE = "Leger's CLI, its plugins and its config"


def run(demo: Demo) -> None:
    demo.sh(["leger", "--version"])
    demo.say("Every way of doing a thing is a plugin, found through the 'leger' entry points:")
    demo.sh(["leger", "plugins"])
    demo.say("LEGER_LOAD_PLUGINS limits which load (empty = none):")
    demo.sh(["leger", "plugins"], env={"LEGER_LOAD_PLUGINS": ""})
    demo.sh(["leger", "config", "path"])
    demo.sh(["leger", "config", "set", "services.openwebui.secrets", '["openai_api_key"]'])
    demo.sh(["leger", "config", "get", "services.openwebui.secrets"])
    demo.say("A user error is one clear line and a documented exit code (4 = not found):")
    demo.sh(["leger", "config", "get", "no.such.key"], expect=4)
