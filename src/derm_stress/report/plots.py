"""Figures for the report, rendered to inline SVG strings (no files, no network)."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence

import matplotlib

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
