"""Figures: one colour per model, marks grouped for the toggles, legible heatmap cells."""

from __future__ import annotations

import re

from derm_stress.metrics import BASELINE_ID, ConditionMetrics
from derm_stress.perturb.condition import spec_from_id
from derm_stress.report.plots import PALETTE, _luminance, severity_curves, severity_heatmap

FIELDS = ConditionMetrics.__dataclass_fields__


def _m(model: str, condition: str, top1: float, delta: float | None = None) -> ConditionMetrics:
    values: dict[str, object] = dict.fromkeys(FIELDS)
    values.update(
        model=model, condition=condition, n=10, top1=top1, top1_ci=(top1 - 0.1, top1 + 0.1),
        topk=top1, topk_ci=None, unparseable=0, errors=0, input_errors=0, missing=0,
        paired_n=10, delta_top1=delta, delta_top1_ci=None, extra={},
        spec=spec_from_id(condition),
    )  # fmt: skip
    return ConditionMetrics(**values)  # type: ignore[arg-type]


def _grid(models: list[str]) -> list[ConditionMetrics]:
    out = []
    for i, model in enumerate(models):
        out.append(_m(model, BASELINE_ID, 0.6))
        out.append(_m(model, "img=none|ctx=full", 0.7))
        for op in ("defocus", "exposure"):
            for s in (1, 3, 5):
                for ctx in ("image_only", "full"):
                    value = 0.6 - 0.1 * s / (i + 1)
                    out.append(_m(model, f"img={op}@{s}|ctx={ctx}", value, value - 0.6))
    return out


def test_three_models_get_three_colours_and_toggle_groups() -> None:
    models = ["a", "b", "c"]
    svg = severity_curves(_grid(models), "top1", 3, models)
    assert svg is not None
    for i, colour in enumerate(PALETTE[:3]):
        assert colour.lower() in svg.lower()
        assert f'<g class="ds" data-m="{i}" data-o="0">' in svg
        assert f'<g class="ds" data-m="{i}" data-o="1">' in svg
    assert PALETTE[3].lower() not in svg.lower()  # no fourth model colour
    assert not re.search(r'id="ds_', svg)  # every toggle id became a class
    # small multiples: one panel per operator and context, titled by operator
    assert svg.count(">defocus<") == 1 and svg.count(">exposure<") == 1


def test_heatmap_text_is_white_on_dark_cells_and_black_on_light_ones() -> None:
    metrics = [
        _m("a", BASELINE_ID, 0.6),
        _m("a", "img=defocus@1|ctx=image_only", 0.6, 0.0),  # white cell
        _m("a", "img=defocus@5|ctx=image_only", 0.1, -0.5),  # darkest red
    ]
    svg = severity_heatmap(metrics, "a")
    assert svg is not None
    texts = {
        text: (re.search(r"fill: (#[0-9a-f]{6})", style) or [None, "#000000"])[1]
        for style, text in re.findall(r'<text style="([^"]*)"[^>]*>([+-]\d+)</text>', svg)
    }  # matplotlib leaves out a black fill, the default
    assert texts == {"+0": "#000000", "-50": "#ffffff"}
    assert _luminance((1.0, 1.0, 1.0)) == 1.0 and _luminance((0.0, 0.0, 0.0)) == 0.0
