"""The ``leger_deployment_changed`` hook: every implementation gets the deployment's public
event, a returned line becomes a note, a raising plugin cannot fail the deploy, and
``[deploy] report = false`` turns it off."""

from __future__ import annotations

from typing import Any

from leger_core import hookimpl
from leger_core.context import Leger
from leger_plugin_deploy.report import deployment_changed
from leger_plugin_deploy.state import Deployment


class _Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    @hookimpl
    def leger_deployment_changed(self, leger, event):
        self.events.append(event)
        return "stack: 1 unit not active" if event["units"] else None


class _Raises:
    @hookimpl
    def leger_deployment_changed(self, leger, event):
        raise RuntimeError("boom")


def _dep() -> Deployment:
    return Deployment(
        name="stack",
        source={"kind": "git", "location": "/home/alice/src/stack", "options": {}},
        version="a" * 40,
        installed_at="2026-01-01T00:00:00Z",
        files={},
        metadata={"release": "ai-stack"},
    )


def test_every_plugin_gets_the_public_event_and_may_return_a_note(
    leger_pm, leger_register, leger_config
):
    recorder = leger_register(_Recorder(), name="recorder")
    leger = Leger(leger_pm, leger_config.write({}))
    notes: list[str] = []
    deployment_changed(leger, _dep(), "install", None, notes.append)
    [event] = recorder.events
    assert {k: event[k] for k in ("event", "name", "release_name", "version", "source")} == {
        "event": "install",
        "name": "stack",
        "release_name": "ai-stack",
        "version": "a" * 40,
        "source": "local git repository",
    }
    assert "/home/alice" not in repr(event) and event["at"].endswith("Z")
    assert notes == []


def test_a_raising_plugin_is_one_note(leger_pm, leger_register, leger_config):
    leger_register(_Raises(), name="raises")
    leger = Leger(leger_pm, leger_config.write({}))
    notes: list[str] = []
    deployment_changed(leger, _dep(), "update", None, notes.append)
    assert notes == ["stack was not reported: RuntimeError"]


def test_report_false_calls_no_plugin(leger_pm, leger_register, leger_config):
    recorder = leger_register(_Recorder(), name="recorder")
    leger = Leger(leger_pm, leger_config.write({"deploy": {"report": False}}))
    deployment_changed(leger, _dep(), "install", None, [].append)
    assert recorder.events == []


def test_a_report_setting_that_is_not_a_boolean_is_a_note(leger_pm, leger_register, leger_config):
    recorder = leger_register(_Recorder(), name="recorder")
    leger = Leger(leger_pm, leger_config.write({"deploy": {"report": "nope"}}))
    notes: list[str] = []
    deployment_changed(leger, _dep(), "install", None, notes.append)
    assert recorder.events == [] and "deploy.report" in notes[0]
