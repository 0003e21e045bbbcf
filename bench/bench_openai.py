"""Throughput of the OpenAI adapter against the local server with injected latency.

The server (derm_stress.testing.openai_server) runs in its own process on 127.0.0.1 and
answers every request after ``--latency`` seconds. Probes carry one 512 x 512 PAD-UFES-20
photo each (sent as a JPEG data URL). For each concurrency the adapter answers
``max(--min-requests, 4 x concurrency)`` probes; throughput is requests per second of wall
time, including image encoding.

Usage: python bench/bench_openai.py [--latency 0.2] [--concurrency 1 8 32 64]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import cv2

from derm_stress.datasets import load_sample
from derm_stress.images import load_image
from derm_stress.models import OpenAIChatModel
from derm_stress.perturb import BASELINE, Probe


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--min-requests", type=int, default=20)
    args = parser.parse_args()
    cases = load_sample().cases
    photos = [cv2.resize(load_image(c.images[0]), (512, 512)) for c in cases]
    server = subprocess.Popen(
        [sys.executable, "-m", "derm_stress.testing.openai_server", "--latency", str(args.latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        rows = []
        for concurrency in args.concurrency:
            n = max(args.min_requests, 4 * concurrency)
            probes = [
                Probe(f"c{i}", BASELINE.id, (photos[i % len(photos)],), None, ()) for i in range(n)
            ]
            model = OpenAIChatModel(
                "bench", "local", base_url=base_url, api_key_env=None, max_concurrency=concurrency
            )
            model.answer(probes[:2])  # warm-up: imports, first connection
            start = time.perf_counter()
            answers = model.answer(probes)
            seconds = time.perf_counter() - start
            assert all(a.status == "ok" for a in answers), answers[0]
            rows.append((concurrency, n, seconds, n / seconds))
    finally:
        server.terminate()
        server.wait()
    base = rows[0][3]
    print(f"latency {args.latency * 1000:.0f} ms per request, 512 px images\n")
    print("| concurrency | requests | seconds | requests/s | x concurrency 1 |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for concurrency, n, seconds, rate in rows:
        print(f"| {concurrency} | {n} | {seconds:.2f} | {rate:.1f} | {rate / base:.1f} |")


if __name__ == "__main__":
    main()
