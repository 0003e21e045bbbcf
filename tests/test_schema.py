"""The typed run records: versions, round trips, capabilities, statuses, RNG keys, metrics."""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from derm_stress.cases import Case, Note
from derm_stress.errors import InvalidArgument
from derm_stress.metrics import PER_CONDITION, Cell, MetricDefinition, compute_metrics
from derm_stress.perturb import base as operator_base
from derm_stress.perturb.base import registry
from derm_stress.perturb.condition import (
    BASELINE_ID,
    FULL_ID,
    Condition,
    spec_from_id,
    upgrade_v1_condition,
)
from derm_stress.perturb.grid import load_grid
from derm_stress.perturb.note_ops import NoteOperator
from derm_stress.run import load_config, run
from derm_stress.run.results import load_run
from derm_stress.run.store import Store
from derm_stress.schema import (
    FORMAT_VERSION,
    SCORED,
    STATUSES,
    Capability,
    CaseRecord,
    ConditionSpec,
    ResultStatus,
    RunManifest,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "schema_v1"
PRESETS = sorted((ROOT / "perturbations").glob("*.yaml"))


def _v1_manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURE / "run" / "manifest.json").read_text("utf-8"))
    return data


def test_a_v1_manifest_is_read_with_specs_and_capabilities() -> None:
    manifest = RunManifest.from_dict(_v1_manifest())
    assert manifest.format_version == 1 and manifest.cases is None
    assert manifest.baseline is not None and manifest.baseline.id == BASELINE_ID
    by_id = {c.id: c for c in manifest.conditions}
    misled = by_id["img=exposure[direction=darker]@4|ctx=misleading_referral@5"]
    assert misled.has(Capability.PLANTS_DIAGNOSIS) and misled.has(Capability.CHANGES_COLOUR)
    assert misled.single_image_op == ("exposure[direction=darker]", 4)
    assert misled.image_key == "img=exposure[direction=darker]"
    assert misled.context_key == "ctx=misleading_referral" and misled.note_perturbed
    sequence = next(c for c in manifest.conditions if "+" in c.image_label)
    assert sequence.single_image_op is None and len(sequence.image) == 2
    one_of = next(c for c in manifest.conditions if c.image_label.startswith("one_of"))
    assert one_of.single_image_op is None
    assert by_id[FULL_ID].is_full and not by_id[FULL_ID].note_perturbed


def test_manifest_round_trips_and_is_written_as_the_current_version() -> None:
    v1 = RunManifest.from_dict(_v1_manifest())
    written = v1.to_dict()
    written["format_version"] = FORMAT_VERSION
    again = RunManifest.from_dict(json.loads(json.dumps(written)))
    assert again.format_version == FORMAT_VERSION == 2
    assert again.conditions == v1.conditions and again.models == v1.models
    assert again.dataset == v1.dataset and again.to_dict() == written


def test_the_harness_writes_format_2_that_reads_back_into_the_same_specs(tmp_path: Path) -> None:
    config = load_config(FIXTURE / "config.yaml")
    out = tmp_path / "run"
    run(config, out)
    data = json.loads((out / "manifest.json").read_text("utf-8"))
    assert data["format_version"] == FORMAT_VERSION
    manifest = load_run(out).manifest
    assert manifest.conditions == tuple(c.spec for c in config.conditions)
    assert all(c.fingerprint for c in manifest.cases or ())
    with Store(out / "results.sqlite", read_only=True) as store:
        records = store.case_records()
    assert [CaseRecord.from_dict(r).to_dict() for r in records] == records


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"format_version": 99}, "format_version 99"),
        ({"format_version": 2, "name": "x"}, "lacks seed, conditions, models, dataset"),
        ([], "JSON object"),
    ],
)
def test_unreadable_manifests_fail_in_one_line(data: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        RunManifest.from_dict(data)  # type: ignore[arg-type]


def test_load_run_names_a_manifest_from_a_newer_derm_stress(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(FIXTURE / "run", run_dir)
    data = _v1_manifest()
    data["format_version"] = 3
    (run_dir / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InvalidArgument, match=r"format_version 3 .* upgrade derm-stress"):
        load_run(run_dir)


def _every_condition() -> Iterator[Condition]:
    for path in PRESETS:
        yield from load_grid(path)
    yield from load_grid(FIXTURE / "config.yaml")
    for cls in registry().values():
        for severity in range(0, 6):
            context = "full" if cls.kind == "note" else "image_only"
            try:
                op = cls(severity)
            except InvalidArgument:  # needs an option (drop_fields): the presets cover it
                break
            ops = {"note_ops" if cls.kind == "note" else "image_ops": (op,)}
            yield Condition(context=context, **ops)  # type: ignore[arg-type]


def test_rng_keys_built_from_the_operators_equal_the_old_label_stripping() -> None:
    """The RNG key parts are built from operator key labels now; they are byte-identical to
    what main derived by regex-stripping severities from the display labels, for every
    preset grid and every registered operator at every severity."""
    seen = 0
    for condition in _every_condition():
        assert condition.image_key == "img=" + re.sub(r"@\d+", "", condition.image_label)
        assert condition.context_key == "ctx=" + re.sub(r"@\d+", "", condition.context_label)
        spec = condition.spec
        assert ConditionSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
        seen += 1
    assert seen > 300


def test_a_v1_description_gives_the_spec_the_condition_has() -> None:
    for path in PRESETS:
        for condition in load_grid(path):
            spec = condition.spec
            v1 = {
                "id": condition.id,
                "deterministic": condition.is_deterministic,
                "image": [{"op": o.name, "severity": o.severity, **o.config} for o in spec.image],
                "context": condition.context,
                "note": [{"op": o.name, "severity": o.severity, **o.config} for o in spec.note],
            }
            upgraded = upgrade_v1_condition(v1)
            assert upgraded.single_image_op == spec.single_image_op
            assert (upgraded.image_label, upgraded.context_label) == (
                spec.image_label,
                spec.context_label,
            )
            assert upgraded.capabilities == spec.capabilities
            assert upgraded.families == spec.families
            assert upgraded.shape() == spec.shape()


def test_result_statuses_are_one_enum_with_one_scored_set() -> None:
    assert [s.value for s in STATUSES] == ["missing", "ok", "unparseable", "error", "input_error"]
    assert [s.code for s in STATUSES] == list(range(5))
    assert {ResultStatus.OK, ResultStatus.UNPARSEABLE} == SCORED
    assert ResultStatus("ok") == "ok" and f"{ResultStatus.INPUT_ERROR}" == "input_error"


class RumourReferral(NoteOperator):
    """A note operator this package does not know: the referral repeats a rumoured
    diagnosis (always melanoma). It declares that it plants a diagnosis, nothing else."""

    name = "test_rumour_referral"
    family = "misleading"
    graded = False
    capabilities = frozenset({Capability.PLANTS_DIAGNOSIS})

    def sample(self, rng: np.random.Generator, target: Note, case: Case) -> dict[str, Any]:
        return {"diagnosis": "MEL", "text": "rumour: melanoma"}

    def apply(self, target: Note, params: Mapping[str, Any]) -> Note:
        return target.replace(referral=params["text"])


@pytest.fixture
def rumour() -> Iterator[type[RumourReferral]]:
    operator_base.register(RumourReferral)
    try:
        yield RumourReferral
    finally:
        operator_base.OPERATORS.unregister(RumourReferral.name)


def echo_referral(probe: Any) -> str:
    """Names whatever the referral says first, else nevus."""
    text = probe.note_text or ""
    return "1. melanoma\n2. nevus" if "rumour" in text else "1. nevus\n2. melanoma"


def test_a_new_planting_operator_is_measured_by_its_capability(
    tmp_path: Path, rumour: type[RumourReferral]
) -> None:
    config = tmp_path / "rumour.yaml"
    config.write_text(
        "dataset: {limit: 6}\n"
        "models: [{name: echo, adapter: callable, target: tests.test_schema:echo_referral}]\n"
        "image: [none]\n"
        f"context: [image_only, full, {{op: {rumour.name}}}]\n",
        encoding="utf-8",
    )
    run(load_config(config), tmp_path / "run")
    data = load_run(tmp_path / "run")
    spec = data.spec(f"img=none|ctx={rumour.name}")
    assert spec.has(Capability.PLANTS_DIAGNOSIS)
    rumoured = next(m for m in compute_metrics(data) if m.condition == spec.id)
    assert rumoured.referral_adoption == 1.0  # melanoma rose from second to first, every case
    # the same ids without structure (a hand-made table) also know it by its class
    assert spec_from_id(spec.id).has(Capability.PLANTS_DIAGNOSIS)


def _top1_over_baseline(cell: Cell) -> float | None:
    here = cell.correct(1)[cell.paired]
    if cell.baseline is None or not here.size:
        return None
    there = cell.correct(1, cell.baseline)[cell.paired]
    return float(here.sum() - there.sum())


def _right_here(cell: Cell) -> np.ndarray:
    right: np.ndarray = cell.correct(cell.k)[cell.scored].astype(float)
    return right


@pytest.fixture
def extra_metrics() -> Iterator[list[MetricDefinition]]:
    added = [
        MetricDefinition(
            "net_rescued", "cases right here minus right at baseline", _top1_over_baseline,
            percent=False,
        ),
        MetricDefinition("topk_again", "top-k, recomputed", _right_here, per_case=True),
    ]  # fmt: skip
    for definition in added:
        PER_CONDITION.append(definition)
    yield added
    for definition in added:
        PER_CONDITION.remove(definition)


def test_a_metric_definition_reaches_metrics_csv_and_report(
    tmp_path: Path, extra_metrics: list[MetricDefinition]
) -> None:
    from derm_stress.report import write_report

    run_dir = tmp_path / "run"
    shutil.copytree(FIXTURE / "run", run_dir)
    data = load_run(run_dir)
    metrics = compute_metrics(data)
    for m in metrics:
        assert m.extra["topk_again"] == pytest.approx(m.topk)
        assert m.extra["topk_again_ci"] == pytest.approx(m.topk_ci, abs=0.2)
    base = next(m for m in metrics if m.condition == BASELINE_ID)
    assert base.extra["net_rescued"] == 0.0
    html = write_report(data)
    with (run_dir / "metrics.csv").open(encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header[-4:] == ["net_rescued", "topk_again", "topk_again_ci_low", "topk_again_ci_high"]
    table = html.read_text("utf-8").split("id=all-conditions>")[1].split("</table>")[0]
    assert "net rescued</th>" in table and "topk again</th>" in table
