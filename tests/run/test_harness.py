from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from derm_stress.datasets import Dataset
from derm_stress.run import export_run, load_config, load_dataset, load_run, run, to_dataframe
from derm_stress.run.export import COLUMNS
from tests.conftest import ManifestFactory
from tests.run import helpers

GRID: dict[str, Any] = {
    "image": ["none", {"op": "gaussian_noise", "severity": [2, 5]}],
    "context": ["image_only", "full", {"op": "misleading_referral", "severity": 5}],
}


def _config(tmp_path: Path, **extra: Any) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**GRID, **extra}))
    return path


def test_run_twice_makes_no_calls_the_second_time(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, dataset={"limit": 8}))
    first = run(config, tmp_path / "run")
    assert first.expected == 8 * 9 and first.calls == 72 and first.reused == 0
    second = run(config, tmp_path / "run")
    assert second.calls == 0 and second.reused == 72
    data = load_run(tmp_path / "run")
    assert len(data.rows) == 72 and {r.status for r in data.rows} == {"ok"}
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["versions"]["numpy"]
    assert "cases" not in manifest  # case records live in the store, written as reached
    assert len(data.cases) == 8 and data.cases[0].fingerprint
    dataset = load_dataset({"limit": 8}, tmp_path)
    assert manifest["dataset"]["fingerprint"] == dataset.fingerprint()


def test_extending_the_grid_or_changing_the_seed_reruns_only_what_changed(tmp_path: Path) -> None:
    run(load_config(_config(tmp_path, dataset={"limit": 5})), tmp_path / "run")
    wider = _config(tmp_path, dataset={"limit": 6}, seed=0)
    summary = run(load_config(wider), tmp_path / "run")
    assert summary.calls == 9 and summary.reused == 45  # only the new case
    reseeded = run(load_config(_config(tmp_path, dataset={"limit": 6}, seed=1)), tmp_path / "run")
    # baseline and clean full-context conditions do not depend on the seed
    assert reseeded.reused == 6 * 2 and reseeded.calls == 6 * 7


def test_every_model_sees_the_identical_probe(tmp_path: Path) -> None:
    helpers.SEEN.clear()
    models = [
        {"name": "a", "adapter": "callable", "target": "tests.run.helpers:recorder_a"},
        {
            "name": "b",
            "adapter": "callable",
            "target": "tests.run.helpers:recorder_b",
            "batch_size": 1,
        },
    ]
    run(load_config(_config(tmp_path, dataset={"limit": 4}, models=models)), tmp_path / "run")
    assert helpers.SEEN["a"] == helpers.SEEN["b"] and len(helpers.SEEN["a"]) == 36
    data = load_run(tmp_path / "run")
    assert {r.differential for r in data.rows if r.model == "b"} == {("NEV", "MEL")}


def test_results_do_not_depend_on_batch_size(tmp_path: Path) -> None:
    outputs = []
    for batch in (1, 32):
        models = [{"name": "ref", "adapter": "reference"}]
        config = load_config(_config(tmp_path, dataset={"limit": 6}, models=models))
        from derm_stress.models import ReferenceModel

        ReferenceModel.batch_size = batch
        try:
            run(config, tmp_path / f"run{batch}")
        finally:
            ReferenceModel.batch_size = 32
        outputs.append(
            [
                (
                    r.case_id,
                    r.condition,
                    r.differential,
                    r.confidences,
                    r.result.applied if r.result else None,
                )
                for r in load_run(tmp_path / f"run{batch}").rows
            ]
        )
    assert outputs[0] == outputs[1]


def test_bad_inputs_cost_only_their_case(
    tmp_path: Path, make_manifest: ManifestFactory, pad: Dataset
) -> None:
    manifest = make_manifest(
        [
            {"case_id": "good1", "image": "@0", "diagnosis": "nevus"},
            {"case_id": "missing", "image": "img/not-there.jpg", "diagnosis": "MEL"},
            {"case_id": "corrupt", "image": "@1", "diagnosis": "BCC"},
            {"case_id": "label", "image": "@2", "diagnosis": "eczemoid thing"},
            {"case_id": "outside", "image": "../secret.jpg", "diagnosis": "MEL"},
            {"case_id": "good2", "image": "@3", "diagnosis": "SEK"},
        ]
    )
    corrupt = tmp_path / "img" / Path(pad.cases[1].images[0]).name
    corrupt.write_bytes(corrupt.read_bytes()[:500])
    config = load_config(_config(tmp_path, dataset={"manifest": manifest.name}))
    summary = run(config, tmp_path / "run")
    assert summary.cases == 4 and summary.dataset_issues == 2
    assert summary.input_errors == 2 * 9 and summary.calls == 2 * 9
    data = load_run(tmp_path / "run")
    by_case = {r.case_id: r for r in data.rows}
    assert by_case["missing"].status == "input_error"
    assert "image file not found" in (by_case["missing"].error or "")
    assert "cannot decode image" in (by_case["corrupt"].error or "")
    assert by_case["good1"].status == by_case["good2"].status == "ok"
    issues = {i["source"]: i["reason"] for i in data.manifest.dataset.issues}
    assert "unknown diagnosis label 'eczemoid thing'" in issues["label"]
    assert "outside the manifest's folder" in issues["outside"]
    # input errors are final until the case changes: a rerun makes no calls
    assert run(config, tmp_path / "run").calls == 0


def test_failed_calls_are_stored_and_retried_on_resume(tmp_path: Path, sample: Dataset) -> None:
    helpers.FLAKY_CASE[0] = sample.cases[2].case_id
    helpers.FLAKY_FIXED[0] = False
    models = [{"name": "f", "adapter": "callable", "target": "tests.run.helpers:flaky"}]
    config = load_config(_config(tmp_path, dataset={"limit": 4}, models=models))
    first = run(config, tmp_path / "run")
    assert first.model_errors == 9 and first.calls == 36
    errors = [r for r in load_run(tmp_path / "run").rows if r.status == "error"]
    assert len(errors) == 9 and errors[0].error == "ConnectionError: server went away"
    helpers.FLAKY_FIXED[0] = True
    second = run(config, tmp_path / "run")
    assert second.calls == 9 and second.model_errors == 0
    assert {r.status for r in load_run(tmp_path / "run").rows} == {"ok"}


def test_export_csv_and_parquet_have_the_documented_columns(tmp_path: Path) -> None:
    run(load_config(_config(tmp_path, dataset={"limit": 3})), tmp_path / "run")
    data = load_run(tmp_path / "run")
    csv_path = export_run(data, "csv", tmp_path / "out.csv")
    with csv_path.open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 27
    first = rows[0]
    assert first["model"] == "reference" and first["condition"] == "img=none|ctx=image_only"
    assert len(first["answer"].split(";")) == 6 and first["status"] == "ok"
    assert first["top1_correct"] in ("True", "False")
    noisy = next(r for r in rows if "gaussian_noise@5" in r["condition"])
    assert json.loads(noisy["image_ops"])[0]["op"] == "gaussian_noise"
    table = pq.read_table(export_run(data, "parquet", tmp_path / "out.parquet"))
    assert table.column_names == list(COLUMNS) and table.num_rows == 27
    frame = to_dataframe(tmp_path / "run")
    assert list(frame.columns) == list(COLUMNS) and len(frame) == 27
    assert frame["answer"].tolist() == [r["answer"] for r in rows]
    assert frame["top1_correct"].tolist() == [r["top1_correct"] == "True" for r in rows]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"image": ["none"], "modles": []}, "unknown key 'modles'; did you mean 'models'"),
        ({"seed": -1}, "seed: expected a non-negative integer"),
        ({"top_k": 0}, "top_k: expected a positive integer"),
        ({"dataset": {"manifest": "a.csv", "pad_ufes_20": "x"}}, "give one of"),
        ({"models": [{"name": "a"}, {"name": "a"}]}, "duplicate model name"),
    ],
)
def test_bad_configs_fail_clearly(tmp_path: Path, spec: dict[str, Any], message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ValueError, match=message):
        load_config(path)


def test_an_operator_version_bump_reruns_only_its_conditions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from derm_stress.perturb import get_operator

    grid = {
        "image": [
            "none",
            {"op": "gaussian_noise", "severity": [2]},
            {"op": "gaussian_blur", "severity": [3]},
        ],
        "context": ["image_only"],
        "dataset": {"limit": 4},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(grid))
    first = run(load_config(path), tmp_path / "run")
    assert first.calls == 12
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    keys = {c["id"]: c.get("key") for c in manifest["conditions"]}
    assert (
        keys["img=gaussian_blur@3|ctx=image_only"]
        == "img=gaussian_blur@3|ctx=image_only#gaussian_blur=v2"
    )
    # kernel_version 1: the id plus the generator version (it draws)
    assert (
        keys["img=gaussian_noise@2|ctx=image_only"] == "img=gaussian_noise@2|ctx=image_only#rng=v2"
    )
    # a new kernel for gaussian_noise: its results are redone, the others reused
    monkeypatch.setattr(get_operator("gaussian_noise"), "kernel_version", 2)
    second = run(load_config(path), tmp_path / "run")
    assert second.calls == 4 and second.reused == 8
    data = load_run(tmp_path / "run")
    assert len(data.rows) == 12 and {r.status for r in data.rows} == {"ok"}
