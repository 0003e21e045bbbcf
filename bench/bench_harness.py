"""Where the time of a run goes: perturbation alone, null model, reference model, resume.

Usage: python bench/bench_harness.py [--limit N] [--repeats R]
Prints one table; ratios are against "perturbation only" in the same process.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from derm_stress.perturb.presets import preset_path
from derm_stress.run import load_config, run
from derm_stress.run.executors import perturb_case


def null_model(probe: object) -> list[str]:
    return ["NEV"]


def perturb_only(config_path: Path, limit: int) -> float:
    from derm_stress.run import load_dataset

    config = load_config(config_path)
    dataset = load_dataset({"limit": limit}, config.base_dir)
    start = time.perf_counter()
    for case in dataset:  # the harness's own per-case work, on one thread
        perturb_case(case, config.conditions, config.seed)
    return time.perf_counter() - start


def end_to_end(
    config_path: Path, limit: int, models: list[dict[str, str]], out: Path
) -> tuple[float, float]:
    config = load_config(config_path)
    config.dataset = {"limit": limit}
    config.models = models
    first = run(config, out)
    again = run(config, out)
    assert again.calls == 0
    return first.seconds, again.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=90)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    path = preset_path("quickstart")
    n_conditions = len(load_config(path).conditions)
    probes = args.limit * n_conditions
    rows: dict[str, list[float]] = {
        "perturbation only": [],
        "null model": [],
        "reference model": [],
        "resume (reference, all stored)": [],
    }
    null = [{"name": "null", "adapter": "callable", "target": "bench_harness:null_model"}]
    ref = [{"name": "reference", "adapter": "reference"}]
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            rows["perturbation only"].append(perturb_only(path, args.limit))
            rows["null model"].append(end_to_end(path, args.limit, null, Path(tmp) / "n")[0])
            seconds, resume = end_to_end(path, args.limit, ref, Path(tmp) / "r")
            rows["reference model"].append(seconds)
            rows["resume (reference, all stored)"].append(resume)
    base = statistics.median(rows["perturbation only"])
    print(
        f"quickstart grid: {args.limit} cases x {n_conditions} conditions = {probes} probes; "
        f"median of {args.repeats}"
    )
    print(f"{'variant':<32} {'seconds':>8} {'probes/s':>9} {'x perturbation':>15}")
    for name, values in rows.items():
        median = statistics.median(values)
        print(f"{name:<32} {median:>8.2f} {probes / median:>9.0f} {median / base:>15.2f}")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    main()
