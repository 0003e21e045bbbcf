"""Figures for the report, rendered to inline SVG strings (no files, no network).

Every model keeps one colour in every figure (the Okabe-Ito palette, distinguishable with
the common colour-vision deficiencies); legends sit outside the axes; where lines would
crowd, figures are small multiples (one panel per operator and context). Each model's (and
operator's) marks are wrapped in an SVG group ``<g class="ds" data-m="I" data-o="J">`` so
the report's script can show and hide models and operators.
"""

from __future__ import annotations

import io
import multiprocessing
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import wraps
from itertools import count
from types import EllipsisType
from typing import Any, ParamSpec, TypeVar

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.colors import Normalize, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from derm_stress.metrics import BASELINE_ID, ConditionMetrics

# The report's style, applied only while a figure is drawn (``styled``): importing or using
# this module leaves the host process's matplotlib backend and rcParams as they were. Figures
# are ``Figure`` objects, never pyplot's, so no backend or global figure list is involved.
STYLE: dict[Any, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "derm-stress",  # stable ids: same data, same bytes
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
P = ParamSpec("P")
R = TypeVar("R")


def styled(fn: Callable[P, R]) -> Callable[P, R]:
    """Run a figure-making function inside the report's style (a local rc context)."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def subplots(
    nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], **kwargs: Any
) -> tuple[Figure, Any]:
    """``pyplot.subplots`` without pyplot: a standalone ``Figure`` and its axes."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


# Okabe & Ito (2008), "Color Universal Design": blue, orange, bluish green, vermillion,
# reddish purple, sky blue, black; then two greys (yellow is too pale on white)
PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000",
    "#999999", "#5F5F5F",
)  # fmt: skip
MARKERS = "os^Dv<>pP"
_serial = count()


def model_color(models: Sequence[str], model: str) -> str:
    return PALETTE[list(models).index(model) % len(PALETTE)]


def _tag(artist: Artist, model: int | None, op: int | None = None) -> None:
    """Mark an artist for the report's toggles (rewritten to classes in ``_svg``)."""
    artist.set_gid(
        f"ds_{'' if model is None else model}_{'' if op is None else op}_{next(_serial)}"
    )


_GID = re.compile(r'<g id="ds_(\d*)_(\d*)_\d+">')


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    text = _GID.sub(
        lambda m: (
            '<g class="ds"'
            + (f' data-m="{m.group(1)}"' if m.group(1) else "")
            + (f' data-o="{m.group(2)}"' if m.group(2) else "")
            + ">"
        ),
        text,
    )
    return text[text.index("<svg") :]


def _value(m: ConditionMetrics, metric: str) -> float | None:
    return m.top1 if metric == "top1" else m.topk


def _ci(m: ConditionMetrics | None, metric: str) -> tuple[float, float] | None:
    if m is None:
        return None
    return m.top1_ci if metric == "top1" else m.topk_ci


def image_operators(metrics: Sequence[ConditionMetrics]) -> list[str]:
    """The single image operators of a grid, sorted (the toggles' operator indexes)."""
    ops = set()
    for m in metrics:
        parsed = m.spec.single_image_op
        if parsed is not None:
            ops.add(parsed[0])
    return sorted(ops)


def _contexts(labels: set[str]) -> list[str]:
    return sorted(labels, key=lambda c: (c != "image_only", c != "full", c))


@styled
def severity_curves(
    metrics: Sequence[ConditionMetrics], metric: str, k: int, models: Sequence[str] | None = None
) -> str | None:
    """Accuracy against severity as small multiples: one panel per image operator (columns)
    and context (rows), one line per model with its 95% band; each model's clean
    image-only baseline dashed in its colour."""
    models = list(models) if models is not None else list(dict.fromkeys(m.model for m in metrics))
    index = {(m.model, m.condition): m for m in metrics}
    # the clean photo under each context, per model: severity 0 of every curve
    clean_under = {(m.model, m.spec.context_label): m for m in metrics if m.spec.clean_image}
    curves: dict[tuple[str, str], dict[str, list[tuple[int, ConditionMetrics]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for m in metrics:
        parsed = m.spec.single_image_op
        if parsed is None or _value(m, metric) is None:
            continue
        curves[(parsed[0], m.spec.context_label)][m.model].append((parsed[1], m))
    if not curves:
        return None
    ops = image_operators(metrics)
    contexts = _contexts({ctx for _, ctx in curves})
    if len(contexts) > 1 and len(ops) <= 6:
        rows, cols = len(contexts), len(ops)
        panels = [(op, ctx) for ctx in contexts for op in ops]
    else:
        panels = [(op, ctx) for ctx in contexts for op in ops if (op, ctx) in curves]
        cols = min(5, len(panels))
        rows = (len(panels) + cols - 1) // cols
    fig, axes = subplots(
        rows, cols, figsize=(2.35 * cols, 1.95 * rows + 0.5), squeeze=False, sharex=True,
        sharey=True,
    )  # fmt: skip
    grid_layout = len(contexts) > 1 and len(ops) <= 6
    for n, (ax, (op, context)) in enumerate(zip(axes.flat, panels, strict=False)):
        oi = ops.index(op)
        for model, points in sorted(curves.get((op, context), {}).items()):
            if model not in models:
                continue
            mi = models.index(model)
            color = model_color(models, model)
            clean = clean_under.get((model, context))
            pts = sorted(points, key=lambda p: p[0])
            severities = [0] if clean is not None and _value(clean, metric) is not None else []
            cells = ([clean] if severities else []) + [m for _, m in pts]
            severities += [s for s, _ in pts]
            # models side by side, a little apart, so equal lines do not hide each other
            shift = (mi - (len(models) - 1) / 2) * 0.07
            xs = [x + shift for x in severities]
            ys = [_value(m, metric) for m in cells if m is not None]
            bands = [_ci(m, metric) for m in cells]
            if all(b is not None for b in bands):
                band = ax.fill_between(
                    xs, [b[0] for b in bands if b], [b[1] for b in bands if b],
                    alpha=0.13, color=color, linewidth=0,
                )  # fmt: skip
                _tag(band, mi, oi)
            (line,) = ax.plot(
                xs, ys, marker=MARKERS[mi % len(MARKERS)], ms=3.2, color=color, lw=1.6
            )
            _tag(line, mi, oi)
            base = index.get((model, BASELINE_ID))
            if base is not None and _value(base, metric) is not None:
                _tag(ax.axhline(_value(base, metric), color=color, ls="--", lw=0.9), mi, oi)
        if grid_layout:
            if n < cols:
                ax.set_title(op, fontsize=9)
            if n % cols == 0:
                ax.set_ylabel(
                    f"{context}\n{'top-1' if metric == 'top1' else f'top-{k}'}", fontsize=8
                )
        else:
            ax.set_title(f"{op}\n{context}" if len(contexts) > 1 else op, fontsize=8.5)
        ax.set_xticks(range(0, 6))
        ax.set_xlim(-0.2, 5.2)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.25)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("severity")
    name = "top-1 accuracy" if metric == "top1" else f"top-{k} accuracy"
    handles: list[Artist] = [
        Line2D([], [], color=model_color(models, mo), marker=MARKERS[i % len(MARKERS)], lw=1.6)
        for i, mo in enumerate(models)
    ]
    labels = list(models)
    handles.append(Line2D([], [], color="#555", ls="--", lw=0.9))
    labels.append("clean image-only baseline")
    fig.legend(
        handles, labels, loc="lower center", bbox_to_anchor=(0.5, 1.0),
        ncol=min(len(labels), 5), frameon=False,
    )  # fmt: skip
    if not grid_layout:
        fig.supylabel(name, fontsize=9)
    fig.tight_layout()
    return _svg(fig)


@styled
def context_chart(
    metrics: Sequence[ConditionMetrics], k: int, models: Sequence[str] | None = None
) -> str | None:
    """Top-1 and top-k accuracy on clean photos under each context condition, one bar per
    model with its 95% interval."""
    clean = [m for m in metrics if m.spec.clean_image]
    contexts = list(dict.fromkeys(m.spec.context_label for m in clean))
    if len(contexts) < 2:
        return None
    models = list(models) if models is not None else list(dict.fromkeys(m.model for m in clean))
    index = {(m.model, m.spec.context_label): m for m in clean}
    width = 0.8 / len(models)
    fig, axes = subplots(
        # wide enough for the bars, never so wide that the page scales the text down
        2,
        1,
        figsize=(min(11.5, max(6.5, 0.55 * len(contexts) * len(models) + 2.5)), 5.6),
        sharex=True,
    )
    for ax, metric, title in ((axes[0], "top1", "top-1"), (axes[1], "topk", f"top-{k}")):
        for i, model in enumerate(models):
            cells = [index.get((model, c)) for c in contexts]
            values = [(_value(m, metric) or 0.0) if m else 0.0 for m in cells]
            cis = [_ci(m, metric) for m in cells]
            xs = np.arange(len(contexts)) + (i - (len(models) - 1) / 2) * width
            err = np.array(
                [
                    [v - c[0], c[1] - v] if c else [0.0, 0.0]
                    for v, c in zip(values, cis, strict=True)
                ]
            ).T
            bars = ax.bar(
                xs, values, width=width * 0.92, color=model_color(models, model), label=model,
                yerr=err, error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "#333"},
            )  # fmt: skip
            for patch in bars.patches:
                _tag(patch, i)
        ax.set_ylabel(f"{title} accuracy")
        ax.set_ylim(0, 1.02)
        ax.grid(axis="y", alpha=0.25)
    axes[1].set_xticks(range(len(contexts)))
    axes[1].set_xticklabels(contexts, rotation=25 if len(contexts) < 8 else 40, ha="right")
    axes[0].set_title("clean photos, by context (bars: 95% CI)", fontsize=9, loc="left")
    fig.legend(
        *axes[0].get_legend_handles_labels(), loc="lower center", bbox_to_anchor=(0.5, 1.0),
        ncol=min(len(models), 6), frameon=False,
    )  # fmt: skip
    fig.tight_layout()
    return _svg(fig)


def _luminance(rgb: tuple[float, float, float]) -> float:
    """Relative luminance (sRGB, WCAG) of a colour with components in 0-1."""
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


@styled
def severity_heatmap(metrics: Sequence[ConditionMetrics], model: str) -> str | None:
    """Change in top-1 accuracy from the baseline (percentage points), image-only
    conditions: one row per image operator, one column per severity; cell text black or
    white by the cell's luminance."""
    cells: dict[str, dict[int, float]] = defaultdict(dict)
    for m in metrics:
        parsed = m.spec.single_image_op
        if m.model == model and m.spec.image_only and parsed and m.delta_top1 is not None:
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
    cmap = matplotlib.colormaps["RdBu"]
    norm = Normalize(-limit, limit)
    fig, ax = subplots(figsize=(2.6 + 0.62 * len(severities), 1.1 + 0.3 * len(ops)))
    mappable = ax.imshow(grid, cmap=cmap, norm=norm, aspect="auto")
    ax.set_xticks(range(len(severities)), [str(s) for s in severities])
    ax.set_yticks(range(len(ops)), ops)
    ax.set_xlabel("severity")
    for i in range(len(ops)):
        for j in range(len(severities)):
            if not np.isnan(grid[i, j]):
                r, g, b = to_rgb(cmap(norm(grid[i, j])))
                ax.text(
                    j, i, f"{grid[i, j]:+.0f}", ha="center", va="center", fontsize=7.5,
                    # white text where it contrasts more than black (WCAG: L < 0.179)
                    color="white" if _luminance((r, g, b)) < 0.179 else "black",
                )  # fmt: skip
    bar = fig.colorbar(mappable, ax=ax, fraction=0.08, pad=0.04)
    bar.set_label("Δ top-1 (pp)", labelpad=6)
    ax.set_title(f"{model}: Δ top-1 vs baseline, image only", fontsize=9, loc="left", pad=8)
    fig.tight_layout()
    return _svg(fig)


@styled
def interval_chart(
    rows: Sequence[tuple[str, str, float | None, tuple[float, float] | None]],
    models: Sequence[str],
    xlabel: str,
    title: str,
) -> str | None:
    """Dots with 95% intervals (percentage points): one row per label, one dot per model
    (``rows``: label, model, value, interval), and a zero line."""
    labels = list(dict.fromkeys(label for label, _, v, _ in rows if v is not None))
    if not labels:
        return None
    height = 0.8 / max(1, len(models))
    fig, ax = subplots(figsize=(7.2, 0.9 + 0.26 * len(labels) * max(1, len(models)) ** 0.5))
    for label, model, value, ci in rows:
        if value is None or label not in labels or model not in models:
            continue
        mi = list(models).index(model)
        y = labels.index(label) + (mi - (len(models) - 1) / 2) * height
        color = model_color(models, model)
        err = None if ci is None else [[100 * (value - ci[0])], [100 * (ci[1] - value)]]
        art = ax.errorbar(
            [100 * value], [y], xerr=err, fmt=MARKERS[mi % len(MARKERS)], color=color, ms=4,
            elinewidth=1.1, capsize=2,
        )  # fmt: skip
        for child in (art[0], *art[2]):
            _tag(child, mi)
    ax.axvline(0, color="#444", lw=0.8)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.25)
    ax.set_title(title, fontsize=9, loc="left")
    handles = [
        Line2D([], [], color=model_color(models, m), marker=MARKERS[i % len(MARKERS)], ls="")
        for i, m in enumerate(models)
    ]
    ax.legend(handles, list(models), loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return _svg(fig)


@styled
def authority_chart(
    points: Sequence[tuple[str, int, float | None, tuple[float, float] | None, str]],
    models: Sequence[str],
) -> str | None:
    """The authority curve: by the misleading referral's severity (1 hedged ... 5
    confirmed), top-1 accuracy and adoption with 95% bands, one line per model
    (``points``: model, severity, value, interval, series ``top1`` or ``adoption``)."""
    if not points:
        return None
    fig, axes = subplots(1, 2, figsize=(8.0, 2.7), sharex=True)
    for ax, series, title in (
        (axes[0], "top1", "top-1 accuracy"),
        (axes[1], "adoption", "adopted the planted diagnosis"),
    ):
        for mi, model in enumerate(models):
            pts = sorted(
                (s, v, ci)
                for m, s, v, ci, kind in points
                if m == model and kind == series and v is not None
            )
            if not pts:
                continue
            color = model_color(models, model)
            xs = [p[0] for p in pts]
            if all(p[2] is not None for p in pts):
                band = ax.fill_between(
                    xs, [p[2][0] for p in pts if p[2]], [p[2][1] for p in pts if p[2]],
                    color=color, alpha=0.13, linewidth=0,
                )  # fmt: skip
                _tag(band, mi)
            (line,) = ax.plot(
                xs, [p[1] for p in pts], marker=MARKERS[mi % len(MARKERS)], color=color,
                lw=1.6, ms=4, label=model,
            )  # fmt: skip
            _tag(line, mi)
        ax.set_title(title, fontsize=9, loc="left")
        ax.set_xlabel("referral authority (severity: 1 hedged … 5 confirmed)")
        ax.set_xticks(range(1, 6))
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.25)
    fig.legend(
        *axes[0].get_legend_handles_labels(), loc="lower center", bbox_to_anchor=(0.5, 1.0),
        ncol=min(len(models), 6), frameon=False,
    )  # fmt: skip
    fig.tight_layout()
    return _svg(fig)


@dataclass(frozen=True)
class Figures:
    """The report's figures, as SVG text (None or left out where a grid has nothing to
    draw), drawn from the metrics and answers before the page is written."""

    curves: dict[str, str | None]  # "top1", "topk": ``severity_curves``
    heatmaps: list[str]  # per model, ``severity_heatmap``
    context: str | None  # ``context_chart``
    # the answers' figures (``report.answers.context_figure``, ``authority_figure``);
    # Ellipsis: not drawn yet
    context_benefit: str | EllipsisType | None = ...
    authority: str | EllipsisType | None = ...


def draw_figures(metrics: Sequence[ConditionMetrics], k: int, models: Sequence[str]) -> Figures:
    """The figures of the per-condition metrics, in the report's order."""
    return Figures(
        {metric: severity_curves(metrics, metric, k, models) for metric in ("top1", "topk")},
        [svg for model in models if (svg := severity_heatmap(metrics, model))],
        context_chart(metrics, k, models),
    )


def in_background(draw: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> Callable[[], R]:
    """Start ``draw(*args, **kwargs)`` (figures: matplotlib is most of a large report's
    rendering time) in a forked process, so it runs on another core while the caller
    computes what else the report needs; the returned function waits for its result. The
    figures are the same bytes as drawn in this process (their ids are salted, not
    counted). Where processes cannot be forked (other platforms, a daemonic process), or
    should not be (other threads are running: a lock one of them holds would stay held in
    the child), or the child dies, it runs in this process. ``draw`` and its arguments
    must pickle."""

    def here() -> R:
        return draw(*args, **kwargs)

    if (
        "fork" not in multiprocessing.get_all_start_methods()
        or multiprocessing.current_process().daemon
        or threading.active_count() > 1
    ):
        return here
    try:
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
        future = pool.submit(draw, *args, **kwargs)
    except (OSError, RuntimeError):  # no process to be had: draw here
        return here

    def wait() -> R:
        try:
            result: R = future.result()
        except BrokenProcessPool:  # the child was killed (memory): draw here
            result = here()
        finally:
            pool.shutdown()
        return result

    return wait
