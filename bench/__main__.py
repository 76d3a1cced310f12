"""Run Leger's benchmarks: ``./dev bench`` (all) or ``./dev bench start legerd`` (some).

Each benchmark prints a table with its figures beside a baseline measured in the same run;
see bench/README.md for what each measures and its goal.
"""

from __future__ import annotations

import importlib
import sys

BENCHES = {
    "start": "bench.bench_start",  # leger secrets fetch / driver lookup vs python -c pass
    "legerd": "bench.bench_legerd",  # /api/get req/s vs bare Starlette; RSS
    "server": "bench.bench_server",  # RSS growth during a 50 MB bundle upload
    "systemd": "bench.bench_systemd",  # systemctl start per strategy in the systemd machine
    "server-load": "bench.bench_server_load",  # CLI calls' req/s, p99 vs bare Starlette
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHES)}")
        return 2
    worst = 0
    for name in names:
        print(f"\n##### {name} ({BENCHES[name]})\n", flush=True)
        module = importlib.import_module(BENCHES[name])
        worst = max(worst, module.main([]) or 0)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
