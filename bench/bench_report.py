"""Report generation from a large synthetic run: time and peak memory of `derm-stress report`.

Usage: python bench/bench_report.py [--cases 2500] [--models 5] [--out DIR [--reuse]] [--runs N]

Builds a run directory with models x quickstart's 80 conditions x cases results (defaults:
5 x 80 x 2,500 = 1,000,000 rows) whose answers look like the reference model's (six-code
differential with confidences, triage, tokens, latency, perturbation records), with
accuracy falling with severity and a misleading referral adopted some of the time, then
times `derm-stress report` on it in a fresh process and reads that process's peak RSS.
Writing the store is not timed. ``--out DIR --reuse`` reports on a run built before;
``--runs N`` times N reports in a row. The CPU time (user + system, the figures' child
process included) is steadier than the wall time on a shared machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import numpy as np

from derm_stress.labels import triage_for
from derm_stress.perturb.presets import preset_path
from derm_stress.run import Store, load_config, result_key
from derm_stress.run.store import key_hash

CODES = ("ACK", "BCC", "MEL", "NEV", "SCC", "SEK")
SITES = ("FACE", "BACK", "CHEST", "ARM", "FOREARM", "NOSE", "HAND", "THIGH")


def _raw(differential: list[str], confidences: list[float]) -> str:
    lines = [
        f"{i + 1}. {c} ({round(100 * p)}%)"
        for i, (c, p) in enumerate(zip(differential, confidences, strict=True))
    ]
    return "\n".join(lines) + f"\nTriage: {triage_for(differential[0])}"


def build(out: Path, n_cases: int, n_models: int, seed: int = 0) -> int:
    """Write manifest.json and results.sqlite for a synthetic run; returns the row count."""
    config = load_config(preset_path("quickstart"))
    conditions = [c.describe() for c in config.conditions]
    rng = np.random.default_rng(seed)
    diagnoses = rng.choice(CODES, n_cases)
    cases = [
        {
            "id": f"SYN_{i:06d}",
            "diagnosis": str(dx),
            "triage": triage_for(str(dx)),
            "fingerprint": hashlib.sha256(f"case{i}".encode()).hexdigest()[:16],
            "fitzpatrick": int(rng.integers(1, 7)),
            "body_site": str(rng.choice(SITES)),
            "images": [],
            "note": {},
        }
        for i, dx in enumerate(diagnoses)
    ]
    models = [
        {"name": f"model-{m}", "identity": {"adapter": "synthetic", "m": m},
         "hash": hashlib.sha256(f"model{m}".encode()).hexdigest(), "prompt_version": "v1"}
        for m in range(n_models)
    ]  # fmt: skip
    manifest = {
        "name": "synthetic-1m",
        "config": {"name": "synthetic-1m", "note": "bench/bench_report.py"},
        "seed": 0,
        "top_k": 3,
        "conditions": conditions,
        "models": models,
        "dataset": {"name": "synthetic", "root": None, "cases": n_cases, "issues": []},
        "cases": cases,
        "status": "complete",
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    Store(out / "results.sqlite").close()  # the real schema; rows are then bulk-inserted
    db = sqlite3.connect(out / "results.sqlite")
    db.execute("PRAGMA synchronous=OFF")
    total = 0
    for mi, model in enumerate(models):
        for condition in conditions:
            severity = sum(o["severity"] for o in condition["image"])
            misled = any(o["op"] == "misleading_referral" for o in condition["note"])
            p_right = 0.55 + 0.04 * mi - 0.04 * severity - (0.15 if misled else 0.0)
            right = rng.random(n_cases) < p_right
            unparseable = rng.random(n_cases) < 0.01
            wrong_referral = rng.choice(CODES, n_cases)
            rows = []
            for n, case in enumerate(cases):
                dx = case["diagnosis"]
                others = [c for c in CODES if c != dx]
                rng_order = [others[(n + j) % 5] for j in range(5)]
                if misled and not right[n] and n % 2:
                    rng_order.remove(wrong_referral[n]) if wrong_referral[n] in rng_order else None
                    rng_order.insert(0, str(wrong_referral[n]))
                differential = (
                    [dx, *rng_order] if right[n] else [*rng_order[:2], dx, *rng_order[2:]]
                )
                differential = differential[:6]
                conf = [0.52, 0.21, 0.12, 0.08, 0.05, 0.02]
                status = "unparseable" if unparseable[n] else "ok"
                answer = {
                    "raw": _raw(differential, conf),
                    "differential": [] if unparseable[n] else differential,
                    "confidences": [] if unparseable[n] else conf,
                    "triage": None if unparseable[n] else triage_for(differential[0]),
                    "status": status, "error": "no diagnosis found" if unparseable[n] else None,
                    "other_terms": [], "prompt": None, "prompt_tokens": 812,
                    "completion_tokens": 41, "latency_s": 0.8, "cost_usd": 0.0021, "extra": {},
                }  # fmt: skip
                applied = [
                    {"op": o["op"], "severity": o["severity"], "target": "image[0]",
                     "params": {"seed": n}, "changes": []}
                    for o in condition["image"]
                ] + [
                    {"op": o["op"], "severity": o["severity"], "target": "note",
                     "params": {"diagnosis": str(wrong_referral[n])},
                     "changes": [["referral", None, f"referred as {wrong_referral[n]}"]]}
                    for o in condition["note"]
                ]  # fmt: skip
                key = result_key(
                    model["hash"], "v1", case["id"], case["fingerprint"],
                    condition.get("key", condition["id"]),
                    0, condition["deterministic"],
                )  # fmt: skip
                rows.append(
                    (key, model["name"], case["id"], condition["id"], status,
                     json.dumps(answer), json.dumps(applied), 0.0, key_hash(key))
                )  # fmt: skip
            db.executemany("INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            total += len(rows)
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=2500)
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="keep the run here")
    parser.add_argument(
        "--reuse", action="store_true", help="report on the run already in --out (no build)"
    )
    parser.add_argument("--runs", type=int, default=1, help="reports in a row (fresh processes)")
    args = parser.parse_args()
    if args.reuse and (args.out is None or not (args.out / "results.sqlite").is_file()):
        parser.error("--reuse needs --out DIR holding a run built by this script")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "run"
        if args.reuse:
            uri = f"{(out / 'results.sqlite').resolve().as_uri()}?mode=ro"
            store = sqlite3.connect(uri, uri=True)
            with closing(store):
                rows = store.execute("SELECT count(*) FROM results").fetchone()[0]
        else:
            start = time.perf_counter()
            rows = build(out, args.cases, args.models)
            size = (out / "results.sqlite").stat().st_size / 2**20
            elapsed = time.perf_counter() - start
            print(f"built {rows:,} rows ({size:,.0f} MiB store) in {elapsed:.1f} s")
        cli = Path(sys.executable).with_name("derm-stress")
        for run in range(1, args.runs + 1):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([str(cli), "report", str(out)], check=True)
            seconds = time.perf_counter() - start
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
            peak = usage.ru_maxrss / 2**10  # KiB -> MiB, the largest child so far
            print(
                f"run {run}: derm-stress report: {seconds:.1f} s ({cpu:.1f} s CPU), "
                f"peak RSS {peak:,.0f} MiB, {rows:,} rows"
            )


if __name__ == "__main__":
    main()
