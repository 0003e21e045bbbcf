"""Figures for the report, rendered to inline SVG strings (no files, no network)."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from derm_stress.metrics import (
    BASELINE_ID,
    ConditionMetrics,
    image_op_and_severity,
    split_condition,
)

plt.rcParams.update(
    {
        "svg.fonttype": "none",
        "svg.hashsalt": "derm-stress",  # stable ids: same data, same bytes
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)
COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _value(m: ConditionMetrics, metric: str) -> float | None:
    return m.top1 if metric == "top1" else m.topk


def _ci(m: ConditionMetrics | None, metric: str) -> tuple[float, float] | None:
    if m is None:
        return None
    return m.top1_ci if metric == "top1" else m.topk_ci


def severity_curves(metrics: Sequence[ConditionMetrics], metric: str, k: int) -> str | None:
    """Accuracy against severity, one panel per image operator, one line per model and
    context (colour: context, marker: model); each model's clean image-only baseline dashed."""
    index = {(m.model, m.condition): m for m in metrics}
    curves: dict[str, dict[tuple[str, str], list[tuple[int, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for m in metrics:
        image, context = split_condition(m.condition)
        parsed = image_op_and_severity(image)
        value = _value(m, metric)
        if parsed is None or value is None:
            continue
        op, severity = parsed
        curves[op][(m.model, context)].append((severity, value))
    if not curves:
        return None
    ops = sorted(curves)
    cols = min(4, len(ops))
    rows = (len(ops) + cols - 1) // cols
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.1 * cols, 2.5 * rows), squeeze=False, sharey=True
    )
    models = sorted({m.model for m in metrics})
    contexts = sorted(
        {ctx for op in curves for (_, ctx) in curves[op]},
        key=lambda c: (c != "image_only", c != "full", c),
    )
    for ax, op in zip(axes.flat, ops, strict=False):
        for (model, context), points in sorted(curves[op].items()):
            clean = index.get((model, f"img=none|ctx={context}"))
            clean_value = _value(clean, metric) if clean else None
            pts = sorted(points) if clean_value is None else [(0, clean_value), *sorted(points)]
            if context == "image_only":  # 95% bootstrap band on the baseline's mode
                band = [
                    _ci(index.get((model, f"img={op}@{x}|ctx={context}")) if x else clean, metric)
                    for x, _ in pts
                ]
                if all(b is not None for b in band):
                    ax.fill_between(
                        [p[0] for p in pts],
                        [b[0] for b in band if b],
                        [b[1] for b in band if b],
                        alpha=0.15,
                        color=COLORS[contexts.index(context) % len(COLORS)],
                        linewidth=0,
                    )
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                marker="os^Dv"[models.index(model) % 5],
                ms=3.5,
                color=COLORS[contexts.index(context) % len(COLORS)],
                lw=2.0 if context == "image_only" else 1.2,
                label=f"{model} · {context}" if len(models) > 1 else context,
            )
        for model in models:
            base = index.get((model, BASELINE_ID))
            base_value = _value(base, metric) if base else None
            if base_value is not None:
                ax.axhline(
                    base_value,
                    color="#444",
                    ls=(0, (4, 2 + 2 * models.index(model))),
                    lw=1,
                    alpha=0.8,
                )
        ax.set_title(op)
        ax.set_xticks(range(0, 6))
        ax.set_xlim(-0.2, 5.2)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("severity")
        ax.grid(alpha=0.25)
    for ax in axes.flat[len(ops) :]:
        ax.set_visible(False)
    axes[0][0].set_ylabel("top-1 accuracy" if metric == "top1" else f"top-{k} accuracy")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=min(4, len(labels)),
        bbox_to_anchor=(0.5, -0.02 - 0.04 * ((len(labels) - 1) // 4)),
        frameon=False,
    )
    fig.suptitle(
        "grey dashed: clean image-only baseline" + (" (one per model)" if len(models) > 1 else ""),
        fontsize=8,
        y=1.0,
        color="#555",
    )
    fig.tight_layout()
    return _svg(fig)


def context_chart(metrics: Sequence[ConditionMetrics], k: int) -> str | None:
    """Top-1 and top-k accuracy of clean photos under each context condition, per model."""
    clean = [m for m in metrics if split_condition(m.condition)[0] == "none"]
    contexts = list(dict.fromkeys(split_condition(m.condition)[1] for m in clean))
    if len(contexts) < 2:
        return None
    models = list(dict.fromkeys(m.model for m in clean))
    index = {(m.model, split_condition(m.condition)[1]): m for m in clean}
    fig, axes = plt.subplots(
        1, 2, figsize=(max(6.0, 1.1 * len(contexts) * len(models) + 2), 3), sharey=True
    )
    width = 0.8 / len(models)
    for ax, metric, title in ((axes[0], "top1", "top-1"), (axes[1], "topk", f"top-{k}")):
        for i, model in enumerate(models):
            values = [
                _value(index[(model, c)], metric) if (model, c) in index else None for c in contexts
            ]
            xs = [j + (i - (len(models) - 1) / 2) * width for j in range(len(contexts))]
            ax.bar(
                xs,
                [v or 0.0 for v in values],
                width=width * 0.95,
                color=COLORS[i % len(COLORS)],
                label=model,
            )
        ax.set_xticks(range(len(contexts)))
        ax.set_xticklabels(contexts, rotation=30, ha="right")
        ax.set_title(f"{title} accuracy, clean photos")
        ax.set_ylim(0, 1.02)
        ax.grid(axis="y", alpha=0.25)
    axes[0].legend(frameon=False)
    fig.tight_layout()
    return _svg(fig)


def severity_heatmap(metrics: Sequence[ConditionMetrics], model: str) -> str | None:
    """Change in top-1 accuracy from the baseline (percentage points), image-only
    conditions: one row per image operator, one column per severity."""
    cells: dict[str, dict[int, float]] = defaultdict(dict)
    for m in metrics:
        image, context = split_condition(m.condition)
        parsed = image_op_and_severity(image)
        if m.model == model and context == "image_only" and parsed and m.delta_top1 is not None:
            cells[parsed[0]][parsed[1]] = 100 * m.delta_top1
    if not cells:
        return None
    ops = sorted(cells)
    severities = sorted({s for row in cells.values() for s in row})
    grid = np.full((len(ops), len(severities)), np.nan)
    for i, op in enumerate(ops):
        for j, sev in enumerate(severities):
            grid[i, j] = cells[op].get(sev, np.nan)
    limit = max(5.0, float(np.nanmax(np.abs(grid))))
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(severities), 0.8 + 0.32 * len(ops)))
    mappable = ax.imshow(grid, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(severities)), [str(s) for s in severities])
    ax.set_yticks(range(len(ops)), ops)
    ax.set_xlabel("severity")
    for i in range(len(ops)):
        for j in range(len(severities)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:+.0f}", ha="center", va="center", fontsize=7)
    fig.colorbar(mappable, ax=ax, label="change in top-1 accuracy (pp)")
    ax.set_title(f"{model}: top-1 change from the clean image-only baseline")
    fig.tight_layout()
    return _svg(fig)
