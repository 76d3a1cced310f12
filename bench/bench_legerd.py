"""legerd: ``/api/get`` over the Unix socket with 16 concurrent clients, beside a bare Starlette
route served the same way (uvicorn, httptools, same socket kind) in the same run; legerd's RSS
idle and holding 10,000 secrets.

    .venv/bin/python -m bench.bench_legerd [--seconds 4] [--clients 16]

Both servers get the same load generator (threads with kept-alive raw sockets, so the client
costs as little as possible), and the load runs alternately so neither gets a quieter machine.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from leger_testkit.procs import stop

GOALS = {"rps": 3000.0, "ratio": 0.6, "rss_idle": 40.0, "rss_10k": 80.0}


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies_ns: list[int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ns)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] / 1e6


def request_bytes(path: str, body: dict[str, object]) -> bytes:
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: legerd\r\nContent-Type: application/json\r\n"
        f"Sec-X-Tailscale-No-Browsers: setec\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def _read_response(sock: socket.socket, buf: bytes) -> tuple[int, bytes]:
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    while len(rest) < length:
        rest += sock.recv(65536)
    if status != 200:
        raise RuntimeError(f"status {status}: {rest[:100]!r}")
    return status, rest[length:]


def run_load(path: Path, request: bytes, clients: int, seconds: float) -> LoadResult:
    latencies: list[list[int]] = [[] for _ in range(clients)]
    start_gate = threading.Barrier(clients + 1)
    deadline = [0.0]

    def worker(i: int) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(path))
        mine = latencies[i]
        start_gate.wait()
        buf = b""
        while time.monotonic() < deadline[0]:
            t0 = time.perf_counter_ns()
            sock.sendall(request)
            _, buf = _read_response(sock, buf)
            mine.append(time.perf_counter_ns() - t0)
        sock.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    began = time.monotonic()
    deadline[0] = began + seconds
    start_gate.wait()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    merged = [x for lst in latencies for x in lst]
    return LoadResult(len(merged), elapsed, merged)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def wait_socket(path: Path, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    from leger_core.unixhttp import accepts

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        if accepts(path):
            return
        time.sleep(0.02)
    raise RuntimeError(f"{path} never accepted")


def start_legerd(state: Path, sock: Path) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-P",
        "-m",
        "legerd",
        "serve",
        "--state-dir",
        str(state),
        "--socket",
        str(sock),
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=sock.parent
    )
    wait_socket(sock, proc)
    return proc


def serve_bare(sock: str) -> None:
    """The baseline: one Starlette route answering like /api/get, served exactly like legerd."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    body = json.dumps({"Value": base64.b64encode(b"bench-value").decode(), "Version": 1})

    async def get(request: Request) -> Response:
        await request.body()
        return Response(body, media_type="application/json")

    app = Starlette(routes=[Route("/api/get", get, methods=["POST"])])
    config = uvicorn.Config(
        app,
        uds=sock,
        http="httptools",
        lifespan="off",
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
    )
    uvicorn.Server(config).run()


def populate(state: Path, count: int) -> None:
    from legerd.state import init_state
    from legerd.store import SecretStore

    init_state(state)
    store = SecretStore.open(state)
    store.put_many({f"bench/app{i // 10}/key{i}": os.urandom(40) for i in range(count)})


def fdatasync_ms(directory: Path, n: int = 50) -> float:
    """What one durable audit line costs on this disk right now: append + fdatasync."""
    path = directory / "fdatasync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    times = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            os.write(fd, b"x" * 150 + b"\n")
            os.fdatasync(fd)
            times.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(times) * 1000


def put_latency_ms(sock: Path, n: int = 20) -> float:
    from leger_core.models import SecretValue
    from leger_plugin_setec.client import SetecClient

    client = SetecClient(str(sock))
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        client.put("bench/put-latency", SecretValue(f"value-{i}"))
        times.append(time.perf_counter() - t0)
    client.close()
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_legerd")
    parser.add_argument("--seconds", type=float, default=4.0, help="load per round (2 rounds)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--secrets", type=int, default=10_000)
    parser.add_argument("--bare", metavar="SOCKET", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare:
        serve_bare(args.bare)
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="legerd-bench-", dir="/tmp"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        legerd_sock, bare_sock = tmp / "legerd.sock", tmp / "bare.sock"
        legerd = start_legerd(tmp / "state", legerd_sock)
        procs.append(legerd)
        time.sleep(0.5)
        rss_idle = rss_mb(legerd.pid)
        from leger_core.models import SecretValue
        from leger_plugin_setec.client import SetecClient

        SetecClient(str(legerd_sock)).put("bench/key", SecretValue(b"bench-value"))
        bare = subprocess.Popen(
            [sys.executable, "-m", "bench.bench_legerd", "--bare", str(bare_sock)],
            cwd=Path(__file__).resolve().parent.parent,
        )
        procs.append(bare)
        wait_socket(bare_sock, bare)

        req = request_bytes("/api/get", {"Name": "bench/key"})
        run_load(legerd_sock, req, args.clients, 0.5)  # warm up both
        run_load(bare_sock, req, args.clients, 0.5)
        results: dict[str, list[LoadResult]] = {"legerd": [], "bare": []}
        for _ in range(2):
            results["bare"].append(run_load(bare_sock, req, args.clients, args.seconds))
            results["legerd"].append(run_load(legerd_sock, req, args.clients, args.seconds))
        rss_loaded = rss_mb(legerd.pid)
        sync_ms = fdatasync_ms(tmp)
        stop(bare)
        stop(legerd)

        big_state = tmp / "state-10k"
        t0 = time.perf_counter()
        populate(big_state, args.secrets)
        populate_s = time.perf_counter() - t0
        big_sock = tmp / "big.sock"
        t0 = time.perf_counter()
        big = start_legerd(big_state, big_sock)
        start_s = time.perf_counter() - t0
        procs.append(big)
        client = SetecClient(str(big_sock))
        assert len(client.list()) == args.secrets
        client.get("bench/app0/key0")
        client.close()
        time.sleep(0.3)
        rss_10k = rss_mb(big.pid)
        put_ms = put_latency_ms(big_sock)
        stop(big)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    def merged(rs: list[LoadResult]) -> LoadResult:
        return LoadResult(
            sum(r.requests for r in rs),
            sum(r.seconds for r in rs),
            [x for r in rs for x in r.latencies_ns],
        )

    leg, bar = merged(results["legerd"]), merged(results["bare"])
    ratio = leg.rps / bar.rps
    print(
        f"legerd benchmark — {args.clients} concurrent clients, Unix socket, "
        f"{2 * args.seconds:.0f}s each, {os.cpu_count()} CPUs"
    )
    print()
    print("| target | req/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    for label, r in (("legerd /api/get (audit fsync, ACL)", leg), ("bare Starlette route", bar)):
        print(f"| {label} | {r.rps:,.0f} | {r.percentile(0.5):.2f} | {r.percentile(0.99):.2f} |")
    print()
    ok = lambda good: "ok" if good else "MISSED"  # noqa: E731
    print("| figure | value | goal |")
    print("|---|---:|---|")
    print(f"| legerd / bare | {ratio:.2f}x | >= {GOALS['ratio']}x {ok(ratio >= GOALS['ratio'])} |")
    print(
        f"| legerd req/s | {leg.rps:,.0f} | >= {GOALS['rps']:,.0f} {ok(leg.rps >= GOALS['rps'])} |"
    )
    print(
        f"| RSS idle | {rss_idle:.1f} MB | <= {GOALS['rss_idle']:.0f} MB "
        f"{ok(rss_idle <= GOALS['rss_idle'])} |"
    )
    print(f"| append + fdatasync on this disk, median | {sync_ms:.2f} ms | |")
    print(f"| RSS after the load | {rss_loaded:.1f} MB | |")
    print(
        f"| RSS with {args.secrets:,} secrets | {rss_10k:.1f} MB | <= {GOALS['rss_10k']:.0f} MB "
        f"{ok(rss_10k <= GOALS['rss_10k'])} |"
    )
    print(f"| start with {args.secrets:,} secrets | {start_s * 1000:.0f} ms | |")
    print(f"| put (fsync'd) with {args.secrets:,} secrets, median | {put_ms:.1f} ms | |")
    print(f"| bulk load of {args.secrets:,} secrets (one write) | {populate_s:.2f} s | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
