"""Property-based requests from /openapi.json (schemathesis) against a real server: whatever
they send, the server never answers 5xx. Bounded: a few dozen examples per operation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

from leger_server.testing import RunningServer


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = RunningServer(tmp_path_factory.mktemp("fuzz") / "data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api_schema(fuzzed_server: RunningServer):
    return schemathesis.openapi.from_url(fuzzed_server.url + "/openapi.json")


@pytest.fixture(scope="module")
def token(fuzzed_server: RunningServer) -> str:
    token = fuzzed_server.login("fuzzer")
    with fuzzed_server.api(token) as api:
        api.post("/api/secrets/existing", json={"value": "v"})
    return token


def test_no_server_errors(api_schema, token: str) -> None:
    # schemathesis' own pytest integration does not support this pytest yet, so each
    # operation gets a plain hypothesis run over the case strategy schemathesis builds.
    failures: dict[str, str] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15
    # Logout revokes the shared token: fuzz it last, so every other operation runs logged in.
    # Log out everywhere ends it too: last of all.
    operations.sort(
        key=lambda op: (op.path == "/api/auth/logout", op.path == "/api/auth/logout-all")
    )
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.explicit, Phase.generate],
        )
        def run(case) -> None:
            headers = dict(case.headers or {})
            headers.setdefault("Authorization", f"Bearer {token}")
            response = case.call(headers=headers, timeout=30)
            case.validate_response(response, checks=(not_a_server_error,))

        try:
            run()
        except Exception as exc:
            failures[operation.label] = str(exc)[:2000]
    assert not failures, failures


def test_server_log_has_no_internal_errors(fuzzed_server: RunningServer, token: str) -> None:
    # Runs after the fuzzing in file order; a crash handled as 500 would be logged here.
    log = Path(fuzzed_server.log_path).read_text()
    assert log.count("HTTP/1.1") > 200  # the fuzzing really reached the server
    assert "internal error" not in log and " 500 " not in log
