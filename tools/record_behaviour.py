"""Record what a run config does, so a refactor can prove it changed nothing.

    python tools/record_behaviour.py grid CONFIG RUN_DIR OUT_JSON [--no-run]
    python tools/record_behaviour.py report RUN_DIR OUT_JSON

``grid`` runs CONFIG into RUN_DIR (resuming what is there; ``--no-run``: RUN_DIR is already
complete), writes the report (``metrics.csv``) and records in OUT_JSON:

- ``store_keys``: every result key in the run's store, sorted;
- ``probes``: per ``case_id|condition id``, the SHA-256 of the perturbed photo bytes (shape,
  dtype and pixels of each image) and of the rendered note, rebuilt with ``build_probes``;
- ``metrics_csv_sha256`` / ``export_csv_sha256``: digests of the run's ``metrics.csv`` and of
  ``derm-stress export``'s CSV.

``report`` writes the report and the export of an existing RUN_DIR and records the SHA-256
of each file it wrote (``report_digests``).

Run it with one version of the code, then with another into a fresh RUN_DIR, and compare the
two JSON files (``tests/test_schema_unchanged.py`` does this for its fixture grid; the recorded
demo figures are in ``tests/data/schema_v1/README.md``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any


def probe_digests(config_path: Path) -> dict[str, str]:
    """``case|condition`` -> SHA-256 of what the model sees (photos and note)."""
    from derm_stress.images import load_image
    from derm_stress.perturb.condition import Probe, build_probes
    from derm_stress.run import load_config
    from derm_stress.run.config import load_dataset

    config = load_config(config_path)
    dataset = load_dataset(config.dataset, config.base_dir)
    out: dict[str, str] = {}
    for case in dataset.stream():
        originals = [load_image(i) for i in case.images]
        probes = build_probes(case, config.conditions, config.seed, originals)
        for condition, probe in zip(config.conditions, probes, strict=True):
            key = f"{case.case_id}|{condition.id}"
            if not isinstance(probe, Probe):
                out[key] = f"error: {type(probe).__name__}: {probe}"
                continue
            digest = hashlib.sha256()
            for image in probe.images:
                digest.update(f"{image.shape}{image.dtype}".encode())
                digest.update(image.tobytes())
            digest.update(b"\0note\0" + (probe.note_text or "").encode())
            out[key] = digest.hexdigest()
    return out


def store_keys(run_dir: Path) -> list[str]:
    with sqlite3.connect(f"file:{run_dir / 'results.sqlite'}?mode=ro", uri=True) as db:
        return sorted(k for (k,) in db.execute("SELECT key FROM results"))


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


REPORT_FILES = ("metrics.csv", "subgroups.csv", "report.md", "report.html", "export.csv")


def report_digests(run_dir: Path) -> dict[str, str]:
    """Write the report and the CSV export of ``run_dir``; file name -> SHA-256."""
    from derm_stress.report import write_report
    from derm_stress.run.export import export_run
    from derm_stress.run.results import load_run

    write_report(run_dir)
    export_run(load_run(run_dir), "csv", run_dir / "export.csv")
    return {name: sha256_file(run_dir / name) for name in REPORT_FILES}


def record(config: Path, run_dir: Path, run: bool = True) -> dict[str, Any]:
    from derm_stress.run import load_config
    from derm_stress.run import run as run_config

    if run:
        run_config(load_config(config), run_dir)
    files = report_digests(run_dir)
    keys = store_keys(run_dir)
    probes = probe_digests(config)
    return {
        "config": config.name,
        "store_keys": keys,
        "store_keys_sha256": hashlib.sha256("\n".join(keys).encode()).hexdigest(),
        "probes": probes,
        "probes_sha256": hashlib.sha256(json.dumps(probes, sort_keys=True).encode()).hexdigest(),
        "metrics_csv_sha256": files["metrics.csv"],
        "export_csv_sha256": files["export.csv"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    grid = sub.add_parser("grid", help="run a config and record keys, probes and CSVs")
    grid.add_argument("config", type=Path)
    grid.add_argument("run_dir", type=Path)
    grid.add_argument("out", type=Path)
    grid.add_argument("--no-run", action="store_true", help="RUN_DIR is complete: do not run")
    report = sub.add_parser("report", help="report and export a run dir; record file digests")
    report.add_argument("run_dir", type=Path)
    report.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "report":
        recorded: dict[str, Any] = report_digests(args.run_dir)
        summary = ", ".join(f"{k} {v[:12]}" for k, v in recorded.items())
    else:
        recorded = record(args.config, args.run_dir, run=not args.no_run)
        summary = (
            f"{len(recorded['store_keys'])} store keys ({recorded['store_keys_sha256'][:12]}), "
            f"{len(recorded['probes'])} probes ({recorded['probes_sha256'][:12]}), metrics.csv "
            f"{recorded['metrics_csv_sha256'][:12]}, export {recorded['export_csv_sha256'][:12]}"
        )
    args.out.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
