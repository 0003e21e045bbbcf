"""The harness at scale: orchestration rate, overhead over perturbation, memory, resume, Ray.

Usage: python bench/bench_scale.py overhead|e2e|memory|ray [options]

overhead  null model (returns a fixed Answer) x identity conditions (operators at severity 0)
          on the bundled sample's real photos: results written durably per second, and the
          re-run of the completed run (resume) against the first run; medians of --fresh
          runs in fresh folders and --resumes resumes, each timed around the whole run().
e2e       null model x perturbations/capture.yaml on all 531 PAD-UFES-20 photos: the run
          against the same perturbation work alone on a pool of as many threads.
memory    a synthetic manifest of N cases (tiny PNG photos, distinct per case) x 21
          conditions with the null model, in a fresh process each: results/s, peak RSS,
          and the resume of the finished run. Run it for two N to see whether time and
          memory grow in proportion.
ray       the quickstart grid on the sample with the reference model: local executor
          against a local Ray cluster of 2 CPUs (started here), same results checked.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from derm_stress.images import encode_png
from derm_stress.models.base import Answer
from derm_stress.perturb.presets import preset_path
from derm_stress.run import load_config, load_dataset, parse_config, run
from derm_stress.run.executors import perturb_case

ROOT = Path(__file__).resolve().parents[1]
NULL_ANSWER = Answer(raw="NEV", differential=("NEV",), confidences=(1.0,))
IDENTITY_OPS = [
    "exposure", "gamma", "brightness", "color_temperature", "motion_blur", "defocus",
    "gaussian_noise", "jpeg_compression", "rotation", "perspective",
]  # fmt: skip


def null_model(probe: object) -> Answer:
    return NULL_ANSWER


def null_models(n: int) -> list[dict[str, Any]]:
    return [
        {"name": f"null{i}", "adapter": "callable", "target": "bench_scale:null_model",
         "version": str(i), "batch_size": 64}
        for i in range(n)
    ]  # fmt: skip


def identity_grid(n_conditions: int) -> dict[str, Any]:
    """``n_conditions`` conditions whose operators all sit at severity 0 (no-ops)."""
    ops = [{"op": op, "severity": 0} for op in IDENTITY_OPS[: n_conditions // 2]]
    return {"image": ops, "context": ["image_only", "full"]}


def overhead(args: argparse.Namespace) -> None:
    """Fresh runs in fresh folders, then resumes of the last one, each timed around the
    whole ``run()`` call (wall time: loading the vocabulary and dataset, the lock, both
    manifest writes and the executor's shutdown included); medians, every figure shown.
    All in one process: the first fresh run also pays one-time costs (lazy imports, the
    git revision, parsing the sample), which the median of several leaves out."""
    spec = {**identity_grid(20), "models": null_models(args.models)}
    config = parse_config(spec, ROOT, "overhead")
    firsts: list[float] = []
    resumes: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.fresh):
            start = time.perf_counter()
            first = run(config, Path(tmp) / f"run{i}")
            firsts.append(time.perf_counter() - start)
        for _ in range(args.resumes):
            start = time.perf_counter()
            again = run(config, Path(tmp) / f"run{args.fresh - 1}")
            resumes.append(time.perf_counter() - start)
            assert again.calls == 0 and again.reused == first.calls
    n = first.calls
    first_s, resume_s = statistics.median(firsts), statistics.median(resumes)
    print(
        f"overhead: {first.cases} cases x {first.conditions} identity conditions x "
        f"{first.models} null models = {n:,} results"
    )
    print(
        f"  first run, median of {len(firsts)} in fresh folders {first_s:.3f} s = "
        f"{n / first_s:,.0f} results/s stored  ({', '.join(f'{t:.3f}' for t in firsts)} s)"
    )
    print(
        f"  resume (all stored), median of {len(resumes)} {1000 * resume_s:.1f} ms = "
        f"{100 * resume_s / first_s:.1f}% of the first run  "
        f"({', '.join(f'{1000 * t:.1f}' for t in resumes)} ms)"
    )


def e2e(args: argparse.Namespace) -> None:
    config = load_config(preset_path("capture"))
    config.dataset = {"pad_ufes_20": str(ROOT / "data" / "pad-ufes-20")}
    if args.limit:
        config.dataset["limit"] = args.limit
    config.models = null_models(1)
    dataset = load_dataset(config.dataset, config.base_dir)
    workers = args.workers
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        images = sum(
            len(p.probes)
            for p in pool.map(
                lambda c: perturb_case(c, config.conditions, config.seed), dataset.cases
            )
        )
    alone = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        summary = run(config, Path(tmp) / "run")
        again = run(config, Path(tmp) / "run")
    print(
        f"e2e: capture.yaml, {len(dataset.cases)} photos x {len(config.conditions)} conditions "
        f"= {images:,} perturbed inputs, {workers} threads"
    )
    print(f"  perturbation alone   {alone:7.1f} s  {images / alone:7,.0f} inputs/s")
    print(
        f"  run, null model      {summary.seconds:7.1f} s  {summary.calls / summary.seconds:7,.0f}"
        f" results/s  overhead {100 * (summary.seconds / alone - 1):+.1f}%"
    )
    print(
        f"  resume (all stored)  {again.seconds:7.1f} s  = "
        f"{100 * again.seconds / summary.seconds:.1f}% of the run"
    )


def _synthetic_manifest(folder: Path, n_cases: int) -> Path:
    """N cases, each with its own 32x32 PNG (so every fingerprint differs)."""
    images = folder / "img"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    codes = ["MEL", "NEV", "BCC", "SEK", "ACK", "SCC"]
    path = folder / "cases.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["case_id", "image", "diagnosis", "age", "fitzpatrick", "itch"])
        for i in range(n_cases):
            name = f"img/{i:07d}.png"
            pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            (folder / name).write_bytes(encode_png(pixels))
            writer.writerow([f"S{i:07d}", name, codes[i % 6], 30 + i % 50, 1 + i % 6, "yes"])
    return path


def memory(args: argparse.Namespace) -> None:
    if args.child:
        spec = json.loads(args.child)
        config = parse_config(spec, Path(spec.pop("_base")), "memory")
        summary = run(config, spec_out(args))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        again = run(config, spec_out(args))  # a resume of the finished run: nothing to call
        assert again.calls == 0 and again.reused == summary.calls
        print(
            json.dumps(
                {"results": summary.calls, "seconds": summary.seconds, "peak_mib": peak,
                 "resume_seconds": again.seconds}
            )
        )  # fmt: skip
        return
    for n_cases in args.cases:
        with tempfile.TemporaryDirectory() as tmp:
            manifest = _synthetic_manifest(Path(tmp) / "data", n_cases)
            spec = {**identity_grid(20), "dataset": {"manifest": str(manifest)},
                    "models": null_models(1), "_base": tmp}  # fmt: skip
            out = subprocess.run(
                [sys.executable, __file__, "memory", "--child", json.dumps(spec),
                 "--out", str(Path(tmp) / "run")],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            result = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"memory: {n_cases:,} cases x 21 conditions = {result['results']:,} results in "
                f"{result['seconds']:.1f} s = {result['results'] / result['seconds']:,.0f}/s; "
                f"peak RSS {result['peak_mib']:,.0f} MiB; resume {result['resume_seconds']:.2f} s"
                f" = {100 * result['resume_seconds'] / result['seconds']:.1f}% of the run"
            )


def spec_out(args: argparse.Namespace) -> Path:
    return Path(args.out)


def ray_vs_local(args: argparse.Namespace) -> None:
    import ray

    from derm_stress.run import RayExecutor

    config = load_config(preset_path("quickstart"))
    if args.limit:
        config.dataset = {"limit": args.limit}
    with tempfile.TemporaryDirectory() as tmp:
        local = run(config, Path(tmp) / "local")
        start = time.perf_counter()
        executor = RayExecutor(None)  # a local cluster with this machine's CPUs
        startup = time.perf_counter() - start
        remote = run(config, Path(tmp) / "ray", executor=executor)
        ray.shutdown()
        same = _answers(Path(tmp) / "local") == _answers(Path(tmp) / "ray")
    print(f"ray: quickstart, {local.cases} cases x {local.conditions} conditions, reference model")
    print(
        f"  local executor  {local.seconds:6.1f} s  {local.calls / local.seconds:6,.0f} results/s"
    )
    print(
        f"  ray executor    {remote.seconds:6.1f} s  {remote.calls / remote.seconds:6,.0f} "
        f"results/s  (+{startup:.1f} s cluster start)  ratio {remote.seconds / local.seconds:.2f}x"
    )
    print(f"  identical results: {same}")


def _answers(run_dir: Path) -> dict[str, str]:
    db = sqlite3.connect(run_dir / "results.sqlite")
    try:
        return dict(db.execute("SELECT key, answer FROM results").fetchall())
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("overhead")
    p.add_argument("--models", type=int, default=5)
    p.add_argument("--fresh", type=int, default=3, help="fresh runs (median taken)")
    p.add_argument("--resumes", type=int, default=5, help="resumes (median taken)")
    p = sub.add_parser("e2e")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p = sub.add_parser("memory")
    p.add_argument("--cases", type=int, nargs="+", default=[50_000, 100_000])
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    p = sub.add_parser("ray")
    p.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    {"overhead": overhead, "e2e": e2e, "memory": memory, "ray": ray_vs_local}[args.what](args)


if __name__ == "__main__":
    main()
