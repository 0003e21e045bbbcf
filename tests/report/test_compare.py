"""Two runs side by side: paired B - A differences by hand, and the command line."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pytest
import yaml

from derm_stress.metrics import BASELINE_ID
from derm_stress.models.base import Answer
from derm_stress.report.compare import compare_runs
from derm_stress.run.results import Row, RunData, load_run
from derm_stress.run.store import Result
from derm_stress.schema import CaseRecord
from tests.test_cli import cli

TRUTH = {"c1": "MEL", "c2": "BCC", "c3": "NEV", "c4": "SEK", "c5": "ACK"}


def _run(name: str, model: str, answers: dict[str, str], cases: list[str]) -> RunData:
    rows = []
    for case in cases:
        status = "error" if answers[case] == "!" else "ok"
        differential = () if status == "error" else tuple(answers[case].split(","))
        answer = Answer(raw="", differential=differential, status=status)  # type: ignore[arg-type]
        rows.append(
            Row(
                model, case, BASELINE_ID, TRUTH[case], status, differential, (), None, None,
                Result("k", model, case, BASELINE_ID, status, answer, ()),
            )
        )  # fmt: skip
    manifest = {
        "name": name,
        "seed": 0,
        "top_k": 2,
        "models": [{"name": model}],
        "conditions": [{"id": BASELINE_ID}],
        "cases": [{"id": c, "diagnosis": TRUTH[c], "triage": "routine"} for c in cases],
    }
    return RunData.from_rows(Path(name), manifest, rows)


def test_paired_differences_between_runs_by_hand() -> None:
    # A right at top-1 on c1, c2, c3 (c4 right at top-2); B right on c2, c3, c4, c5;
    # B failed on c1 (not paired) and ran one case A did not (c5, not paired).
    a = _run(
        "a",
        "v1",
        {"c1": "MEL", "c2": "BCC", "c3": "NEV", "c4": "ACK,SEK"},
        ["c1", "c2", "c3", "c4"],
    )
    b = _run(
        "b",
        "v2",
        {"c1": "!", "c2": "BCC", "c3": "NEV", "c4": "SEK", "c5": "ACK"},
        ["c1", "c2", "c3", "c4", "c5"],
    )
    (pair,) = compare_runs(a, b)
    assert (pair.model_a, pair.model_b, pair.n) == ("v1", "v2", 3)  # c2, c3, c4
    assert pair.top1_a == pytest.approx(2 / 3) and pair.top1_b == pytest.approx(3 / 3)
    assert pair.delta_top1 == pytest.approx(1 / 3)
    assert pair.delta_topk == pytest.approx(0.0)  # c4 was right at top-2 in A already
    assert pair.mcnemar_p == pytest.approx(1.0)  # one discordant pair
    lo, hi = pair.delta_top1_ci  # type: ignore[misc]
    assert 0.0 <= lo <= 1 / 3 <= hi <= 1.0


def test_compare_from_the_command_line(tmp_path: Path) -> None:
    grid = {
        "image": ["none", {"op": "defocus", "severity": [2, 5]}],
        "context": ["image_only", "full"],
        "dataset": {"limit": 12},
    }
    for name, models in (
        ("a", [{"name": "reference", "adapter": "reference"}]),
        (
            "b",
            [
                {
                    "name": "always-mel",
                    "adapter": "callable",
                    "target": "tests.run.helpers:recorder_a",
                }
            ],
        ),
    ):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump({**grid, "models": models}))
        done = cli("run", str(tmp_path / f"{name}.yaml"), "--out", str(tmp_path / name), "--quiet")
        assert done.returncode == 0, done.stderr
    result = cli("report", str(tmp_path / "a"), "--compare", str(tmp_path / "b"))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "a" / "comparison.html").read_text()
    assert "run comparison" in page and page.count("<svg") >= 2
    assert not re.search(r"(src|href)=[\"']?https?://", page)
    rows = list(csv.DictReader((tmp_path / "a" / "comparison.csv").open()))
    # no model name is shared, so reference (A) is paired with always-mel (B)
    assert len(rows) == 6 and {(r["model_a"], r["model_b"]) for r in rows} == {
        ("reference", "always-mel")
    }
    # B always says melanoma: its top-1 is the share of melanomas among the 12 cases
    data = next(r for r in rows if r["condition"] == BASELINE_ID)
    melanomas = sum(c.diagnosis == "MEL" for c in _cases(tmp_path / "b"))
    assert int(data["n"]) == 12 and float(data["top1_b"]) == pytest.approx(melanomas / 12)
    delta = float(data["top1_b"]) - float(data["top1_a"])
    assert float(data["delta_top1"]) == pytest.approx(delta)


def _cases(run_dir: Path) -> list[CaseRecord]:
    return load_run(run_dir).cases


def test_runs_without_shared_cases_are_compared_unpaired_by_hand() -> None:
    # A: 2 of 3 right at top-1 (c1, c2); B on other cases: 1 of 2 (c4)
    a = _run("a", "m", {"c1": "MEL", "c2": "BCC", "c3": "SEK"}, ["c1", "c2", "c3"])
    b = _run("b", "m", {"c4": "SEK", "c5": "MEL"}, ["c4", "c5"])
    (p,) = compare_runs(a, b)
    assert p.method == "unpaired" and (p.n, p.n_a, p.n_b) == (0, 3, 2)
    assert p.top1_a == pytest.approx(2 / 3) and p.top1_b == pytest.approx(1 / 2)
    assert p.delta_top1 == pytest.approx(1 / 2 - 2 / 3)
    assert p.delta_top1_ci is not None
    assert p.delta_top1_ci[0] <= p.delta_top1 <= p.delta_top1_ci[1]
    assert p.mcnemar_p is None and p.two_proportion_p is not None
    pooled = 3 / 5
    z = (1 / 2 - 2 / 3) / (pooled * (1 - pooled) * (1 / 3 + 1 / 2)) ** 0.5
    assert p.two_proportion_p == pytest.approx(math.erfc(abs(z) / math.sqrt(2)))
    from derm_stress.metrics import compute_metrics
    from derm_stress.report.compare import render_comparison

    page = render_comparison(a, b, compute_metrics(a), compute_metrics(b), [p])
    assert "method: <b>unpaired</b>" in page and "two-proportion p" in page
