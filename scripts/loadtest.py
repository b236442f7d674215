#!/usr/bin/env python
"""Load test: N concurrent gradio_client users ask the running UI's `ask` API.

    python scripts/loadtest.py --url http://127.0.0.1:7860/        # a running app
    python scripts/loadtest.py --start [--index DIR]                # start one on a free port

Prints every error, then requests served, p50 / p95 latency and throughput;
exits 1 if any request failed (an answer is a dict with "text" and "quotes").
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the questions users ask of the bundled articles, answerable and not
QUESTIONS = [json.loads(line)["question"]
             for line in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(index: str | None, port: int) -> subprocess.Popen:
    code = ("import sys; from rag.web.app import launch; "
            "launch(index_dir=sys.argv[1] or None, port=int(sys.argv[2]), block=True, quiet=True)")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-c", code, index or "", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def connect(url: str, deadline: float):
    from gradio_client import Client

    last = None
    while time.monotonic() < deadline:
        try:
            return Client(url, verbose=False, download_files=False)
        except Exception as e:  # not up yet
            last = e
            time.sleep(1)
    raise SystemExit(f"cannot reach the app at {url}: {last}")


def wait_ready(client, deadline: float) -> None:
    """The page is up before the index is; wait until a question is answered."""
    while True:
        try:
            client.predict(QUESTIONS[0], api_name="/ask")
            return
        except Exception as e:
            if time.monotonic() > deadline:
                raise SystemExit(f"the app never answered: {e}")
            time.sleep(2)


def run(url: str, clients: int, n: int, timeout: float) -> dict:
    first = connect(url, time.monotonic() + timeout)
    wait_ready(first, time.monotonic() + timeout)
    todo: queue.Queue = queue.Queue()
    for i in range(n):
        todo.put(QUESTIONS[i % len(QUESTIONS)])
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def user(k: int) -> None:
        try:
            c = connect(url, time.monotonic() + 60)
        except SystemExit as e:
            with lock:
                errors.append(f"client {k}: {e}")
            return
        while True:
            try:
                q = todo.get_nowait()
            except queue.Empty:
                return
            t0 = time.perf_counter()
            try:
                ans = c.predict(q, api_name="/ask")
                if not isinstance(ans, dict) or not ans.get("text") or "quotes" not in ans:
                    raise ValueError(f"not an answer: {str(ans)[:200]}")
                with lock:
                    lat.append(time.perf_counter() - t0)
            except Exception as e:
                with lock:
                    errors.append(f"client {k}: {q!r}: {type(e).__name__}: {e}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=user, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else lat * 100
    return {"clients": clients, "requests": n, "served": len(lat), "errors": errors,
            "p50_s": round(statistics.median(lat), 3) if lat else None,
            "p95_s": round(q[94], 3) if lat else None,
            "throughput_rps": round(len(lat) / wall, 2), "wall_s": round(wall, 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--url", help="URL of a running app")
    g.add_argument("--start", action="store_true", help="start the app on a free port for the test")
    p.add_argument("--index", default=None, help="index folder for --start (default: the default index)")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--questions", type=int, default=200)
    p.add_argument("--timeout", type=float, default=300, help="seconds to wait for the app to answer")
    args = p.parse_args()
    proc = None
    url = args.url
    if args.start:
        port = free_port()
        proc = start_app(args.index, port)
        url = f"http://127.0.0.1:{port}/"
        print(f"started the app (pid {proc.pid}) at {url}", file=sys.stderr)
    try:
        r = run(url, args.clients, args.questions, args.timeout)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    for e in r["errors"]:
        print(f"error: {e}")
    print(f"{r['served']}/{r['requests']} requests served by {r['clients']} concurrent clients, "
          f"{len(r['errors'])} errors; p50 {r['p50_s']} s, p95 {r['p95_s']} s; "
          f"{r['throughput_rps']} requests/s over {r['wall_s']} s")
    return 0 if not r["errors"] and r["served"] == r["requests"] else 1


if __name__ == "__main__":
    sys.exit(main())
