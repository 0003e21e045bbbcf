"""Where the fixed cost of a lookup-table operator's call goes (issue 17's last target).

``bench_operators.py`` reports the call given its generator against the kernel alone
(``op.apply``); for brightness and gamma that difference is 3-6 us on a 34-44 us kernel.
This script splits it, in the same conditions (512 x 512 photos, each call interleaved
with the others so every call starts in a cache the previous kernel evicted, best of 200
rounds per photo, median over photos), by timing four calls side by side:

- ``kernel``: ``op.apply(img, params)``, the denominator of ``bench_operators.py``;
- ``floor``: a call through the operator that only calls the kernel and returns a record
  made beforehand (the cost of the call itself and of reading the parameter);
- ``draws``: ``floor`` plus the two draws from the call's generator, as the call makes
  them (PCG64's raw outputs);
- ``call``: the operator's real call (input check, draws, value, rounding, record).

``draws - floor`` is what the generator costs; ``call - draws`` is the rest of the call.
Last, the call with its kernel replaced by a no-op is timed in a tight loop, where nothing
evicts the interpreter's working set between calls.

Usage: python bench/bench_tone_call.py [--operator brightness] [--photos 16] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_operators import given_call, kernel_call, photos_512

from derm_stress.cases import Case
from derm_stress.perturb import Applied, make_operator, operator_rng

ROUNDS = 200
_RAW = np.random.PCG64.random_raw


def reduced(op: Any, call: Callable[..., Any], record: Applied) -> Any:
    """``op`` as a subclass whose ``__call__`` is ``call``, holding ``record``."""
    cls = type(f"{type(op).__name__}Reduced", (type(op),), {"__call__": call})
    out = cls(op.severity, **op.config)
    out.record = record
    return out


def floor_call(self: Any, target: np.ndarray, rng: Any, case: Case, where: str) -> Any:
    record = self.record
    return self._kernel(target, record.params[self._param]), record


def draws_call(self: Any, target: np.ndarray, rng: Any, case: Case, where: str) -> Any:
    bits = rng.bit_generator
    _RAW(bits)
    _RAW(bits)
    record = self.record
    return self._kernel(target, record.params[self._param]), record


def one_run(name: str, photos: list[tuple[Case, np.ndarray]]) -> dict[str, float]:
    best: dict[str, list[float]] = {"kernel": [], "floor": [], "draws": [], "call": []}
    for case, img in photos:
        op = make_operator(name, 3)
        key = (0, case.case_id, f"img={name}", "0:image[0]")
        record = op(img, operator_rng(op, *key), case, "image[0]")[1]
        params = dict(record.params)
        ops = {
            "floor": reduced(op, floor_call, record),
            "draws": reduced(op, draws_call, record),
            "call": op,
        }
        # each call's generators derived before timing, as bench_operators.py does
        calls: list[tuple[str, Callable[[], Any]]] = [
            (
                n,
                partial(
                    given_call, o, img, iter([operator_rng(o, *key) for _ in range(ROUNDS)]), case
                ),
            )
            for n, o in ops.items()
        ]
        calls.append(("kernel", partial(kernel_call, op, img, params)))
        fastest = dict.fromkeys(best, float("inf"))
        for r in range(ROUNDS):  # interleaved, each first in turn
            shift = r % len(calls)
            for n, call in calls[shift:] + calls[:shift]:
                t = time.perf_counter()
                call()
                fastest[n] = min(fastest[n], time.perf_counter() - t)
        for n, t in fastest.items():
            best[n].append(t)
    return {n: statistics.median(times) for n, times in best.items()}


def _keep(target: np.ndarray, value: float) -> np.ndarray:
    return target


def warm_call(name: str, photos: list[tuple[Case, np.ndarray]], calls: int = 4000) -> float:
    """Seconds per call of the operator with its kernel replaced by a no-op, in a tight
    loop (best of 5 loops): the same call without the cache the kernel evicts."""
    op = make_operator(name, 3)
    no_kernel = type(f"{type(op).__name__}NoKernel", (type(op),), {"_kernel": staticmethod(_keep)})
    reduced_op = no_kernel(op.severity, **op.config)
    case, img = photos[0]
    best = float("inf")
    for loop in range(5):
        key = (0, case.case_id, f"img={name}")
        generators = [operator_rng(reduced_op, *key, f"{loop}:{i}") for i in range(calls)]
        t = time.perf_counter()
        for rng in generators:
            reduced_op(img, rng, case, "image[0]")
        best = min(best, (time.perf_counter() - t) / calls)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--operator", default="brightness")
    parser.add_argument("--photos", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    photos = photos_512(args.photos)
    print(f"{args.operator} at severity 3, {len(photos)} photos at 512x512, microseconds")
    print("| run | kernel | call - kernel | floor - kernel | draws - floor | call - draws |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for run in range(1, args.runs + 1):
        t = {n: v * 1e6 for n, v in one_run(args.operator, photos).items()}
        print(
            f"| {run} | {t['kernel']:.1f} | {t['call'] - t['kernel']:.2f} "
            f"({t['call'] / t['kernel'] - 1:+.1%}) | {t['floor'] - t['kernel']:.2f} | "
            f"{t['draws'] - t['floor']:.2f} | {t['call'] - t['draws']:.2f} |"
        )
    warm = warm_call(args.operator, photos) * 1e6
    print(f"\nthe call with its kernel replaced by a no-op, in a tight loop: {warm:.2f} us")


if __name__ == "__main__":
    main()
