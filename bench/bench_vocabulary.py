"""How long the vocabulary takes to load, cold and cached, and to look terms up.

Each variant runs in a fresh Python process (the vocabulary is loaded once per process, so a
process start is the cost that matters): YAML parsed with no cache, YAML from the parsed-JSON
cache, and the cached object. Then lookups per second on names, synonyms and ICD codes, and
the first ICD-10-CM code no entry lists in a process: importing the official code set
against reading the cached index.

    .venv/bin/python bench/bench_vocabulary.py --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = """
import json, sys, time
start = time.perf_counter()
from derm_stress.labels import vocabulary
imported = time.perf_counter()
v = vocabulary()
loaded = time.perf_counter()
v2 = vocabulary()
again = time.perf_counter()
assert v is v2 and len(v) >= 400
print(json.dumps({"load": loaded - imported, "cached": again - loaded, "entries": len(v)}))
"""

LOOKUPS = [
    "psoriasis",
    "Atopic eczema",
    "shingles",
    "athlete's foot",
    "L40.0",
    "B35.4",
    "C44.91",
    "Seborrheic keratosis",
    "bkl",
    "nevus",
    "hives",
    "Bowen's disease",
    "tinea corporis",
]


def _child(env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for variant in ("no cache (YAML parsed)", "parsed-JSON cache"):
            times, cached = [], []
            for i in range(args.repeats):
                cache = os.path.join(tmp, f"{variant[:2]}{i}" if variant.startswith("no") else "c")
                env = {**os.environ, "DERM_STRESS_CACHE": cache}
                if not variant.startswith("no") and i == 0:
                    _child(env)  # fill the cache
                r = _child(env)
                times.append(r["load"])
                cached.append(r["cached"])
            rows.append((variant, statistics.median(times), statistics.median(cached)))
    base = rows[0][1]
    print("| variant | load s (median) | x no cache | second call s |")
    print("| --- | ---: | ---: | ---: |")
    for name, load, again in rows:
        print(f"| {name} | {load:.3f} | {load / base:.2f} | {again:.6f} |")

    from derm_stress.labels import vocabulary

    v = vocabulary()
    n = 20_000
    start = time.perf_counter()
    for i in range(n):
        v.normalise(LOOKUPS[i % len(LOOKUPS)] + ("" if i % 2 else " "))
    per_s = n / (time.perf_counter() - start)
    print(f"\nnormalise: {per_s:,.0f} lookups/s over {len(LOOKUPS)} names, synonyms and ICD codes")
    icd_rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DERM_STRESS_CACHE": tmp}
        _child_icd(env)  # builds the index once (first use on a machine)
        for variant, code in (
            ("simple_icd_10_cm import (what the index replaces)", ICD_LIBRARY),
            ("cached JSON index", ICD_INDEX),
        ):
            times = [_run_json(code, env)["seconds"] for _ in range(args.repeats)]
            icd_rows.append((variant, statistics.median(times)))
    print("\n| first unlisted ICD-10-CM code in a process | s (median) | x import |")
    print("| --- | ---: | ---: |")
    for name, seconds in icd_rows:
        print(f"| {name} | {seconds:.3f} | {seconds / icd_rows[0][1]:.2f} |")


ICD_LIBRARY = """
import json, time, warnings
warnings.simplefilter("ignore")
start = time.perf_counter()
import simple_icd_10_cm as c
c.is_valid_item("L40.59"); c.get_description("L40.59"); c.get_ancestors("L40.59")
print(json.dumps({"seconds": time.perf_counter() - start}))
"""
ICD_INDEX = """
import json, time
from derm_stress.labels import vocabulary
v = vocabulary()
start = time.perf_counter()
assert v.normalise("L40.59") == "ICD10CM:L40.59"
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def _run_json(code: str, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def _child_icd(env: dict[str, str]) -> None:
    _run_json(ICD_INDEX, env)


if __name__ == "__main__":
    main()
