"""The harness: models x cases x conditions, each perturbed input computed once for all models.

Results are written to the store as each batch completes; a case whose input cannot be read
or perturbed is stored as an ``input_error`` for that case, and the run goes on.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from derm_stress import __version__
from derm_stress.cases import Case
from derm_stress.datasets import Dataset
from derm_stress.errors import CaseInputError
from derm_stress.images import load_image
from derm_stress.models import Model, make_model
from derm_stress.models.base import Answer
from derm_stress.perturb.base import Applied
from derm_stress.perturb.condition import Condition, Probe, build_probe
from derm_stress.run.config import RunConfig, load_dataset
from derm_stress.run.store import Store, result_key

STORE_NAME = "results.sqlite"
MANIFEST_NAME = "manifest.json"
Progress = Callable[[int, int], None]


@dataclass
class RunSummary:
    """What a run did: calls made, results reused, errors, and where things are."""

    out_dir: Path
    cases: int
    conditions: int
    models: int
    calls: int = 0
    reused: int = 0
    input_errors: int = 0
    model_errors: int = 0
    dataset_issues: int = 0
    seconds: float = 0.0
    per_model_calls: dict[str, int] = field(default_factory=dict)

    @property
    def expected(self) -> int:
        return self.cases * self.conditions * self.models


def _key_for(model: Model, case: Case, fingerprint: str, condition: Condition, seed: int) -> str:
    return result_key(
        model.identity_hash(),
        model.prompt_version,
        case.case_id,
        fingerprint,
        condition.id,
        seed,
        condition.is_deterministic,
    )


def _git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "derm-stress": __version__}
    for package in ("numpy", "opencv-python-headless", "pillow", "pyyaml"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


class _Batcher:
    """Collects probes per model and answers them in batches, storing each batch."""

    def __init__(self, store: Store, summary: RunSummary) -> None:
        self.store = store
        self.summary = summary
        self.pending: dict[str, list[tuple[str, Probe]]] = {}

    def add(self, model: Model, key: str, probe: Probe) -> None:
        queue = self.pending.setdefault(model.name, [])
        queue.append((key, probe))
        if len(queue) >= model.batch_size:
            self.flush(model)

    def flush(self, model: Model) -> None:
        queue = self.pending.pop(model.name, [])
        if not queue:
            return
        probes = [p for _, p in queue]
        try:
            answers = model.answer(probes)
            if len(answers) != len(probes):
                raise RuntimeError(f"returned {len(answers)} answers for {len(probes)} probes")
        except Exception as exc:  # a whole batch failed: every probe in it gets the error
            answers = [Answer.failed(f"{type(exc).__name__}: {exc}")] * len(probes)
        self.summary.calls += len(probes)
        self.summary.per_model_calls[model.name] = self.summary.per_model_calls.get(
            model.name, 0
        ) + len(probes)
        self.summary.model_errors += sum(a.status == "error" for a in answers)
        self.store.put(
            [
                (k, model.name, p.case_id, p.condition_id, a, p.applied)
                for (k, p), a in zip(queue, answers, strict=True)
            ]
        )


def _input_error(error: str) -> Answer:
    return Answer(raw="", status="error", error=error, extra={"input_error": True})


def execute(
    dataset: Dataset,
    conditions: Sequence[Condition],
    models: Sequence[Model],
    store: Store,
    seed: int,
    summary: RunSummary,
    progress: Progress | None = None,
) -> dict[str, str]:
    """Run everything not yet in the store. Returns case id -> fingerprint."""
    batcher = _Batcher(store, summary)
    fingerprints: dict[str, str] = {}
    for index, case in enumerate(dataset.cases):
        fingerprint = fingerprints[case.case_id] = case.fingerprint()
        keys = {
            (m.name, c.id): _key_for(m, case, fingerprint, c, seed)
            for m in models
            for c in conditions
        }
        done = store.completed(keys.values())
        summary.reused += len(done)
        todo = {k: v for k, v in keys.items() if v not in done}
        if todo:
            _run_case(case, conditions, models, todo, seed, store, batcher, summary)
        if progress:
            progress(index + 1, len(dataset.cases))
    for model in models:
        batcher.flush(model)
    return fingerprints


def _run_case(
    case: Case,
    conditions: Sequence[Condition],
    models: Sequence[Model],
    todo: dict[tuple[str, str], str],
    seed: int,
    store: Store,
    batcher: _Batcher,
    summary: RunSummary,
) -> None:
    def fail_all(condition_ids: set[str], error: str) -> None:
        rows: list[tuple[str, str, str, str, Answer, tuple[Applied, ...]]] = [
            (key, m, case.case_id, c, _input_error(error), ())
            for (m, c), key in todo.items()
            if c in condition_ids
        ]
        summary.input_errors += len(rows)
        store.put(rows)

    try:
        originals: list[np.ndarray] = [load_image(i) for i in case.images]
    except CaseInputError as exc:
        fail_all({c.id for c in conditions}, str(exc))
        return
    for condition in conditions:
        wanted = [m for m in models if (m.name, condition.id) in todo]
        if not wanted:
            continue
        try:
            probe = build_probe(case, condition, seed, originals)
        except Exception as exc:  # a failed perturbation costs this (case, condition) only
            fail_all({condition.id}, f"perturbation failed: {type(exc).__name__}: {exc}")
            continue
        for model in wanted:
            batcher.add(model, todo[(model.name, condition.id)], probe)


def case_record(case: Case, fingerprint: str | None) -> dict[str, Any]:
    """What the manifest keeps of a case: enough for metrics and subgroups."""
    return {
        "id": case.case_id,
        "diagnosis": case.diagnosis,
        "triage": case.triage,
        "fingerprint": fingerprint,
        "fitzpatrick": case.note.fitzpatrick,
        "body_site": case.note.body_site,
        "images": [str(i) for i in case.images if not isinstance(i, np.ndarray)],
        "note": case.note.to_dict(),
    }


def run(config: RunConfig, out_dir: str | Path, progress: Progress | None = None) -> RunSummary:
    """Run a configuration into ``out_dir`` (store, manifest); resume what is already there."""
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dataset = load_dataset(config.dataset, config.base_dir)
    models = [make_model(spec) for spec in config.models]
    summary = RunSummary(
        out,
        len(dataset.cases),
        len(config.conditions),
        len(models),
        dataset_issues=len(dataset.issues),
    )
    manifest: dict[str, Any] = {
        "name": config.name,
        "config": config.raw,
        "seed": config.seed,
        "top_k": config.top_k,
        "conditions": [c.describe() for c in config.conditions],
        "models": [
            {
                "name": m.name,
                "identity": m.identity(),
                "hash": m.identity_hash(),
                "prompt_version": m.prompt_version,
            }
            for m in models
        ],
        "dataset": {
            "name": dataset.name,
            "root": str(dataset.root) if dataset.root else None,
            "cases": len(dataset.cases),
            "issues": [{"source": i.source, "reason": i.reason} for i in dataset.issues],
        },
        "versions": _versions(),
        "git_revision": _git_revision(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "status": "running",
    }
    _write_json(out / MANIFEST_NAME, manifest)
    with Store(out / STORE_NAME) as store:
        try:
            fingerprints = execute(
                dataset, config.conditions, models, store, config.seed, summary, progress
            )
        finally:
            for model in models:
                model.close()
    summary.seconds = time.perf_counter() - start
    manifest["dataset"]["fingerprint"] = dataset.fingerprint(fingerprints)
    manifest["cases"] = [case_record(c, fingerprints.get(c.case_id)) for c in dataset.cases]
    manifest["status"] = "complete"
    manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    manifest["summary"] = {k: v for k, v in vars(summary).items() if k != "out_dir"}
    _write_json(out / MANIFEST_NAME, manifest)
    return summary
