"""legerd answers every setec API call exactly as tailscale/setec's server does."""

from __future__ import annotations

import base64
import contextlib

import pytest

from leger_testkit.setec_wire import SETEC_HEADERS, Api, b64, http


def value_of(answer) -> bytes:
    return base64.b64decode(answer.json()["Value"])


# --- the transport rules -----------------------------------------------------------------------


def test_health_reports_status_and_count_only(legerd_daemon, api: Api) -> None:
    api.put("app/secret-name", "hidden-value")
    answer = http(legerd_daemon.socket, "/health", method="GET", headers={})
    assert answer.status == 200
    assert answer.json() == {"status": "ok", "secrets_count": 1}
    assert b"secret-name" not in answer.body and b"hidden" not in answer.body


def test_missing_browser_header_is_403(legerd_daemon) -> None:
    answer = http(
        legerd_daemon.socket, "/api/list", {}, headers={"Content-Type": "application/json"}
    )
    assert answer.status == 403
    assert answer.headers["content-type"].startswith("text/plain")


def test_wrong_browser_header_value_is_403(legerd_daemon) -> None:
    headers = {**SETEC_HEADERS, "Sec-X-Tailscale-No-Browsers": "yes"}
    assert http(legerd_daemon.socket, "/api/list", {}, headers=headers).status == 403


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/json; charset=utf-8", "application/x-www-form-urlencoded"],
)
def test_content_type_must_be_exactly_json(legerd_daemon, content_type) -> None:
    headers = {"Sec-X-Tailscale-No-Browsers": "setec"}
    if content_type:
        headers["Content-Type"] = content_type
    answer = http(legerd_daemon.socket, "/api/list", {}, headers=headers)
    assert answer.status == 400
    assert answer.headers["content-type"].startswith("text/plain")


def test_only_post_is_allowed(legerd_daemon) -> None:
    answer = http(legerd_daemon.socket, "/api/list", method="GET")
    assert answer.status == 400
    assert b"POST" in answer.body


def test_malformed_json_is_400(legerd_daemon) -> None:
    assert http(legerd_daemon.socket, "/api/get", b"{not json").status == 400
    assert http(legerd_daemon.socket, "/api/get", b"[1]").status == 400


def test_bad_base64_value_is_400_and_stores_nothing(api: Api) -> None:
    answer = api.call("put", {"Name": "x", "Value": "***"})
    assert answer.status == 400
    assert api.call("list", {}).body == b"null"


@pytest.mark.parametrize(
    "name",
    ["", "tab\tname", "trail\n", "esc\x1b[31m", "c1\x85", "\ud800", "x" * 4097, "é" * 2049, 5],
)
def test_bad_names_are_400_and_store_nothing(api: Api, name) -> None:
    """Empty, control characters (a trailing newline too), not Unicode text, over 4,096 bytes of
    UTF-8, or not a string: what cannot be stored and shown safely."""
    assert api.call("put", {"Name": name, "Value": b64("v")}).status == 400
    assert api.call("list", {}).body == b"null"


def test_longest_name_is_accepted(api: Api) -> None:
    assert api.put("x" * 4096, "v").status == 200
    assert api.put("é" * 2048, "v").status == 200


# --- list / info -------------------------------------------------------------------------------


def test_empty_list_is_null(api: Api) -> None:
    answer = api.call("list", {})
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.body == b"null"


def test_list_is_sorted_with_ascending_versions(api: Api) -> None:
    api.put("b", "1")
    api.put("a", "1")
    api.put("a", "2")
    api.put("a", "3")
    assert api.call("list", {}).json() == [
        {"Name": "a", "Versions": [1, 2, 3], "ActiveVersion": 1},
        {"Name": "b", "Versions": [1], "ActiveVersion": 1},
    ]


def test_info_of_unknown_secret_is_404(api: Api) -> None:
    answer = api.call("info", {"Name": "nope"})
    assert answer.status == 404
    assert answer.headers["content-type"].startswith("text/plain")


# --- put / get ---------------------------------------------------------------------------------


def test_put_new_secret_is_version_1_active_and_returns_bare_number(api: Api) -> None:
    answer = api.put("svc/key", b"\x00binary\xff")
    assert answer.status == 200 and answer.body == b"1"
    got = api.get("svc/key")
    assert got.json()["Version"] == 1
    assert value_of(got) == b"\x00binary\xff"


def test_put_same_value_returns_same_version_without_new_one(api: Api) -> None:
    api.put("k", "v1")
    assert api.put("k", "v1").json() == 1
    assert api.call("info", {"Name": "k"}).json()["Versions"] == [1]


def test_put_changed_value_is_new_inactive_version(api: Api) -> None:
    api.put("k", "v1")
    assert api.put("k", "v2").json() == 2
    assert api.call("info", {"Name": "k"}).json() == {
        "Name": "k",
        "Versions": [1, 2],
        "ActiveVersion": 1,
    }
    assert value_of(api.get("k")) == b"v1"
    assert value_of(api.get("k", 2)) == b"v2"


def test_put_same_as_latest_but_not_active_returns_latest(api: Api) -> None:
    api.put("k", "v1")
    api.put("k", "v2")
    assert api.put("k", "v2").json() == 2
    assert api.put("k", "v1").json() == 3  # compared with the latest, as setec does


def test_get_unknown_secret_or_version_is_404(api: Api) -> None:
    assert api.get("missing").status == 404
    api.put("k", "v")
    assert api.get("k", 7).status == 404


def test_get_update_if_changed_is_304_when_active_unchanged(api: Api) -> None:
    api.put("k", "v1")
    answer = api.get("k", 1, UpdateIfChanged=True)
    assert answer.status == 304
    assert answer.body == b""


def test_get_update_if_changed_returns_new_active_value(api: Api) -> None:
    api.put("k", "v1")
    api.put("k", "v2")
    api.call("activate", {"Name": "k", "Version": 2})
    answer = api.get("k", 1, UpdateIfChanged=True)
    assert answer.status == 200
    assert answer.json()["Version"] == 2 and value_of(answer) == b"v2"


def test_update_if_changed_with_version_0_is_unconditional(api: Api) -> None:
    api.put("k", "v1")
    assert api.get("k", 0, UpdateIfChanged=True).status == 200


def test_negative_or_non_integer_version_is_400(api: Api) -> None:
    api.put("k", "v")
    assert api.get("k", -1).status == 400
    assert api.call("get", {"Name": "k", "Version": "1"}).status == 400


# --- create-version / activate / delete ---------------------------------------------------------


def test_create_version_makes_it_active(api: Api) -> None:
    api.put("k", "v1")
    answer = api.call("create-version", {"Name": "k", "Version": 5, "Value": b64("v5")})
    assert answer.status == 200 and answer.json() == {}
    info = api.call("info", {"Name": "k"}).json()
    assert info["ActiveVersion"] == 5 and info["Versions"] == [1, 5]
    assert api.put("k", "v6").json() == 6


def test_create_version_of_existing_version_is_412(api: Api) -> None:
    api.put("k", "v1")
    answer = api.call("create-version", {"Name": "k", "Version": 1, "Value": b64("other")})
    assert answer.status == 412
    assert answer.headers["content-type"].startswith("text/plain")
    assert value_of(api.get("k")) == b"v1"


def test_create_version_of_deleted_version_is_412(api: Api) -> None:
    api.put("k", "v1")
    api.put("k", "v2")
    api.call("delete-version", {"Name": "k", "Version": 2})
    answer = api.call("create-version", {"Name": "k", "Version": 2, "Value": b64("again")})
    assert answer.status == 412


@pytest.mark.parametrize("version", [0, -3])
def test_create_version_zero_or_negative_is_400(api: Api, version) -> None:
    answer = api.call("create-version", {"Name": "k", "Version": version, "Value": b64("v")})
    assert answer.status == 400
    assert api.call("list", {}).body == b"null"


def test_create_version_on_new_name_creates_it(api: Api) -> None:
    api.call("create-version", {"Name": "fresh", "Version": 3, "Value": b64("v")})
    assert api.call("info", {"Name": "fresh"}).json() == {
        "Name": "fresh",
        "Versions": [3],
        "ActiveVersion": 3,
    }


def test_activate_unknown_name_or_version_is_404(api: Api) -> None:
    assert api.call("activate", {"Name": "nope", "Version": 1}).status == 404
    api.put("k", "v")
    assert api.call("activate", {"Name": "k", "Version": 9}).status == 404


def test_delete_removes_every_version(api: Api) -> None:
    api.put("k", "v1")
    api.put("k", "v2")
    assert api.call("delete", {"Name": "k"}).json() == {}
    assert api.get("k").status == 404
    again = api.call("delete", {"Name": "k"})  # already gone: done, as setec answers
    assert (again.status, again.body) == (200, b"{}")


def test_active_version_cannot_be_deleted(api: Api) -> None:
    api.put("k", "v1")
    api.put("k", "v2")
    assert api.call("delete-version", {"Name": "k", "Version": 1}).status == 400
    assert api.call("delete-version", {"Name": "k", "Version": 0}).status == 400
    assert api.call("info", {"Name": "k"}).json()["Versions"] == [1, 2]


def test_deleted_version_numbers_are_never_reused(api: Api) -> None:
    api.put("k", "v1")
    api.put("k", "v2")
    assert api.call("delete-version", {"Name": "k", "Version": 2}).json() == {}
    assert api.put("k", "v3").json() == 3
    assert api.get("k", 2).status == 404


def test_delete_unknown_version_is_404(api: Api) -> None:
    api.put("k", "v1")
    assert api.call("delete-version", {"Name": "k", "Version": 4}).status == 404


# --- reserved names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "extra"),
    [
        ("put", {"Value": b64("v")}),
        ("create-version", {"Version": 1, "Value": b64("v")}),
        ("activate", {"Version": 1}),
        ("delete", {}),
        ("delete-version", {"Version": 1}),
    ],
)
def test_internal_names_are_refused_for_writes(api: Api, method, extra) -> None:
    answer = api.call(method, {"Name": "_internal/x", **extra})
    assert answer.status == 403
    assert api.call("list", {}).body == b"null"


def test_setec_values_survive_a_restart(legerd_daemon, api: Api) -> None:
    api.put("k", "v1")
    api.put("k", "v2")
    api.call("delete-version", {"Name": "k", "Version": 2})
    legerd_daemon.restart()
    assert value_of(api.get("k")) == b"v1"
    assert api.put("k", "v3").json() == 3  # the deleted number stays used after a restart


# --- what a Go setec client may send --------------------------------------------------------------


def test_field_names_match_case_insensitively_like_go(api: Api) -> None:
    assert api.call("put", {"name": "k", "value": b64("v")}).json() == 1
    assert value_of(api.call("get", {"NAME": "k", "version": 0})) == b"v"


def test_null_value_is_an_empty_value_like_go_nil_bytes(api: Api) -> None:
    assert api.call("put", {"Name": "empty", "Value": None}).json() == 1
    assert value_of(api.get("empty")) == b""


def test_unknown_fields_are_ignored(api: Api) -> None:
    assert api.call("put", {"Name": "k", "Value": b64("v"), "Extra": 1}).status == 200


def test_value_over_one_mib_is_400_and_stores_nothing(api: Api) -> None:
    assert api.put("big", b"x" * ((1 << 20) + 1)).status == 400
    assert api.put("max", b"x" * (1 << 20)).status == 200
    assert [i["Name"] for i in api.call("list", {}).json()] == ["max"]


def test_oversized_body_is_refused_without_reading_it_all(legerd_daemon, api: Api) -> None:
    body = b'{"Name":"k","Value":"' + b"A" * (3 << 20) + b'"}'
    # legerd may answer 400 and close before the client has finished sending.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        assert http(legerd_daemon.socket, "/api/put", body).status == 400
    assert api.call("list", {}).body == b"null"


def _audit(daemon) -> list[dict]:
    import json

    return [json.loads(x) for x in (daemon.state_dir / "audit.log").read_text().splitlines()]


def test_every_request_has_one_audit_line_refused_ones_too(legerd_daemon, api: Api) -> None:
    """One line per request, whatever becomes of it: refusals before the access check carry
    ``authorized: false`` and why; requests that reach the check are not logged twice."""
    sock = legerd_daemon.socket
    assert api.put("app/key", "sk-the-value").status == 200
    start = len(_audit(legerd_daemon))
    json_only = {"Sec-X-Tailscale-No-Browsers": "setec", "Content-Type": "text/plain"}
    refused = [
        (http(sock, "/api/get", method="GET"), 400, "only POST requests allowed"),
        (http(sock, "/api/get", {"Name": "app/key"}, headers=json_only), 400, "request body"),
        (http(sock, "/api/get", {"Name": "app/key"}, headers={"Content-Type": "application/json"}),
         403, "access denied"),
        (http(sock, "/api/get", b"{not json"), 400, "bad request"),
        (api.call("get", {"Name": "bad\nname"}), 400, "control characters"),
        (api.call("put", {"Name": "app/key", "Value": "***"}), 400, "bad request"),
        (api.call("get", {"Name": "app/key", "Version": -1}), 400, "bad request"),
    ]  # fmt: skip
    answered = [api.call("get", {"Name": "app/missing"}), api.call("get", {"Name": "app/key"})]
    lines = _audit(legerd_daemon)[start:]
    assert len(lines) == len(refused) + len(answered)
    for (answer, status, why), line in zip(refused, lines, strict=False):
        assert answer.status == status
        assert line["authorized"] is False and why in line["refused"], line
        assert line["action"] in ("get", "put") and line["principal"].startswith("uid:")
    assert lines[4]["secret"] == "bad\nname"  # JSON-escaped on disk: one line still
    # A 404 after the access check, and a success: one line each, no "refused".
    assert [answer.status for answer in answered] == [404, 200]
    assert [("refused" in x, x["authorized"], x["secret"]) for x in lines[-2:]] == [
        (False, True, "app/missing"),
        (False, True, "app/key"),
    ]
    assert "sk-the-value" not in (legerd_daemon.state_dir / "audit.log").read_text()
