"""Benchmark: `govsvc serve` on SQLite under load, on loopback.

    .venv/bin/python tests/bench/bench_service.py [--seconds 10] [--workers 1]

Starts the real server (shipped policies, SQLite in a temporary directory, every
decision durable in the ledger before its answer) and drives it with realistic
requests: 3 protected attributes (2, 4 and 5 groups), 20 drifting features of 10
bins, metrics, a baseline, consent and uncertainty; 50 models, so tier states are
read and written.

1. Throughput: closed loop, C concurrent keep-alive clients, for each C the
   decisions per second; the highest is the sustained rate.
2. Latency: open loop at a fixed rate (500 requests per second by default), each
   latency measured from the request's scheduled time, so that a stall is not
   hidden by the client waiting (no coordinated omission); p50, p99, max.
3. Durability check: the ledger's signed size covers every acknowledged decision.

The load generator shares the machine's cores with the server: the figures are
what one 2-core box does with both on it.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
ATTRIBUTES = {
    "gender": ["female", "male"],
    "age_band": ["18-25", "26-40", "41-60", "60+"],
    "ethnicity": ["a", "b", "c", "d", "e"],
}
FEATURES = 20
BINS = 10
MODELS = 50


def realistic_request(rng: random.Random, i: int) -> dict[str, Any]:
    groups = {
        attribute: {
            group: {
                "tp": rng.randint(300, 600),
                "fp": rng.randint(50, 150),
                "tn": rng.randint(1000, 1500),
                "fn": rng.randint(100, 250),
            }
            for group in names
        }
        for attribute, names in ATTRIBUTES.items()
    }
    features = {}
    for f in range(FEATURES):
        reference = [rng.randint(100, 1000) for _ in range(BINS)]
        current = [max(1, int(c * rng.uniform(0.85, 1.15))) for c in reference]
        features[f"feature_{f:02d}"] = {"reference": reference, "current": current}
    return {
        "model": {
            "name": f"model-{i % MODELS:02d}",
            "version": f"1.{i}",
            "artifact_digest": f"sha256:{i:064x}",
            "domain": rng.choice(["credit", "marketing", "forecasting"]),
            "intended_use": "benchmark",
        },
        "stage": rng.choice(["staging", "canary", "production"]),
        "dataset": {
            "snapshot_digest": f"sha256:{i + 1:064x}",
            "records": 120000,
            "records_without_consent": {"training": 0},
        },
        "metrics": {"auc": round(rng.uniform(0.85, 0.92), 4), "accuracy": 0.87},
        "baseline": {"metrics": {"auc": 0.9, "accuracy": 0.87}},
        "groups": groups,
        "drift": {"features": features, "alerts": []},
        "uncertainty": {
            "mean_std": 0.04,
            "share_above_threshold": 0.01,
            "threshold": 0.1,
        },
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    data_dir: Path, workers: int
) -> tuple[subprocess.Popen[str], str, str]:
    port = free_port()
    env = {
        **os.environ,
        "GOVSVC_DATA_DIR": str(data_dir),
        "GOVSVC_POLICIES_DIR": str(ROOT / "policies"),
        "GOVSVC_PORT": str(port),
        "GOVSVC_WORKERS": str(workers),
        "GOVSVC_DATABASE_URL": "",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "govsvc", "serve"],
        env=env,
        cwd=data_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    admin = ""
    for _ in range(5):
        line = process.stdout.readline().strip()
        if line.startswith("gsv_"):
            admin = line
            break
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url, admin
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("govsvc serve did not become ready")


def closed_loop(
    url: str, token: str, bodies: list[bytes], clients: int, seconds: float
) -> tuple[float, int, int]:
    """(decisions per second, acknowledged, errors) with `clients` in a loop."""
    stop = time.monotonic() + seconds
    counts = [0] * clients
    errors = [0] * clients

    def loop(n: int) -> None:
        headers = {
            "Authorization": f"Bearer {token}",
            "content-type": "application/json",
        }
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            i = n
            while time.monotonic() < stop:
                response = client.post("/v1/decisions", content=bodies[i % len(bodies)])
                if response.status_code == 201:
                    counts[n] += 1
                else:
                    errors[n] += 1
                i += clients

    started = time.monotonic()
    threads = [threading.Thread(target=loop, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return sum(counts) / elapsed, sum(counts), sum(errors)


def open_loop(
    url: str, token: str, bodies: list[bytes], rate: float, seconds: float
) -> tuple[list[float], int, float]:
    """Latencies in seconds from each request's scheduled start; errors; the rate
    actually offered."""
    total = int(rate * seconds)
    interval = 1.0 / rate
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    local = threading.local()
    headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, headers=headers, timeout=30)
        return local.client  # type: ignore[no-any-return]

    def send(i: int, scheduled: float) -> None:
        nonlocal errors
        response = client().post("/v1/decisions", content=bodies[i % len(bodies)])
        done = time.perf_counter()
        with lock:
            if response.status_code == 201:
                latencies.append(done - scheduled)
            else:
                errors += 1

    with ThreadPoolExecutor(64) as pool:
        start = time.perf_counter() + 0.05
        for i in range(total):
            scheduled = start + i * interval
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, i, scheduled)
        offered = total / (time.perf_counter() - start)
    return latencies, errors, offered


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per measurement")
    parser.add_argument("--workers", type=int, default=1, help="server workers")
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop rate")
    parser.add_argument(
        "--clients", default="4,16,32", help="closed-loop concurrency levels"
    )
    args = parser.parse_args()

    import json

    rng = random.Random(7)
    bodies = [json.dumps(realistic_request(rng, i)).encode() for i in range(500)]
    print(
        f"requests: 3 attributes (11 groups), {FEATURES} features x {BINS} bins, "
        f"{MODELS} models; median body {statistics.median(map(len, bodies))} bytes"
    )

    with tempfile.TemporaryDirectory(prefix="govsvc-bench-") as tmp:
        process, url, admin = start_server(Path(tmp), args.workers)
        try:
            created = httpx.post(
                f"{url}/v1/tokens",
                json={"roles": ["ci", "auditor"]},
                headers={"Authorization": f"Bearer {admin}"},
            )
            token = created.json()["token"]
            auth = {"Authorization": f"Bearer {token}"}

            # Warm up: compile the bundle, fill the pools, place the models.
            closed_loop(url, token, bodies, 4, 1.0)
            size_before = int(
                httpx.get(f"{url}/v1/ledger/checkpoint", headers=auth).text.split("\n")[
                    1
                ]
            )

            print(
                f"\nthroughput, SQLite, {args.workers} worker(s), {args.seconds:.0f} s each"
            )
            best = 0.0
            acknowledged = 0
            for clients in [int(c) for c in args.clients.split(",")]:
                rate, done, errors = closed_loop(
                    url, token, bodies, clients, args.seconds
                )
                acknowledged += done
                best = max(best, rate)
                print(
                    f"  {clients:>3} clients: {rate:8.0f} decisions/s  ({errors} errors)"
                )

            latencies, errors, offered = open_loop(
                url, token, bodies, args.rate, args.seconds
            )
            acknowledged += len(latencies)
            ms = [x * 1000 for x in latencies]
            print(
                f"\nlatency at {offered:.0f} requests/s offered ({len(ms)} answered, "
                f"{errors} errors)"
            )
            print(
                f"  p50 {percentile(ms, 50):6.2f} ms   p99 {percentile(ms, 99):6.2f} ms"
                f"   max {max(ms):6.2f} ms"
            )

            checkpoint = httpx.get(f"{url}/v1/ledger/checkpoint", headers=auth).text
            size_after = int(checkpoint.split("\n")[1])
            grown = size_after - size_before
            print(
                f"\ndurability: {acknowledged} decisions acknowledged, ledger grew by "
                f"{grown} entries under a signed checkpoint (tier changes add some)"
            )
            if grown < acknowledged:
                print("FAIL: acknowledged decisions missing from the ledger")
                return 1
            print(
                f"\nsustained: {best:.0f} decisions/s (target 2000); "
                f"ratio to OPA's reported ~2000 req/s without a durable log: "
                f"{best / 2000:.2f}"
            )
            print(
                f"p99 at {args.rate:.0f}/s: {percentile(ms, 99):.2f} ms (target < 10 ms)"
            )
        finally:
            process.terminate()
            process.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
