"""leger_core.setec_api: legerd, the setec client and the init script speak the same names."""

from __future__ import annotations

from leger_core import setec_api as wire


def test_legerd_serves_every_method_and_nothing_else():
    from legerd.api import LegerdApp

    app = LegerdApp(None)  # type: ignore[arg-type]  # only the routing table is looked at
    assert set(app.routes) == {wire.path(m) for m in wire.METHODS}
    assert all(p.startswith("/api/") for p in app.routes)


def test_the_init_script_sends_setecs_names():
    from leger_plugin_initscript.render import render_script

    script = render_script("svc", [("A", "x/y")])
    assert f"POST {wire.path(wire.GET)} HTTP/1.0" in script
    assert f"{wire.NO_BROWSERS_HEADER}: {wire.NO_BROWSERS_VALUE}" in script
    assert f'\\"{wire.NAME}\\":\\"$2\\",\\"{wire.VERSION}\\":0' in script
    assert f'#*\\"{wire.VALUE}\\"' in script
    assert "__" not in script.replace("leger_", "")  # every placeholder was filled


def test_the_setec_client_uses_the_same_module():
    from leger_plugin_setec import client

    assert client.wire is wire
