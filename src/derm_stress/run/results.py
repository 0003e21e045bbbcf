"""Reading a finished (or interrupted) run back: its manifest joined with the store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from derm_stress.errors import InvalidArgument
from derm_stress.labels import is_correct, triage_for
from derm_stress.run.harness import MANIFEST_NAME, STORE_NAME
from derm_stress.run.store import Result, Store, result_key


@dataclass(frozen=True)
class Row:
    """One model x case x condition outcome, with the reference diagnosis joined in.

    ``status``: ok, unparseable, error (model call failed), input_error, or missing (not
    run yet). Accuracy counts ok and unparseable rows (an unparseable answer is wrong).
    """

    model: str
    case_id: str
    condition: str
    diagnosis: str
    status: str
    differential: tuple[str, ...]
    confidences: tuple[float | None, ...]
    stated_triage: str | None
    error: str | None
    result: Result | None

    @property
    def scored(self) -> bool:
        return self.status in ("ok", "unparseable")

    @property
    def triage(self) -> str | None:
        """Stated triage, else the triage of the top diagnosis."""
        if self.stated_triage:
            return self.stated_triage
        return triage_for(self.differential[0]) if self.differential else None

    def correct_at(self, k: int) -> bool:
        return any(is_correct(code, self.diagnosis) for code in self.differential[:k])


@dataclass
class RunData:
    """A run directory, loaded: manifest and rows in (model, condition, case) order."""

    path: Path
    manifest: dict[str, Any]
    rows: list[Row]

    @property
    def top_k(self) -> int:
        return int(self.manifest.get("top_k", 3))

    @property
    def models(self) -> list[str]:
        return [m["name"] for m in self.manifest["models"]]

    @property
    def conditions(self) -> list[dict[str, Any]]:
        return list(self.manifest["conditions"])

    @property
    def baseline_id(self) -> str:
        return "img=none|ctx=image_only"


def _expected(manifest: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], str]]:
    seed = manifest["seed"]
    for model in manifest["models"]:
        for condition in manifest["conditions"]:
            for case in manifest.get("cases", []):
                key = result_key(
                    model["hash"],
                    model["prompt_version"],
                    case["id"],
                    case["fingerprint"],
                    condition["id"],
                    seed,
                    condition["deterministic"],
                )
                yield model["name"], condition["id"], case, key


def load_run(run_dir: str | Path) -> RunData:
    """Load a run directory written by ``derm-stress run``."""
    path = Path(run_dir)
    manifest_path, store_path = path / MANIFEST_NAME, path / STORE_NAME
    if not manifest_path.is_file() or not store_path.is_file():
        raise InvalidArgument(
            f"{path} is not a run directory (no {MANIFEST_NAME} and "
            f"{STORE_NAME}); create one with 'derm-stress run CONFIG'"
        )
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    expected = list(_expected(manifest))
    with Store(store_path) as store:
        stored = {r.key: r for r in store.get(k for *_, k in expected)}
    rows = []
    for model, condition, case, key in expected:
        result = stored.get(key)
        if result is None:
            rows.append(
                Row(
                    model,
                    case["id"],
                    condition,
                    case["diagnosis"],
                    "missing",
                    (),
                    (),
                    None,
                    "not run",
                    None,
                )
            )
            continue
        answer = result.answer
        rows.append(
            Row(
                model,
                case["id"],
                condition,
                case["diagnosis"],
                result.status,
                answer.differential,
                answer.confidences,
                answer.triage,
                answer.error,
                result,
            )
        )
    return RunData(path, manifest, rows)
