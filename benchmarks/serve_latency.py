"""Throughput and latency of ``convrec serve`` under concurrent clients, with and without
batching across requests.

Starts the server on a free port (``--max-batch 1``: every request alone; then the default,
requests gathered for up to 5 ms), sends ``--requests`` requests of one sequence from each of
``--clients`` threads at once, and prints requests per second and the p50/p99 latency, measured
in the same run.

    python benchmarks/serve_latency.py RUN [--clients 32] [--requests 20] [--steps 30]
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import httpx
import numpy as np
from provenance import revision

import convrec


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def started(run: str, port: int, max_batch: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "convrec.cli", "serve", run, "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--max-batch", str(max_batch)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start")


def load_test(url: str, inputs: list[list], clients: int, requests: int) -> tuple[float, list]:
    """Requests per second over the whole test, and every request's latency in seconds."""

    def client(index: int) -> list[float]:
        latencies = []
        with httpx.Client(timeout=60) as session:
            for number in range(requests):
                body = {"inputs": [inputs[(index * requests + number) % len(inputs)]]}
                start = time.perf_counter()
                answer = session.post(f"{url}/predict", json=body)
                latencies.append(time.perf_counter() - start)
                answer.raise_for_status()
        return latencies

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = [value for values in pool.map(client, range(clients)) for value in values]
    return clients * requests / (time.perf_counter() - start), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--steps", type=int, default=30)
    arguments = parser.parse_args()
    features = convrec.load(arguments.run).task.input_shape[-1]
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(arguments.steps, features)).tolist() for _ in range(64)]
    print(
        f"date {date.today()}, revision {revision()}, machine {platform.machine()}, "
        f"{os.cpu_count()} cores"
    )
    print(f"command: python {' '.join(sys.argv)}\n")
    print("| batching | clients | requests/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for label, max_batch in (("none (--max-batch 1)", 1), ("across requests (64, 5 ms)", 64)):
        port = free_port()
        process = started(arguments.run, port, max_batch)
        try:
            url = f"http://127.0.0.1:{port}"
            load_test(url, inputs, 4, 5)  # warm-up
            rate, latencies = load_test(url, inputs, arguments.clients, arguments.requests)
        finally:
            process.terminate()
            process.wait(timeout=30)
        p50, p99 = np.percentile(np.array(latencies) * 1e3, [50, 99])
        print(f"| {label} | {arguments.clients} | {rate:.0f} | {p50:.1f} | {p99:.1f} |")


if __name__ == "__main__":
    main()
