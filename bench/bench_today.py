"""Benchmark of Today (今日工作) for the cadre of the largest demo village, served as deployed.

Bars (issue 3): server time p95 under 30 ms; at least 500 pages per second on the 2-core machine with a load
generator on loopback. The demo county is seeded into a temporary data directory (SQLite), then:

1. server time: the app under one uvicorn process, timed inside the process from the request's first byte
   to the response's last (an ASGI wrapper), over sequential keep-alive requests from one client;
2. throughput: `suifang run --workers N` as a subprocess, loaded by `wrk` (Debian package) on loopback with
   the cadre's session cookie, for 1 and for N workers; a Python asyncio client stands in without wrk.

Run: .venv/bin/python bench/bench_today.py [--requests 2000] [--duration 15] [--connections 32] [--workers 2]
"""

import argparse
import asyncio
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import func
from sqlmodel import Session, col, select

from backend import migrate
from backend.accounts.models import User, UserArea
from backend.app import create_app
from backend.cases.models import DueItem, Pregnancy
from backend.db import make_engine
from backend.demo import PASSWORD, seed_demo
from backend.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
ASGI = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.node()} · {cpu} · {os.cpu_count()} cores · Python {platform.python_version()} · "
        f"{platform.system()} {platform.release()} · load average {load}"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def seed(data_dir: Path) -> tuple[Settings, str, str, int]:
    """The demo county in `data_dir`; returns settings, the largest village, its cadre's phone and the number
    of lines on her Today page."""
    os.environ["SUIFANG_DATA_DIR"] = str(data_dir)
    os.environ["SUIFANG_RUN_ALERT_JOB"] = "0"
    settings = Settings.from_env()
    engine = make_engine(settings)
    migrate.upgrade(engine)
    seed_demo(engine, settings)
    with Session(engine) as db:
        village, _ = db.exec(
            select(Pregnancy.village_code, func.count())
            .group_by(col(Pregnancy.village_code))
            .order_by(func.count().desc())
        ).first()  # type: ignore[misc]
        phone = db.exec(
            select(User.phone)
            .join(UserArea, col(UserArea.user_id) == User.id)
            .where(UserArea.area_code == village, User.role == "village")
        ).one()
        items = db.exec(
            select(func.count())
            .select_from(DueItem)
            .where(DueItem.village_code == village, col(DueItem.is_open).is_(True))
        ).one()
    engine.dispose()
    return settings, village, phone, int(items)


def sign_in(base: str, phone: str) -> str:
    with httpx.Client(base_url=base) as client:
        r = client.post("/login", data={"phone": phone, "password": PASSWORD})
        assert r.status_code == 303, r.text
        return r.cookies["sf_session"]


class ServerTimer:
    """ASGI wrapper recording, inside the server process, how long each HTTP request took to answer."""

    def __init__(self, app: ASGI) -> None:
        self.app = app
        self.samples: list[float] = []
        self.cpu: list[
            float
        ] = []  # CPU time of the server thread: what other processes on the machine don't skew

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, cpu_start = time.perf_counter(), time.thread_time()

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.samples.append(time.perf_counter() - start)
                self.cpu.append(time.thread_time() - cpu_start)

        await self.app(scope, receive, timed_send)


def server_time(settings: Settings, phone: str, requests: int) -> dict[str, float]:
    """p50/p95/p99 of server time and of the client's round trip, one uvicorn process, sequential requests."""
    port = free_port()
    timer = ServerTimer(create_app(settings, run_migrations=False))  # type: ignore[arg-type]
    server = uvicorn.Server(
        uvicorn.Config(
            timer,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    cookie = sign_in(base, phone)
    round_trips: list[float] = []
    with httpx.Client(base_url=base, cookies={"sf_session": cookie}) as client:
        body = client.get("/").text
        assert "今日工作" in body, body[:500]
        for _ in range(50):
            client.get("/")
        timer.samples.clear()
        timer.cpu.clear()
        for _ in range(requests):
            start = time.perf_counter()
            r = client.get("/")
            round_trips.append(time.perf_counter() - start)
            assert r.status_code == 200
    server.should_exit = True
    thread.join(timeout=10)
    ms = [s * 1000 for s in timer.samples]
    rt = [s * 1000 for s in round_trips]
    return {
        "n": len(ms),
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "mean": statistics.fmean(ms),
        "rt_p95": percentile(rt, 95),
        "bytes": len(body.encode()),
        "cpu": statistics.fmean(timer.cpu) * 1000,
    }


def start_server(data_dir: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SUIFANG_DATA_DIR": str(data_dir), "SUIFANG_RUN_ALERT_JOB": "0"}
    suifang = Path(sys.executable).parent / "suifang"
    proc = subprocess.Popen(
        [str(suifang), "run", "--port", str(port), "--workers", str(workers)],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                time.sleep(1.0 if workers > 1 else 0.2)  # let every worker finish starting
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError("suifang run did not start")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def run_wrk(url: str, cookie: str, duration: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-H",
            f"Cookie: sf_session={cookie}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    size, unit = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out).groups()  # type: ignore[union-attr]
    per_page = float(size) * {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[unit] / rps
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    lat = {m.group(1): m.group(2) for m in re.finditer(r"^\s+(50|90|99)%\s+(\S+)", out, re.M)}
    return {
        "rps": rps,
        "non_2xx": float(bad.group(1)) if bad else 0.0,
        "p50": _ms(lat.get("50", "0ms")),
        "p99": _ms(lat.get("99", "0ms")),
        "bytes": per_page,
    }


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


async def _python_load(url: str, cookie: str, duration: int, connections: int) -> dict[str, float]:
    """A stand-in for wrk: `connections` keep-alive clients asking as fast as answers come back."""
    done, bad, stop_at = 0, 0, time.perf_counter() + duration
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(cookies={"sf_session": cookie}, limits=limits) as client:

        async def worker() -> None:
            nonlocal done, bad
            while time.perf_counter() < stop_at:
                try:
                    r = await client.get(url)
                except httpx.TransportError:  # a kept-alive connection the server had just closed: counted
                    bad += 1
                    continue
                done += 1
                bad += r.status_code != 200

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - start
    return {"rps": done / elapsed, "non_2xx": float(bad), "p50": 0.0, "p99": 0.0, "bytes": 0.0}


def throughput(data_dir: Path, phone: str, workers: int, duration: int, connections: int) -> dict[str, float]:
    port = free_port()
    proc = start_server(data_dir, port, workers)
    try:
        base = f"http://127.0.0.1:{port}"
        cookie = sign_in(base, phone)
        page = httpx.get(base + "/", cookies={"sf_session": cookie})
        assert page.status_code == 200 and "今日工作" in page.text, "the load would not be the Today page"
        if shutil.which("wrk"):
            run_wrk(base + "/", cookie, 3, connections)  # warm up every worker
            return {**run_wrk(base + "/", cookie, duration, connections), "tool": 1.0}
        return {**asyncio.run(_python_load(base + "/", cookie, duration, connections)), "tool": 0.0}
    finally:
        stop_server(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="sequential requests timed in the server")
    parser.add_argument("--duration", type=int, default=15, help="seconds of load per throughput run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="bench-today-") as tmp:
        data_dir = Path(tmp)
        started = time.perf_counter()
        settings, village, phone, items = seed(data_dir)
        print(
            f"demo county seeded in {time.perf_counter() - started:.1f} s; largest village {village}, cadre "
            f"{phone}, {items} open due items"
        )
        st = server_time(settings, phone, args.requests)
        n, size = st["n"], st["bytes"]
        print(
            f"server time of GET / over {n:.0f} sequential requests (1 uvicorn process, {size:.0f} bytes): "
            f"p50 {st['p50']:.1f} ms, p95 {st['p95']:.1f} ms, p99 {st['p99']:.1f} ms, "
            f"mean {st['mean']:.1f} ms; client round trip p95 {st['rt_p95']:.1f} ms  (bar: p95 < 30 ms)"
        )
        print(
            f"server CPU per page {st['cpu']:.2f} ms: at most {2000 / st['cpu']:.0f} pages/s on 2 idle cores "
            "(before the load generator takes its share)"
        )
        for workers in sorted({1, args.workers}):
            t = throughput(data_dir, phone, workers, args.duration, args.connections)
            tool = "wrk -t2" if t["tool"] else "python asyncio client"
            kb = t["bytes"] / 1024
            latency = (
                f", latency p50 {t['p50']:.1f} ms, p99 {t['p99']:.1f} ms, {kb:.1f} KB a page"
                if t["tool"]
                else ""
            )
            load = f"{tool} -c{args.connections} for {args.duration} s"
            print(
                f"throughput, suifang run --workers {workers}, {load}: {t['rps']:.0f} pages/s{latency}, "
                f"non-2xx or dropped {t['non_2xx']:.0f}  (bar: >= 500 pages/s)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
