"""The leger-server load benchmark runs end to end in a tiny mode, so it does not rot: a real
leger-server and the bare app on SQLite with one worker, wrk for a few requests each."""

from __future__ import annotations

import shutil

import pytest

from bench import bench_server_load


@pytest.mark.slow
def test_server_load_bench_tiny(capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed (apt-get install wrk; ./dev setup installs it)")
    code = bench_server_load.main(
        ["--databases", "sqlite", "--workers", "1", "--seconds", "1", "--rounds", "1",
         "--max-requests", "50", "--connections", "2", "--warmup", "0"]
    )  # fmt: skip
    out = capsys.readouterr().out
    # Not on PostgreSQL with 2 workers: no goal to judge, and that is said.
    assert code == 0
    assert "goal not measured" in out
    rows = [line for line in out.splitlines() if line.startswith("| sqlite | 1 |")]
    assert [row.split(" | ")[2] for row in rows] == [
        bench_server_load.BARE,
        *(label for label, _, _ in bench_server_load.TARGETS),
    ]
    for row in rows:
        rps = float(row.split(" | ")[3].replace(",", ""))
        assert rps > 0, row
        assert row.split(" | ")[-1] == "0 |", row  # no request failed
