"""Several named datasets in one run: keys, resume, export, and the unpaired gap."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from derm_stress.errors import InvalidArgument
from derm_stress.labels import label
from derm_stress.metrics.gaps import (
    UNPAIRED_METHOD,
    extreme_groups,
    group_gaps,
    group_summaries,
)
from derm_stress.metrics.stats import two_proportion_p, unpaired_difference
from derm_stress.run import export_run, load_config, load_dataset, load_run, run
from tests.conftest import ManifestFactory
from tests.run import helpers_datasets

MODEL = {"name": "m", "adapter": "callable", "target": "tests.run.helpers_datasets:benchmark_only"}


def _clinic(make_manifest: ManifestFactory) -> Path:
    rows = [
        {"case_id": "c1", "image": "@0", "diagnosis": "melanoma", "fitzpatrick": "2"},
        {"case_id": "c2", "image": "@1", "diagnosis": "nevus", "fitzpatrick": "5"},
        {"case_id": "c3", "image": "@2", "diagnosis": "bcc", "fitzpatrick": "2"},
        {"case_id": "c4", "image": "@3", "diagnosis": "seborrheic keratosis"},
        {"case_id": "c5", "image": "@4", "diagnosis": "actinic keratosis", "fitzpatrick": "6"},
    ]
    return make_manifest(rows)


def _write(tmp_path: Path, datasets: list[dict[str, Any]]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump({"context": ["image_only", "full"], "dataset": datasets, "models": [MODEL]})
    )
    return path


def _truth(datasets: list[dict[str, Any]], base: Path) -> None:
    for case in load_dataset(datasets, base):
        helpers_datasets.TRUTH[case.case_id] = label(case.diagnosis).name


def test_two_datasets_in_one_run_resume_and_extend(
    tmp_path: Path, make_manifest: ManifestFactory
) -> None:
    manifest = _clinic(make_manifest)
    two = [{"name": "benchmark", "limit": 6}, {"name": "clinic", "manifest": manifest.name}]
    _truth(two, tmp_path)
    first = run(load_config(_write(tmp_path, two)), tmp_path / "run")
    assert first.expected == (6 + 5) * 2 and first.calls == 22
    data = load_run(tmp_path / "run")
    assert {c.dataset for c in data.cases} == {"benchmark", "clinic"}
    assert all(c.id.split("/")[0] == c.dataset for c in data.cases)
    # adding a dataset computes only its results; the others are reused
    three = [*two, {"name": "more", "sample": "pad_ufes_20", "limit": 1}]
    _truth(three, tmp_path)
    again = run(load_config(_write(tmp_path, three)), tmp_path / "run")
    assert again.calls == 2 and again.reused == 22
    out = export_run(load_run(tmp_path / "run"), "csv", tmp_path / "rows.csv")
    rows = list(csv.DictReader(out.open()))
    assert {r["dataset"] for r in rows} == {"benchmark", "clinic", "more"}
    assert all(r["case_id"].startswith(r["dataset"] + "/") for r in rows)


def test_gap_between_datasets_is_unpaired_with_interval_and_test(
    tmp_path: Path, make_manifest: ManifestFactory
) -> None:
    manifest = _clinic(make_manifest)
    two = [{"name": "benchmark", "limit": 6}, {"name": "clinic", "manifest": manifest.name}]
    _truth(two, tmp_path)
    run(load_config(_write(tmp_path, two)), tmp_path / "run")
    data = load_run(tmp_path / "run")
    summaries = {s.group: s for s in group_summaries(data, "dataset")}
    assert summaries["benchmark"].n == 6 and summaries["benchmark"].top1 == 1.0
    assert summaries["clinic"].n == 5 and summaries["clinic"].top1 == 0.0
    assert summaries["benchmark"].context_benefit == 0.0
    top1 = next(g for g in group_gaps(data, "dataset") if g.metric == "top1")
    assert (top1.reference, top1.other) == ("benchmark", "clinic")
    assert top1.difference == -1.0 and top1.ci == (-1.0, -1.0)
    # 6/6 against 0/5: pooled 6/11, z = 1 / sqrt(6/11 * 5/11 * (1/6 + 1/5))
    z = 1 / math.sqrt(6 / 11 * 5 / 11 * (1 / 6 + 1 / 5))
    assert top1.p == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert "unpaired" in UNPAIRED_METHOD


def test_unpaired_difference_and_two_proportion_test_by_hand() -> None:
    # 30/100 against 50/100: pooled 0.4, se = sqrt(0.4 * 0.6 * 0.02), z = 2.88675
    assert two_proportion_p(30, 100, 50, 100) == pytest.approx(0.0038924, rel=1e-4)
    assert two_proportion_p(0, 10, 0, 12) == 1.0
    a = np.array([1] * 30 + [0] * 70, dtype=np.int8)
    b = np.array([1] * 50 + [0] * 50, dtype=np.int8)
    diff, (lo, hi) = unpaired_difference(a, b, seed=7)
    assert diff == pytest.approx(0.2)
    # the normal approximation's interval is 0.2 +- 1.96 * sqrt(.3*.7/100 + .5*.5/100)
    half = 1.96 * math.sqrt(0.3 * 0.7 / 100 + 0.5 * 0.5 / 100)
    assert lo == pytest.approx(0.2 - half, abs=0.03) and hi == pytest.approx(0.2 + half, abs=0.03)
    assert unpaired_difference(a, b, seed=7) == (diff, (lo, hi))  # seeded


def test_skin_tone_extremes(tmp_path: Path, make_manifest: ManifestFactory) -> None:
    manifest = _clinic(make_manifest)
    one = [{"name": "clinic", "manifest": manifest.name}]
    _truth(one, tmp_path)
    run(load_config(_write(tmp_path, one)), tmp_path / "run")
    data = load_run(tmp_path / "run")
    assert extreme_groups(data, "fitzpatrick") == ("2", "6")
    gaps = group_gaps(data, "fitzpatrick", pairs=[("2", "6")])
    assert {(g.n_reference, g.n_other) for g in gaps} == {(2, 1)}


@pytest.mark.parametrize(
    ("datasets", "message"),
    [
        ([{"manifest": "x.csv"}], "needs a name"),
        ([{"name": "a"}, {"name": "a"}], "duplicate dataset name"),
        ([{"name": "../x"}], "use 1-64 letters"),
        ([{"name": "a", "manifest": "x.csv", "ddi": "."}], "give one of"),
        ([{"name": "a", "manfest": "x.csv"}], "did you mean 'manifest'"),
    ],
)
def test_bad_dataset_lists_fail_clearly(
    tmp_path: Path, datasets: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        load_config(_write(tmp_path, datasets))


def test_report_leads_with_benchmark_vs_bedside(
    tmp_path: Path, make_manifest: ManifestFactory
) -> None:
    from derm_stress.report import write_report

    manifest = _clinic(make_manifest)
    two = [{"name": "benchmark", "limit": 6}, {"name": "clinic", "manifest": manifest.name}]
    _truth(two, tmp_path)
    run(load_config(_write(tmp_path, two)), tmp_path / "run")
    path = write_report(tmp_path / "run")
    html = Path(path).read_text()
    assert html.index("Benchmark vs bedside</h2>") < html.index("The three answers</h2>")
    assert "unpaired" in html and "clinic − benchmark" in html
    assert "Skin tone" in html and "6 (darkest present) − 1 (lightest)" in html
    md = (tmp_path / "run" / "report.md").read_text()
    assert "Benchmark vs bedside (unpaired)" in md and "gap -100.0 pp" in md


def test_where_selects_cases_by_metadata(tmp_path: Path) -> None:
    biopsied = load_dataset({"sample": "pad_ufes_20", "where": {"biopsed": "true"}}, tmp_path)
    clinical = load_dataset({"where": {"biopsed": ["False"]}}, tmp_path)
    assert (len(biopsied), len(clinical)) == (61, 29)
    assert {c.meta["biopsed"] for c in biopsied} == {"True"}
    with pytest.raises(InvalidArgument, match=r"dataset\.where: expected a mapping"):
        load_dataset({"where": "biopsed"}, tmp_path)


def test_bedside_preset_expands() -> None:
    config = load_config(Path(__file__).resolve().parents[2] / "perturbations" / "bedside.yaml")
    assert [d["name"] for d in config.dataset] == ["biopsy-proven", "clinical-diagnosis"]
    assert len(load_dataset(config.dataset, config.base_dir)) == 90
