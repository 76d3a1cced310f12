"""leger-server under load: the calls every CLI makes (``POST /api/auth/validate``,
``GET /api/secrets``, ``GET /api/releases/latest``) against a real ``leger-server serve``
with 1 and 2 workers, on SQLite and on PostgreSQL, beside a bare Starlette app served by
uvicorn with the same worker count doing the same single-row query on the same database.

    .venv/bin/python -m bench.bench_server_load [--seconds 3] [--rounds 2] [--connections 16]
        [--databases sqlite,postgresql] [--workers 1,2] [--max-requests 50000]

Load comes from ``wrk`` (one thread, kept-alive connections on 127.0.0.1) with a small Lua
script that sets the method and the bearer token (from the environment, never an argument)
and stops sending after ``--max-requests`` answers; each run lasts ``--seconds``. Targets run
alternately (bare, then each leger-server call) for ``--rounds`` rounds, so no target gets a
quieter machine. Both servers log each request (uvicorn's access log, to a file), as
``leger-server serve`` does by default.

Goal (``releases/latest`` on PostgreSQL with 2 workers): >= 1,000 req/s, p99 <= 50 ms and
>= 0.5x the bare route. ``CPU ms/req`` is the server processes' user+system CPU time over the
requests answered (PostgreSQL's own processes not included): on a saturated machine it says
where the time goes better than req/s does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leger_testkit.procs import stop

GOALS = {"rps": 1000.0, "p99_ms": 50.0, "ratio": 0.5}
GOAL_TARGET = ("postgresql", 2, "GET /api/releases/latest")
BARE = "bare Starlette: same row"

# What each leger-server target asks; the bare app answers GET /latest.
TARGETS: list[tuple[str, str, str]] = [
    ("POST /api/auth/validate", "POST", "/api/auth/validate"),
    ("GET /api/secrets", "GET", "/api/secrets"),
    # What `leger secrets sync` asks: values too, and a write of last_accessed per call.
    ("GET /api/secrets?include_values=true", "GET", "/api/secrets?include_values=true"),
    ("GET /api/releases/latest", "GET", "/api/releases/latest"),
]

SECRETS = 5
RELEASES = 3

WRK_SCRIPT = r"""
-- leger bench: method and token from the environment, stop after args[1] responses.
local max_requests = 0
local answered = 0
function init(args)
  max_requests = tonumber(args[1]) or 0
  wrk.method = os.getenv("BENCH_METHOD") or "GET"
  local token = os.getenv("BENCH_TOKEN")
  if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
end
function response(status, headers, body)
  answered = answered + 1
  if max_requests > 0 and answered >= max_requests then
    wrk.thread:stop()
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %.0f, "p99_us": %.0f, ' ..
    '"socket_errors": %d, "timeouts": %d, "status_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write, e.timeout, e.status))
end
"""


@dataclass
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]  # wrk's: "socket", "timeout" (over 5 s), "status" (not 2xx/3xx)
    cpu_s: float = 0.0  # the server's processes
    db_cpu_s: float = 0.0  # PostgreSQL's processes (0 on SQLite: it runs in the server)
    client_cpu_s: float = 0.0  # wrk

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class Row:
    database: str
    workers: int
    target: str
    runs: list[Load] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)  # MB per worker process, after the load
    supervisor_rss: float | None = None

    @property
    def rps(self) -> float:
        return sum(r.requests for r in self.runs) / sum(r.seconds for r in self.runs)

    @property
    def errors(self) -> str:
        """Failed requests by kind, e.g. ``1 timeout``; ``0`` when none failed."""
        totals = {k: sum(r.errors[k] for r in self.runs) for k in ("status", "timeout", "socket")}
        return ", ".join(f"{n} {k}" for k, n in totals.items() if n) or "0"

    @property
    def p50(self) -> float:  # the median of the runs' medians
        return sorted(r.p50_ms for r in self.runs)[len(self.runs) // 2]

    @property
    def p99(self) -> float:  # the worst run's p99: a goal on p99 should not be averaged away
        return max(r.p99_ms for r in self.runs)

    def cpu_ms(self, which: str = "cpu_s") -> float:
        """CPU milliseconds per request answered: ``cpu_s`` (the server), ``db_cpu_s``
        (PostgreSQL) or ``client_cpu_s`` (wrk)."""
        total: float = sum(getattr(r, which) for r in self.runs)
        return 1000 * total / max(1, sum(r.requests for r in self.runs))


# --- processes --------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def server_pids(pid: int) -> tuple[list[int], int | None]:
    """(worker PIDs, supervisor PID or None): uvicorn with several workers serves from child
    processes; with one it serves from ``pid`` itself."""
    # multiprocessing's resource tracker is a child too, but serves nothing.
    kids = [k for k in _children(pid) if b"spawn_main" in _cmdline(k)]
    return (kids, pid) if kids else ([pid], None)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of these processes (all their threads)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / ticks


def postgres_cpu_seconds(cluster: Any) -> float:
    """CPU time of the whole PostgreSQL cluster so far: the postmaster, its live children
    (backends, writers) and the children it has reaped (a backend that ended, its time moves
    to the postmaster's cutime/cstime, so a difference of two readings stays right)."""
    if cluster is None:
        return 0.0
    postmaster = int((cluster.root / "data" / "postmaster.pid").read_text().split()[0])
    fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    reaped = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")  # cutime, cstime
    return cpu_seconds([postmaster, *_children(postmaster)]) + reaped


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} never answered:\n{log.read_text()[-2000:]}")


class BareServer:
    """The baseline: :func:`bare_app` under uvicorn, started and stopped by its PID."""

    def __init__(self, database_url: str, user_uuid: str, workers: int, log: Path) -> None:
        from leger_server.testing import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "BENCH_BARE_DATABASE": database_url,
            "BENCH_BARE_USER": user_uuid,
        }
        cmd = [sys.executable, "-m", "bench.bench_server_load", "--bare", str(self.port)]
        cmd += ["--workers", str(workers)]
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                cmd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=Path(__file__).resolve().parent.parent,
            )
        try:
            wait_http(self.url + "/health", self.process, log)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        stop(self.process)


def bare_app() -> Any:
    """A Starlette app whose one route answers what ``GET /api/releases/latest`` answers for
    one user, with the same single-row query, through SQLAlchemy Core and a thread, as
    leger-server does, but with no authentication, middleware or envelope code."""
    import sqlalchemy as sa
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    url = os.environ["BENCH_BARE_DATABASE"]
    user = os.environ["BENCH_BARE_USER"]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        engine = sa.create_engine(url)
    else:
        engine = sa.create_engine(url, connect_args={"check_same_thread": False})
    query = sa.text(
        "SELECT id, name, bundle_version, bundle_sha256, bundle_size_bytes, blob_key, "
        "manifest, created_at FROM releases WHERE user_uuid = :user AND kind = 'bundle' "
        "ORDER BY bundle_version DESC LIMIT 1"
    )

    def fetch() -> dict[str, Any]:
        with engine.connect() as conn:
            row = conn.execute(query, {"user": user}).mappings().one()
        item = dict(row)
        item["created_at"] = str(item["created_at"])
        if isinstance(item["manifest"], str):
            item["manifest"] = json.loads(item["manifest"])
        return item

    async def latest(request: Request) -> JSONResponse:
        return JSONResponse({"success": True, "data": await run_in_threadpool(fetch)})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        engine.dispose()

    return Starlette(routes=[Route("/latest", latest), Route("/health", health)], lifespan=lifespan)


def serve_bare(port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        "bench.bench_server_load:bare_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="info",  # the access log on, as leger-server serve has it
        server_header=False,
    )


# --- load -------------------------------------------------------------------------------------


def run_wrk(
    url: str,
    method: str,
    token: str | None,
    *,
    script: Path,
    connections: int,
    seconds: float,
    max_requests: int,
    pids: Sequence[int],
    cluster: Any = None,
) -> Load:
    env = {**os.environ, "BENCH_METHOD": method, "BENCH_TOKEN": token or ""}
    cmd = [
        "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
        "-s", str(script), url, "--", str(max_requests),
    ]  # fmt: skip
    cpu0, db0 = cpu_seconds(pids), postgres_cpu_seconds(cluster)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 30)
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu, db_cpu = cpu_seconds(pids) - cpu0, postgres_cpu_seconds(cluster) - db0
    client = (kids1.ru_utime - kids0.ru_utime) + (kids1.ru_stime - kids0.ru_stime)
    line = next((x for x in out.stdout.splitlines() if x.startswith("BENCH ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout[-500:]}{out.stderr}")
    data = json.loads(line.removeprefix("BENCH "))
    return Load(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors={
            "socket": data["socket_errors"],
            "timeout": data["timeouts"],
            "status": data["status_errors"],
        },
        cpu_s=cpu,
        db_cpu_s=db_cpu,
        client_cpu_s=client,
    )


# --- one database -----------------------------------------------------------------------------


def seed(url: str, token: str) -> None:
    """The benchmark user's releases and secrets, through the API."""
    import httpx

    from leger_server.testing import bearer, make_bundle

    with httpx.Client(base_url=url, headers=bearer(token), timeout=30) as api:
        for i in range(RELEASES):
            files = {"bench.container": f"[Container]\nImage=bench:{i}\n".encode()}
            resp = api.post(
                "/api/releases",
                content=make_bundle(files, name="bench"),
                headers={"content-type": "application/gzip"},
            )
            resp.raise_for_status()
        for i in range(SECRETS):
            api.post(f"/api/secrets/bench_key_{i}", json={"value": f"v{i}"}).raise_for_status()


def check_answers(url: str, bare_url: str, token: str) -> None:
    """Every target answers 200 with what it should, before it is timed."""
    import httpx

    from leger_server.testing import bearer

    with httpx.Client(base_url=url, headers=bearer(token), timeout=30) as api:
        for label, method, path in TARGETS:
            resp = api.request(method, path)
            if resp.status_code != 200:
                raise RuntimeError(f"{label}: {resp.status_code} {resp.text[:300]}")
        latest = api.get("/api/releases/latest").json()["data"]
        assert latest["version"] == RELEASES, latest
        assert len(api.get("/api/secrets").json()["data"]["secrets"]) == SECRETS
    bare = httpx.get(bare_url + "/latest", timeout=30).json()["data"]
    assert bare["bundle_version"] == RELEASES and bare["id"] == latest["id"], bare


def measure(
    database: str,
    database_url: str | None,
    workers_list: Sequence[int],
    tmp: Path,
    args: argparse.Namespace,
    script: Path,
    cluster: Any = None,
) -> list[Row]:
    from leger_server.testing import RunningServer
    from leger_server.users import user_uuid_for

    data_dir = tmp / f"data-{database}"
    env = {
        # The limiter stays in the path, with a window short enough to hold little memory.
        "LEGER_SERVER_AUTH_RATE_LIMIT": str(10**9),
        "LEGER_SERVER_AUTH_RATE_WINDOW": "1",
    }
    token = ""
    rows: list[Row] = []
    for workers in workers_list:
        server = RunningServer(
            data_dir, database=database_url, env=env, extra_args=["--workers", str(workers)]
        )
        bare: BareServer | None = None
        try:
            if not token:
                token = server.login("bench-user")
                seed(server.url, token)
            db_url = database_url or f"sqlite:///{data_dir / 'leger.db'}"
            bare = BareServer(
                db_url, user_uuid_for("bench-user"), workers, tmp / f"bare-{database}.log"
            )
            check_answers(server.url, bare.url, token)
            leger_workers, leger_sup = server_pids(server.process.pid)
            bare_workers, bare_sup = server_pids(bare.process.pid)
            Target = tuple[str, str, str, str | None, list[int]]
            targets: list[Target] = [(BARE, "GET", bare.url + "/latest", None, bare_workers)]
            targets += [
                (label, method, server.url + path, token, leger_workers)
                for label, method, path in TARGETS
            ]
            by_label = {t[0]: Row(database, workers, t[0]) for t in targets}

            def load(t: Target, seconds: float) -> Load:
                return run_wrk(
                    t[2],
                    t[1],
                    t[3],
                    script=script,
                    connections=args.connections,
                    seconds=seconds,
                    max_requests=args.max_requests,
                    pids=t[4],
                    cluster=cluster,
                )

            for t in targets if args.warmup else ():  # warm up: imports, pools, caches
                load(t, args.warmup)
            for _ in range(args.rounds):
                for t in targets:
                    result = load(t, args.seconds)
                    if result.requests >= args.max_requests:
                        # wrk still waits out the duration: req/s is then a lower bound.
                        print(f"note: {t[0]} reached --max-requests; its req/s is a lower bound")
                    by_label[t[0]].runs.append(result)
            for label, row in by_label.items():
                pids, sup = (
                    (bare_workers, bare_sup) if label == BARE else (leger_workers, leger_sup)
                )
                row.rss = [rss_mb(p) for p in pids]
                row.supervisor_rss = rss_mb(sup) if sup else None
            rows.extend(by_label.values())
            if any(r.errors != "0" for r in by_label.values()):
                # Say why, from the server's log (status lines and errors, never bodies).
                failed = [
                    line
                    for line in server.log().splitlines()
                    if ("HTTP/1.1" in line and '" 200' not in line and '" 201' not in line)
                    or "error" in line.lower()
                ]
                for line in failed[-10:]:
                    print(f"note: {database}, {workers} worker(s): {line}")
        finally:
            if bare is not None:
                bare.stop()
            server.stop()
    return rows


# --- report -----------------------------------------------------------------------------------


def report(rows: list[Row], args: argparse.Namespace, load_avg: tuple[float, float, float]) -> int:
    print(
        f"leger-server under load: wrk, 1 thread, {args.connections} kept-alive connections, "
        f"{args.rounds} x {args.seconds:g} s per target, {os.cpu_count()} CPUs, load average "
        f"{load_avg[0]:.2f} / {load_avg[1]:.2f} / {load_avg[2]:.2f} at the start"
    )
    print()
    print(
        "| database | workers | target | req/s | x bare | p50 ms | p99 ms "
        "| CPU ms/req: server + PostgreSQL + wrk | RSS/worker MB | errors |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    bare_rps: dict[tuple[str, int], float] = {
        (r.database, r.workers): r.rps for r in rows if r.target == BARE
    }
    for r in rows:
        ratio = r.rps / bare_rps[(r.database, r.workers)]
        rss = ", ".join(f"{x:.0f}" for x in r.rss)
        if r.supervisor_rss is not None:
            rss += f" (+{r.supervisor_rss:.0f} supervisor)"
        print(
            f"| {r.database} | {r.workers} | {r.target} | {r.rps:,.0f} | {ratio:.2f} | "
            f"{r.p50:.1f} | {r.p99:.1f} | {r.cpu_ms():.2f} + {r.cpu_ms('db_cpu_s'):.2f} + "
            f"{r.cpu_ms('client_cpu_s'):.2f} | {rss} | {r.errors} |"
        )
    print()
    goal = next(
        (r for r in rows if (r.database, r.workers, r.target) == GOAL_TARGET),
        None,
    )
    if goal is None:
        print(f"goal not measured ({' / '.join(map(str, GOAL_TARGET))} was not run)")
        return 0
    ratio = goal.rps / bare_rps[(goal.database, goal.workers)]
    ok = lambda good: "ok" if good else "MISSED"  # noqa: E731
    print(f"goal: {GOAL_TARGET[2]} on PostgreSQL with 2 workers")
    print("| figure | value | goal |")
    print("|---|---:|---|")
    print(f"| req/s | {goal.rps:,.0f} | >= {GOALS['rps']:,.0f} {ok(goal.rps >= GOALS['rps'])} |")
    p99_ok = ok(goal.p99 <= GOALS["p99_ms"])
    print(f"| p99 | {goal.p99:.1f} ms | <= {GOALS['p99_ms']:.0f} ms {p99_ok} |")
    print(f"| x bare | {ratio:.2f} | >= {GOALS['ratio']} {ok(ratio >= GOALS['ratio'])} |")
    total = goal.cpu_ms() + goal.cpu_ms("db_cpu_s") + goal.cpu_ms("client_cpu_s")
    cpus = os.cpu_count() or 1
    print(
        f"| CPU per request, server + PostgreSQL + wrk | {total:.2f} ms | at most "
        f"{cpus * 1000 / total:,.0f} req/s on {cpus} CPUs with nothing else running |"
    )
    met = goal.rps >= GOALS["rps"] and goal.p99 <= GOALS["p99_ms"] and ratio >= GOALS["ratio"]
    return 0 if met else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_server_load")
    parser.add_argument("--seconds", type=float, default=3.0, help="per run (default 3)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--max-requests",
        type=int,
        default=100_000,
        help="per run; wrk still waits out --seconds, so set it above what the run can do",
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds per target (0: none)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare:
        serve_bare(args.bare, int(args.workers))
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk, or ./dev setup as root)")
        return 2
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    unknown = set(databases) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown database(s): {', '.join(sorted(unknown))}")
    workers = [int(w) for w in args.workers.split(",")]

    load_avg = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench-server-load-", dir="/tmp"))
    script = tmp / "bench.lua"
    script.write_text(WRK_SCRIPT)
    rows: list[Row] = []
    cluster = None
    try:
        for database in databases:
            url = None
            if database == "postgresql":
                from leger_server.testing import PostgresCluster

                # fsync on, as a real server has it (the tests turn it off).
                cluster = PostgresCluster.start(fsync=True)
                url = cluster.new_database()
            pg = cluster if database == "postgresql" else None
            rows += measure(database, url, workers, tmp, args, script, pg)
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return report(rows, args, load_avg)


if __name__ == "__main__":
    sys.exit(main())
