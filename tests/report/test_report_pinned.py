"""The report's numbers, pinned: a synthetic run's metrics.csv and subgroups.csv must keep
their exact bytes when the code that computes them is only made faster.

The run is the one ``bench/bench_report.py`` builds (two models x the quickstart grid x 60
cases: misleading referrals, unparseable answers, Fitzpatrick types, body sites), small
enough for a test. The digests were taken with the code of db7ecba (before issue 17's report
work). A failure means a number in the exports changed: if that is intended (a metric fixed,
a dependency whose random streams changed), say which numbers change and why, and update
the digests in the same commit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import threading
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from derm_stress.metrics import compute_metrics
from derm_stress.report import plots, write_report
from derm_stress.report.answers import compute_answers
from derm_stress.report.html import report_figures
from derm_stress.report.plots import in_background
from derm_stress.run import results
from derm_stress.run.results import load_run

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_report.py"
PINNED = {
    "metrics.csv": "a66d43d8701433b0799f65f2710c3f465e1f4e6841fbac255dcc46d5d90f2de1",
    "subgroups.csv": "433f57988e5f63893c763ae40423d316a3e7a0194119beddec7cff1744db680e",
}


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out: Path = tmp_path_factory.mktemp("pinned") / "run"
    assert _bench().build(out, 60, 2) == 2 * 80 * 60
    return out


def test_exports_keep_their_bytes(synthetic_run: Path, tmp_path: Path) -> None:
    write_report(synthetic_run, tmp_path / "report.html")
    for name, digest in PINNED.items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize(("parts", "fork"), [(1, False), (3, False), (2, True), (4, True)])
def test_store_read_in_parts_gives_the_same_table(
    synthetic_run: Path, monkeypatch: pytest.MonkeyPatch, parts: int, fork: bool
) -> None:
    monkeypatch.setattr(results, "SCAN_PROCESSES", 1)
    reference = load_run(synthetic_run).table  # one scan, in this process
    monkeypatch.setattr(results, "SCAN_PROCESSES", parts)
    # forked: the other ranges are read by child processes that send their columns back
    # (forced even if a test runner's thread is about); else all read here in turn
    monkeypatch.setattr(results, "_can_fork", lambda: fork)
    table = load_run(synthetic_run).table
    assert table.answers == reference.answers and table.named == reference.named
    for f in dataclasses.fields(table):
        value = getattr(table, f.name)
        if isinstance(value, np.ndarray):
            expected = getattr(reference, f.name)
            assert value.dtype == expected.dtype, f.name
            assert np.array_equal(value, expected, equal_nan=value.dtype.kind == "f"), f.name
    # the synthetic answers exercise every column: statuses, referrals, triage, numbers
    assert {-1, 0, 1} <= set(np.unique(table.adopted).tolist())
    assert (table.planted >= 0).any() and (table.ranked[..., 4] >= 0).any()
    assert np.isfinite(table.latency).all() and (table.tokens == 853).all()


def test_figures_drawn_in_a_forked_process_are_the_same_bytes(
    synthetic_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = load_run(synthetic_run)
    metrics = compute_metrics(run)
    answers = compute_answers(run, metrics)
    args = (metrics, run.top_k, run.models, answers)
    here = report_figures(*args)
    assert here.curves["top1"] and len(here.heatmaps) == 2 and here.context
    assert here.context_benefit and here.authority
    assert in_background(report_figures, *args)() == here
    if threading.active_count() == 1:  # else it draws here, as below
        assert in_background(os.getpid)() != os.getpid()
    # where the platform cannot fork, they are drawn in the calling process
    monkeypatch.setattr(plots.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert in_background(report_figures, *args)() == here
