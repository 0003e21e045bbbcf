"""Throughput of an API model through the harness, and client CPU per request of the adapter
against the bare official SDK, against the local OpenAI-compatible server.

The server (derm_stress.testing.openai_server) runs in its own process on 127.0.0.1 and
answers every chat request after ``--latency`` seconds. The dataset is a manifest of
distinct cases, each with one 512 x 512 PAD-UFES-20 photo (the 90 bundled sample photos,
resized once, reused in turn); the grid is the clean image-only condition, so each case is
one request with a ~64 KB JPEG data URL.

1. Throughput: ``derm-stress``'s ``run()`` (store, manifest, perturbation, the adapter) over
   ``--requests`` cases per concurrency (``--one-way-requests`` for concurrency 1), a fresh
   run directory each time. Requests per second of wall time, and the ratio to 1-way.
2. Client CPU per request (``time.process_time`` of this process; the server is another
   process): the adapter answering ``--cpu-requests`` probes (``model.answer``), and the
   bare SDK doing the same work by hand: one ``AsyncOpenAI``, the same prompt and JPEG data
   URL built per probe, ``asyncio.gather`` under a semaphore of the same concurrency.

Usage: python bench/bench_openai.py [--latency 1.0] [--concurrency 1 64 128]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import yaml

from derm_stress.datasets import load_sample
from derm_stress.images import load_image
from derm_stress.models import OpenAIChatModel
from derm_stress.models.openai_chat import image_data_url
from derm_stress.perturb import BASELINE, Probe
from derm_stress.prompts import build_prompt
from derm_stress.run import load_config, run


def _dataset(folder: Path, n: int) -> Path:
    cases = load_sample().cases
    for i, case in enumerate(cases):
        photo = cv2.resize(load_image(case.images[0]), (512, 512))
        cv2.imwrite(str(folder / f"p{i}.jpg"), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    lines = ["case_id,image,diagnosis"]
    lines += [f"c{i},p{i % len(cases)}.jpg,{cases[i % len(cases)].diagnosis}" for i in range(n)]
    manifest = folder / "cases.csv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def _throughput(folder: Path, base_url: str, concurrency: int, n: int) -> tuple[float, float]:
    config = folder / f"c{concurrency}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": f"bench{concurrency}",
                "image": ["none"],
                "context": ["image_only"],
                "dataset": {"manifest": "cases.csv", "limit": n},
                "models": [
                    {
                        "name": "api",
                        "adapter": "openai",
                        "model": "local",
                        "base_url": base_url,
                        "api_key_env": None,
                        "image_max_side": 512,
                        "max_concurrency": concurrency,
                    }
                ],
            }
        )
    )
    start, cpu = time.perf_counter(), time.process_time()
    summary = run(load_config(config), folder / f"run{concurrency}")
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert summary.calls == n and summary.model_errors == 0, summary
    return seconds, cpu


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _probes(n: int) -> list[Probe]:
    cases = load_sample().cases
    photos = [cv2.resize(load_image(c.images[0]), (512, 512)) for c in cases]
    return [Probe(f"c{i}", BASELINE.id, (photos[i % len(photos)],), None, ()) for i in range(n)]


def _adapter_cpu(base_url: str, probes: list[Probe], concurrency: int) -> float:
    model = OpenAIChatModel(
        "bench", "local", base_url=base_url, api_key_env=None, max_concurrency=concurrency,
        image_max_side=512,
    )  # fmt: skip
    try:
        model.answer(probes[:concurrency])  # warm-up: imports, connections
        cpu = time.process_time()
        answers = model.answer(probes)
        cpu = time.process_time() - cpu
    finally:
        model.close()
    assert all(a.status == "ok" for a in answers), answers[0]
    return cpu


def _sdk_cpu(base_url: str, probes: list[Probe], concurrency: int) -> float:
    import openai

    async def main() -> float:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="no-key", max_retries=5)
        semaphore = asyncio.Semaphore(concurrency)

        async def one(probe: Probe) -> Any:
            async with semaphore:
                url = await asyncio.to_thread(image_data_url, probe.images[0], 512, 90)
                prompt = build_prompt(probe)
                return await client.chat.completions.create(
                    model="local",
                    messages=[
                        {"role": "system", "content": prompt.system},
                        {
                            "role": "user",
                            "content": [
                                {"type": "text", "text": prompt.user},
                                {"type": "image_url", "image_url": {"url": url}},
                            ],
                        },
                    ],
                    temperature=0.0,
                    max_tokens=512,
                )

        await asyncio.gather(*(one(p) for p in probes[:concurrency]))  # warm-up
        cpu = time.process_time()
        results = await asyncio.gather(*(one(p) for p in probes))
        cpu = time.process_time() - cpu
        assert all(r.choices for r in results)
        await client.close()
        return cpu

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64, 128])
    parser.add_argument("--requests", type=int, default=1024)
    parser.add_argument("--one-way-requests", type=int, default=32)
    parser.add_argument("--cpu-requests", type=int, default=512)
    parser.add_argument("--cpu-concurrency", type=int, default=64)
    args = parser.parse_args()
    server = subprocess.Popen(
        [
            sys.executable,
            "-W",
            "ignore::RuntimeWarning",
            "-m",
            "derm_stress.testing.openai_server",
            "--latency",
            str(args.latency),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    rows = []
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            _dataset(folder, max(args.requests, args.one_way_requests))
            for concurrency in args.concurrency:
                n = args.one_way_requests if concurrency == 1 else args.requests
                server_cpu = _cpu_of(server.pid)
                seconds, cpu = _throughput(folder, base_url, concurrency, n)
                rows.append((concurrency, n, seconds, cpu, _cpu_of(server.pid) - server_cpu))
        probes = _probes(args.cpu_requests + args.cpu_concurrency)
        sdk = _sdk_cpu(base_url, probes[: args.cpu_requests], args.cpu_concurrency)
        adapter = _adapter_cpu(base_url, probes[: args.cpu_requests], args.cpu_concurrency)
    finally:
        server.terminate()
        server.wait()
    base = rows[0][1] / rows[0][2]
    print(
        f"latency {args.latency * 1000:.0f} ms per request, 512 px images, "
        f"{os.cpu_count()} CPUs, through run()\n"
    )
    print(
        "| concurrency | requests | seconds | requests/s | x concurrency 1 "
        "| run() CPU ms/request | server CPU ms/request |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for concurrency, n, seconds, cpu, server_cpu in rows:
        rate = n / seconds
        print(
            f"| {concurrency} | {n} | {seconds:.2f} | {rate:.1f} | {rate / base:.1f} "
            f"| {1000 * cpu / n:.1f} | {1000 * server_cpu / n:.1f} |"
        )
    n = args.cpu_requests
    print(f"\nclient CPU per request, {n} requests at concurrency {args.cpu_concurrency}:")
    print(f"- bare SDK: {1000 * sdk / n:.2f} ms")
    print(f"- adapter:  {1000 * adapter / n:.2f} ms ({adapter / sdk:.2f}x the bare SDK)")


if __name__ == "__main__":
    main()
