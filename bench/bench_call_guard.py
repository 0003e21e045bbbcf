"""What the per-call timeout costs a ``callable`` model: the function called directly, through
``CallGuard.map`` (one hand-off per batch of 16, as ``CallableModel`` does) and through
``CallGuard.call`` (one hand-off per call), side by side in one process.

    .venv/bin/python bench/bench_call_guard.py [--calls 32000]
"""

from __future__ import annotations

import argparse
import statistics
import time

from derm_stress.models.timeout import CallGuard


def _answer(item: int) -> int:
    return item


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=32_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    batch = list(range(16))
    batches = args.calls // len(batch)
    guard = CallGuard("bench")

    def direct() -> None:
        for _ in range(batches):
            [_answer(i) for i in batch]

    def mapped() -> None:
        for _ in range(batches):
            guard.map(_answer, batch, timeout_s=120)

    def called() -> None:
        for _ in range(batches):
            for i in batch:
                guard.call(_answer, i, timeout_s=120)

    rows = []
    for name, fn in (("direct", direct), ("map, batch of 16", mapped), ("call", called)):
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        rows.append((name, statistics.median(times) / (batches * len(batch)) * 1e6))
    print("| variant | us per call |\n| --- | ---: |")
    for name, us in rows:
        print(f"| {name} | {us:.2f} |")


if __name__ == "__main__":
    main()
