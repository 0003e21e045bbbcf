"""Scoring with several reference diagnoses, at the exact and group level, case-level triage,
and the never-answered warning: through a real manifest, harness run, store, export and
report."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from derm_stress.cases import Case, Note
from derm_stress.datasets import load_manifest
from derm_stress.errors import InvalidArgument
from derm_stress.labels import vocabulary
from derm_stress.metrics import (
    BASELINE_ID,
    compute_metrics,
    default_triage,
    never_answered,
    triage_sources,
)
from derm_stress.perturb import Probe
from derm_stress.report import write_report
from derm_stress.run import export_run, load_config, load_run, run
from derm_stress.run.results import Row, RunData, match_level, match_ranks
from tests.conftest import ManifestFactory

# case id -> (manifest diagnosis, manifest triage, what the scripted model answers)
CASES: dict[str, tuple[str, str, str]] = {
    # several accepted diagnoses: the second one at rank 2 is an exact match
    "open": ("basal cell carcinoma | squamous cell carcinoma", "", "1. Melanoma\n2. SCC"),
    # a group label accepts its members
    "group-label": ("bkl", "", "1. Seborrheic keratosis\n2. Melanoma"),
    # same group of the hierarchy (keratinocyte carcinoma), not the condition itself
    "same-group": ("BCC", "", "1. Squamous cell carcinoma\n2. Melanocytic nevus"),
    # wrong at both levels; the case-level triage overrides the benign default
    "wrong": ("dermatofibroma", "urgent", "1. Melanoma\n2. Basal cell carcinoma"),
    "right": ("melanoma", "", "1. melanoma\n2. nevus"),
    "never": ("DF", "", "1. Melanoma\n2. Melanocytic nevus"),
}


def scripted(probe: Probe) -> str:
    """The scripted model: its answer depends only on the case."""
    return CASES[probe.case_id][2] + "\nTriage: urgent"


def _manifest(make_manifest: ManifestFactory) -> Path:
    rows = [
        {"case_id": cid, "image": f"@{i}", "diagnosis": dx, "triage": triage}
        for i, (cid, (dx, triage, _)) in enumerate(CASES.items())
    ]
    return make_manifest(rows)


def _run(tmp_path: Path, manifest: Path, **extra: Any) -> Path:
    config = {
        "image": ["none"],
        "context": ["image_only"],
        "dataset": {"manifest": str(manifest)},
        "models": [{"name": "s", "adapter": "callable", "target": "tests.test_scoring:scripted"}],
        "top_k": 2,
        **extra,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    run(load_config(path), out)
    return out


def test_manifest_reads_several_diagnoses_and_a_triage_column(
    make_manifest: ManifestFactory,
) -> None:
    dataset = load_manifest(_manifest(make_manifest))
    assert dataset.issues == []
    by_id = {c.case_id: c for c in dataset.cases}
    assert by_id["open"].diagnoses == ("BCC", "SCC") and by_id["open"].diagnosis == "BCC"
    assert by_id["right"].diagnoses == ("MEL",)
    assert by_id["wrong"].triage == "urgent" and by_id["wrong"].triage_source == "manifest"
    assert by_id["never"].triage == "routine" and by_id["never"].triage_source == "diagnosis"


def test_bad_diagnosis_lists_and_triage_values_are_rejected_with_a_reason(
    make_manifest: ManifestFactory,
) -> None:
    path = make_manifest(
        [
            {"case_id": "empty-part", "image": "@0", "diagnosis": "MEL |", "triage": ""},
            {"case_id": "unknown-part", "image": "@1", "diagnosis": "MEL | zzz", "triage": ""},
            {"case_id": "bad-triage", "image": "@2", "diagnosis": "MEL", "triage": "asap"},
            {"case_id": "twice", "image": "@3", "diagnosis": "MEL | melanoma", "triage": "Soon"},
        ]
    )
    dataset = load_manifest(path)
    reasons = {i.source: i.reason for i in dataset.issues}
    assert "empty part" in reasons["empty-part"]
    assert "'zzz'" in reasons["unknown-part"]
    assert "triage: expected one of" in reasons["bad-triage"] and "'asap'" in reasons["bad-triage"]
    (case,) = dataset.cases  # one diagnosis named twice is one diagnosis; case-insensitive
    assert case.diagnoses == ("MEL",) and case.triage == "soon"


def test_case_checks_its_diagnoses_and_takes_the_most_urgent_default() -> None:
    image = (Path("x.jpg"),)
    case = Case("c", image, Note(), "NEV", diagnoses=("NEV", "BCC"))
    assert case.triage == "urgent" and case.triage_source == "diagnosis"
    with pytest.raises(ValueError, match="must be the first of"):
        Case("c", image, Note(), "BCC", diagnoses=("NEV", "BCC"))
    with pytest.raises(ValueError, match="repeated diagnosis"):
        Case("c", image, Note(), "NEV", diagnoses=("NEV", "NEV"))
    with pytest.raises(ValueError, match="triage must be one of"):
        Case("c", image, Note(), "NEV", triage_override="now")  # type: ignore[arg-type]


def test_ranks_at_both_levels() -> None:
    assert match_ranks(("MEL", "SCC"), ("BCC", "SCC")) == (2, 2)
    assert match_ranks(("SEK",), ("BKL",)) == (1, 1)  # a member of a group label is exact
    assert match_ranks(("SCC", "BCC"), ("BCC",)) == (2, 1)  # group match first, exact later
    assert match_ranks(("MEL", "OTHER"), ("DF",)) == (0, 0)


def test_a_run_scores_exact_and_group_level_and_says_why(
    tmp_path: Path, make_manifest: ManifestFactory
) -> None:
    out = _run(tmp_path, _manifest(make_manifest))
    data = load_run(out)
    assert data.score_level == "exact"
    (base,) = compute_metrics(data)
    assert base.condition == BASELINE_ID and base.n == 6
    # exact top-2: open, group-label, right
    assert base.topk == pytest.approx(3 / 6) and base.topk_exact == base.topk
    assert base.top1 == pytest.approx(2 / 6)  # group-label, right
    # group top-2 adds same-group (SCC for BCC); BCC and melanoma are not DF's group
    assert base.topk_group == pytest.approx(4 / 6)
    assert base.top1_group == pytest.approx(3 / 6)
    # every case triaged urgent by the model: the overridden "wrong" case counts as urgent
    assert base.triage_sensitivity == pytest.approx(1.0)  # open, same-group, right, wrong
    assert base.triage_specificity == pytest.approx(0.0)  # group-label, never
    assert triage_sources(data) == {"manifest": 1, "diagnosis": 5}
    warnings = never_answered(data)
    assert [str(w) for w in warnings] == ["s never answered DF: 2 cases"]

    export_run(data, "csv", tmp_path / "rows.csv")
    with (tmp_path / "rows.csv").open() as fh:
        rows = {r["case_id"]: r for r in csv.DictReader(fh)}
    assert rows["open"]["diagnosis"] == "BCC|SCC"
    assert {cid: r["match_level"] for cid, r in rows.items()} == {
        "open": "exact",
        "group-label": "exact",
        "same-group": "group",
        "wrong": "",
        "right": "exact",
        "never": "",
    }
    assert rows["same-group"]["topk_correct"] == "False"

    report = write_report(out).read_text()
    assert "Headline accuracy is scored at the exact level" in report
    assert "<b>s</b> never answered <code>DF</code>: 2 cases" in report
    assert "<b>1</b> from the manifest's <code>triage</code> column" in report
    assert "<b>urgent</b>: BCC, MEL, SCC; <b>routine</b>: BKL, DF." in report
    assert default_triage(data) == {"urgent": ["BCC", "MEL", "SCC"], "routine": ["BKL", "DF"]}
    summary = (out / "report.md").read_text()
    assert "Warning: s never answered DF: 2 cases" in summary


def test_group_level_headline_from_the_config(
    tmp_path: Path, make_manifest: ManifestFactory
) -> None:
    out = _run(tmp_path, _manifest(make_manifest), score_level="group")
    data = load_run(out)
    (base,) = compute_metrics(data)
    assert data.score_level == "group" and base.score_level == "group"
    assert base.topk == pytest.approx(4 / 6) and base.topk_exact == pytest.approx(3 / 6)
    export_run(data, "csv", tmp_path / "rows.csv")
    with (tmp_path / "rows.csv").open() as fh:
        rows = {r["case_id"]: r for r in csv.DictReader(fh)}
    assert rows["same-group"]["topk_correct"] == "True"
    assert rows["same-group"]["match_level"] == "group"
    assert "scored at the group level" in write_report(out).read_text()
    # the same run read at the other level: figures change, stored results do not
    (exact,) = compute_metrics(load_run(out, score_level="exact"))
    assert exact.topk == pytest.approx(3 / 6) and exact.topk_ci == base.topk_exact_ci


def test_score_level_typo_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"image": ["none"], "score_level": "grp"}))
    with pytest.raises(InvalidArgument, match="score_level: expected one of exact, group"):
        load_config(path)
    path.write_text(yaml.safe_dump({"image": ["none"], "score_levle": "group"}))
    with pytest.raises(InvalidArgument, match="did you mean 'score_level'"):
        load_config(path)


def test_runs_recorded_before_several_diagnoses_still_load(
    tmp_path: Path, make_manifest: ManifestFactory
) -> None:
    out = _run(tmp_path, _manifest(make_manifest))
    # strip what older versions did not write: case records' diagnoses and triage source,
    # the manifest's score level
    db = sqlite3.connect(out / "results.sqlite")
    records = db.execute("SELECT position, record FROM cases").fetchall()
    for position, record in records:
        old = json.loads(record)
        del old["diagnoses"], old["triage_source"]
        db.execute("UPDATE cases SET record = ? WHERE position = ?", (json.dumps(old), position))
    db.commit()
    db.close()
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["score_level"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    data = load_run(out)
    assert data.score_level == "exact" and data.references[0] == ("BCC",)
    (base,) = compute_metrics(data)
    assert base.topk == pytest.approx(2 / 6)  # "open" now only accepts BCC
    assert triage_sources(data) == {"manifest": 0, "diagnosis": 6}
    assert "Headline accuracy is scored at the exact level" in write_report(out).read_text()


def _triage_run(stated: dict[str, str], reference: dict[str, str]) -> RunData:
    rows = [
        Row("m", cid, BASELINE_ID, "NEV", "ok", ("NEV",), (), stated[cid], None, None)
        for cid in stated
    ]
    manifest = {
        "seed": 0,
        "top_k": 1,
        "models": [{"name": "m"}],
        "conditions": [{"id": BASELINE_ID}],
        "cases": [
            {"id": cid, "diagnosis": "NEV", "triage": level, "triage_source": "manifest"}
            for cid, level in reference.items()
        ],
    }
    return RunData.from_rows(Path("."), manifest, rows)


def test_triage_on_four_levels() -> None:
    reference = {"a": "emergency", "b": "emergency", "c": "urgent", "d": "soon", "e": "routine"}
    stated = {"a": "urgent", "b": "soon", "c": "emergency", "d": "urgent", "e": "routine"}
    (base,) = compute_metrics(_triage_run(stated, reference))
    # urgent-or-more cases a, b, c: a and c triaged urgent or more
    assert base.triage_sensitivity == pytest.approx(2 / 3)
    # the others d, e: e not triaged urgent or more
    assert base.triage_specificity == pytest.approx(1 / 2)
    # below the reference: a (urgent < emergency), b (soon < emergency)
    assert base.under_triage == pytest.approx(2 / 5)


def test_manifest_triage_accepts_every_level(make_manifest: ManifestFactory) -> None:
    levels = ("Emergency", "urgent", "SOON", "routine", "")
    path = make_manifest(
        [
            {"case_id": f"c{i}", "image": f"@{i}", "diagnosis": "nevus", "triage": level}
            for i, level in enumerate(levels)
        ]
    )
    dataset = load_manifest(path)
    assert dataset.issues == []
    assert [c.triage for c in dataset.cases] == [
        "emergency",
        "urgent",
        "soon",
        "routine",
        "routine",
    ]
    assert [c.triage_source for c in dataset.cases] == ["manifest"] * 4 + ["diagnosis"]


def test_manifest_diagnoses_as_icd10cm_codes(make_manifest: ManifestFactory) -> None:
    path = make_manifest(
        [
            {"case_id": "coded", "image": "@0", "diagnosis": "C44.91"},
            {"case_id": "open", "image": "@1", "diagnosis": "L40.0 | atopic dermatitis"},
            {"case_id": "unlisted", "image": "@2", "diagnosis": "J45.909"},
            {"case_id": "not-a-code", "image": "@3", "diagnosis": "L99.99"},
        ]
    )
    dataset = load_manifest(path)
    by_id = {c.case_id: c for c in dataset.cases}
    assert by_id["coded"].diagnoses == ("BCC",)
    assert by_id["open"].diagnoses == ("PLAQUE_PSORIASIS", "ATOPIC_DERMATITIS")
    # a valid code no entry lists still loads, named by its ICD-10-CM description
    assert by_id["unlisted"].diagnoses == ("ICD10CM:J45.909",)
    assert [i.source for i in dataset.issues] == ["not-a-code"]
    # an answer more specific than the reference is exact; the parent only group-level
    assert match_ranks(("PSORIASIS", "PLAQUE_PSORIASIS"), ("PSORIASIS",)) == (1, 1)
    assert match_ranks(("PSORIASIS",), by_id["open"].diagnoses) == (0, 1)


def test_jsonl_manifest_may_list_diagnoses(make_manifest: ManifestFactory, tmp_path: Path) -> None:
    make_manifest([{"case_id": "x", "image": "@0", "diagnosis": "MEL"}])  # copies a photo
    photo = next((tmp_path / "img").iterdir()).name
    lines = [
        {"case_id": "a", "image": f"img/{photo}", "diagnosis": ["BCC", "Bowen's disease"]},
        {"case_id": "b", "image": f"img/{photo}", "diagnosis": [], "triage": "soon"},
        {"case_id": "c", "image": f"img/{photo}", "diagnosis": ["MEL", ""]},
    ]
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    dataset = load_manifest(path)
    (case,) = dataset.cases
    assert case.diagnoses == ("BCC", "BOD")
    reasons = {i.source: i.reason for i in dataset.issues}
    assert "empty list" in reasons["b"] and "empty part" in reasons["c"]


def test_codes_the_active_vocabulary_lacks_match_only_themselves(
    tmp_path: Path, make_manifest: ManifestFactory
) -> None:
    """A run scored with a user's vocabulary file, read back where that file is not
    active: its own codes still match themselves; nothing raises."""
    out = _run(tmp_path, _manifest(make_manifest))
    db = sqlite3.connect(out / "results.sqlite")
    (record,) = db.execute("SELECT record FROM cases WHERE case_id = 'never'").fetchone()
    changed = {**json.loads(record), "diagnosis": "HOSPITAL_X", "diagnoses": ["HOSPITAL_X"]}
    db.execute("UPDATE cases SET record = ? WHERE case_id = 'never'", (json.dumps(changed),))
    db.commit()
    db.close()
    data = load_run(out)
    assert data.references[5] == ("HOSPITAL_X",)
    assert match_ranks(("MEL", "HOSPITAL_X"), ("HOSPITAL_X",)) == (2, 2)
    assert match_ranks(("HOSPITAL_X",), ("MEL",)) == (0, 0)
    assert "s never answered HOSPITAL_X: 1 case" in [str(w) for w in never_answered(data)]
    assert "HOSPITAL_X" not in str(default_triage(data))
    write_report(out)


# codes, not text: this test is about reading a run back, not about parsing
CLINIC_ANSWERS = {"w1": ["CLINIC_WART_REVIEW", "MEL"], "w2": ["VIRAL_WART"], "b": ["BCC"]}


def clinic(probe: Probe) -> list[str]:
    return CLINIC_ANSWERS[probe.case_id]


def test_a_run_is_read_back_with_its_own_vocabulary_file(
    tmp_path: Path, make_manifest: ManifestFactory
) -> None:
    (tmp_path / "clinic-terms.yaml").write_text(
        yaml.safe_dump(
            {
                "entries": {
                    "BCC": {"triage": "soon"},
                    "CLINIC_WART_REVIEW": {
                        "name": "Wart review",
                        "synonyms": ["wart clinic review"],
                        "parent": "VIRAL_WART",
                    },
                }
            }
        )
    )
    manifest = make_manifest(
        [
            {"case_id": "w1", "image": "@0", "diagnosis": "wart clinic review"},
            {"case_id": "w2", "image": "@1", "diagnosis": "wart clinic review"},
            {"case_id": "b", "image": "@2", "diagnosis": "BCC"},
        ]
    )
    config = {
        "image": ["none"],
        "context": ["image_only"],
        "dataset": {"manifest": manifest.name},
        "vocabulary": "clinic-terms.yaml",
        "models": [{"name": "c", "adapter": "callable", "target": "tests.test_scoring:clinic"}],
        "top_k": 2,
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    run(load_config(tmp_path / "config.yaml"), tmp_path / "run")
    # read back in this process, where the packaged vocabulary is the active one
    data = load_run(tmp_path / "run")
    assert "CLINIC_WART_REVIEW" in data.vocabulary
    (base,) = compute_metrics(data)
    assert base.topk_exact == pytest.approx(2 / 3)  # w1 and b; w2 names the broader term
    assert base.topk_group == pytest.approx(1.0)
    assert default_triage(data) == {"soon": ["BCC"], "routine": ["CLINIC_WART_REVIEW"]}
    export_run(data, "csv", tmp_path / "rows.csv")
    with (tmp_path / "rows.csv").open() as fh:
        levels = {r["case_id"]: r["match_level"] for r in csv.DictReader(fh)}
    assert levels == {"w1": "exact", "w2": "group", "b": "exact"}


_CODES = sorted(e.code for e in vocabulary().entries)


@settings(max_examples=300, deadline=None)
@given(
    differential=st.lists(st.sampled_from([*_CODES, "OTHER"]), max_size=6),
    references=st.lists(st.sampled_from(_CODES), min_size=1, max_size=3, unique=True),
)
def test_ranks_are_consistent_for_any_answer(
    differential: list[str], references: list[str]
) -> None:
    exact, group = match_ranks(differential, references)
    levels = [match_level(code, references) for code in differential]
    # the first exact match, and the first match at any level (an exact match is a group match)
    assert exact == next((i + 1 for i, lv in enumerate(levels) if lv == "exact"), 0)
    assert group == next((i + 1 for i, lv in enumerate(levels) if lv is not None), 0)
    assert exact == 0 or 1 <= group <= exact
    # naming a reference itself is always exact; OTHER never matches
    assert match_ranks([references[-1]], references) == (1, 1)
    assert match_ranks(["OTHER"], references) == (0, 0)
