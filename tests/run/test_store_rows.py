"""The store's rows and case records are exactly what the harness wrote before the
scale work of issue 17 (fewer lookups, memoised encoding, batched case records, cached
fingerprints): same keys, same row texts, same case records."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

from derm_stress.run import parse_config, run

SPEC: dict[str, Any] = {
    "image": ["none", {"op": "gaussian_noise", "severity": [2, 5]}],
    "context": ["image_only", "full", {"op": "misleading_referral", "severity": 5}],
    "dataset": {"limit": 6},
    "models": [
        {"name": "a", "adapter": "callable", "target": "tests.run.helpers:recorder_a"},
        {"name": "b", "adapter": "callable", "target": "tests.run.helpers:recorder_b"},
    ],
}
# computed with the harness of commit 93d22fc (before issue 17's scale work); the rows
# re-recorded for generator derivation v2 (branch ops-17): the drawing conditions' keys carry
# #rng=v2 and their applied records the new streams' parameters (was e3742ac674123ec3...)
ROWS_DIGEST = "7440e6c4929d8cc387b2bd2a68f2d310e7b34631274e015f0a3e2703ff36a410"
CASES_DIGEST = "a21f0a596aa67bf61553397a3bc0eee1f451f45fdc1313c3bbe5817f19279f09"
LATENCY = re.compile(r'"latency_s": [0-9.e-]+')


def store_digests(run_dir: Path) -> tuple[str, str, int]:
    """SHA-256 of every result row (all columns but the time written) in key order, and
    of every case record (without the photos' paths, which depend on the checkout)."""
    db = sqlite3.connect(run_dir / "results.sqlite")
    try:
        rows = db.execute(
            "SELECT key, model, case_id, condition, status, answer, applied FROM results "
            "ORDER BY key, model"
        ).fetchall()
        records = [
            json.loads(r) for (r,) in db.execute("SELECT record FROM cases ORDER BY position")
        ]
    finally:
        db.close()
    for record in records:
        record.pop("images")
    # the text exactly as stored, but for the measured latency of each call
    rows = [(*r[:5], LATENCY.sub('"latency_s": 0', r[5]), r[6]) for r in rows]
    rows_digest = hashlib.sha256(json.dumps(rows).encode()).hexdigest()
    cases_digest = hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()
    return rows_digest, cases_digest, len(rows)


def test_stored_rows_are_those_of_the_harness_before_the_scale_work(tmp_path: Path) -> None:
    config = parse_config(SPEC, tmp_path, "rows")
    first = run(config, tmp_path / "run")
    assert first.calls == 6 * 9 * 2
    assert store_digests(tmp_path / "run") == (ROWS_DIGEST, CASES_DIGEST, 108)
    again = run(config, tmp_path / "run")  # a resume changes nothing and calls nothing
    assert again.calls == 0 and again.reused == 108
    assert store_digests(tmp_path / "run") == (ROWS_DIGEST, CASES_DIGEST, 108)
