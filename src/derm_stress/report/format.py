"""Formatting shared by the report and the run comparison: the stylesheet, escaping,
percentages and intervals, and CSV tables."""

from __future__ import annotations

import csv
import html
from pathlib import Path

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2327;
background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:24px}
h2,h3{scroll-margin-top:44px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #dde;
padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.sub{color:#5a6570;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:10px 14px;min-width:130px}
.card b{display:block;font-size:20px}
table{border-collapse:collapse;background:#fff;font-size:12.5px;width:100%}
th,td{border:1px solid #e1e4e8;padding:4px 8px;text-align:right;vertical-align:top}
th{background:#eef1f4;position:sticky;top:0}
td.l,th.l{text-align:left;font-family:ui-monospace,Menlo,monospace;font-size:12px}
tr.base td{background:#fff8e1}
.neg{color:#b3261e}.pos{color:#1b7f3b}
figure{background:#fff;border:1px solid #e1e4e8;border-radius:8px;margin:12px 0;padding:12px;
overflow-x:auto}
figure svg{max-width:100%;height:auto}
pre{background:#fff;border:1px solid #e1e4e8;padding:10px;overflow-x:auto;font-size:12px}
.note{color:#5a6570;font-size:12.5px}
.banner{background:#fdecea;border:1px solid #f3b8b2;border-left:5px solid #b3261e;
border-radius:6px;padding:10px 14px;margin:0 0 16px}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(270px,1fr));gap:12px}
.flip{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:10px;font-size:12.5px}
.flip img{width:144px;height:auto;float:left;margin:0 10px 6px 0;border-radius:4px}
.flip code{font-size:11.5px;word-break:break-all}
.toc{font-size:13px;margin:12px 0 4px}.toc a{color:#0b5cad;text-decoration:none}
.answers{display:grid;gap:4px}.answers h3{margin:12px 0 4px}
.pair{display:flex;flex-wrap:wrap;gap:0 12px}.pair figure.half{flex:1 1 360px}
"""


def esc(value: object) -> str:
    """HTML-escaped text (quotes included): notes and model output never become markup."""
    return html.escape(str(value), quote=True)


def pct(value: float | None, ci: tuple[float, float] | None = None) -> str:
    if value is None:
        return "–"
    text = f"{100 * value:.1f}%"
    if ci is not None:
        text += f" <span class=note>[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]</span>"
    return text


def delta(value: float | None, ci: tuple[float, float] | None) -> str:
    if value is None:
        return "–"
    cls = "neg" if value < 0 else "pos" if value > 0 else ""
    text = f"{100 * value:+.1f}"
    if ci is not None:
        text += f" <span class=note>[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]</span>"
    return f"<span class={cls}>{text}</span>" if cls else text


def pvalue(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        if not rows:
            return
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def flatten(values: dict[str, object], **extra: object) -> dict[str, object]:
    """One CSV row: ``extra`` first, then ``values`` with each interval split into
    ``_low`` and ``_high`` columns (empty when there is no interval)."""
    out: dict[str, object] = dict(extra)
    for key, value in values.items():
        if isinstance(value, tuple):
            out[f"{key}_low"], out[f"{key}_high"] = value
        elif key.endswith("_ci"):
            out[f"{key}_low"] = out[f"{key}_high"] = None
        else:
            out[key] = value
    return out
