from __future__ import annotations

import re
from pathlib import Path

import yaml

from derm_stress.report import write_report
from derm_stress.run import load_config, run
from tests.conftest import ManifestFactory


def test_report_is_self_contained_and_shows_curves_context_and_errors(
    tmp_path: Path, make_manifest: ManifestFactory
) -> None:
    manifest = make_manifest(
        [
            {"case_id": f"c{i}", "image": f"@{i}", "diagnosis": d, "age": "50", "itch": "yes"}
            for i, d in enumerate(["MEL", "NEV", "BCC", "SEK", "ACK", "SCC"])
        ]
        + [
            {"case_id": "<b>bad</b>", "image": "img/gone.jpg", "diagnosis": "MEL"},
            {"case_id": "odd", "image": "@7", "diagnosis": "<script>x</script>"},
        ]
    )
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "image": [
                    "none",
                    {"op": "exposure", "severity": [1, 3, 5]},
                    {"op": "motion_blur", "severity": [2, 4]},
                    {"op": "rotation", "severity": [5]},
                ],
                "context": ["image_only", "full", {"op": "drop_fields", "fields": ["age", "itch"]}],
                "dataset": {"manifest": manifest.name},
            }
        )
    )
    run(load_config(config), tmp_path / "run")
    text = write_report(tmp_path / "run").read_text()
    # one script, the report's own, inline; the label's <script> is escaped
    assert text.count("<script") == 1 and "<script>\n(function" in text
    assert "<script>x</script>" not in text and "&lt;script&gt;x&lt;/script&gt;" in text
    assert not re.search(r"(src|href)=[\"']?https?://", text)
    assert not re.search(r"<script[^>]* src=", text)
    # top-1 and top-k curves, severity heatmap, context chart, context x image chart
    assert text.count("<svg") == 5
    for op in ("exposure", "motion_blur", "rotation"):
        assert f">{op}<" in text  # panel titles in the SVG
    assert "img=none|ctx=drop_fields[age,itch]" in text
    assert "&lt;b&gt;bad&lt;/b&gt;" in text and "<b>bad</b>" not in text
    assert "image file not found" in text
    assert "Rows not loaded (1)" in text and "unknown diagnosis label" in text
    assert "Provenance" in text and "seed" in text
    for section in (
        "Corruption error per operator family",
        "Context: help and harm",
        "Triage, calibration and cost",
        "Worst flips",
        "By diagnosis",
    ):
        assert section in text
    run_dir = tmp_path / "run"
    summary = (run_dir / "report.md").read_text()
    assert "| reference | `img=none|ctx=image_only` |" in summary
    assert "## The three answers" in summary and "- Decay: relative top-1" in summary
    assert "- Context: the note adds" in summary and "Incomplete run" not in summary
    header = (run_dir / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"model", "condition", "top1", "top1_ci_low", "mcnemar_p", "ece"} <= set(header)
    assert "attribute,group" in (run_dir / "subgroups.csv").read_text().splitlines()[0]


def test_notes_are_escaped_and_can_be_redacted() -> None:
    from derm_stress.report.gallery import Flip
    from derm_stress.report.html import _gallery

    evil = "<img src=x onerror=alert(1)>"
    flip = Flip(
        "m",
        "c<1>",
        "MEL",
        "img=none|ctx=drop_block[history]",
        ("MEL",),
        ("NEV",),
        (("other_history", evil, None),),
        None,
    )
    shown = _gallery([flip], redact_notes=False)
    assert evil not in shown and "&lt;img src=x onerror=alert(1)&gt;" in shown
    assert "c&lt;1&gt;" in shown
    hidden = _gallery([flip], redact_notes=True)
    assert "onerror" not in hidden and "note changes redacted" in hidden


def leaky(probe: object) -> str:
    """A model whose failures dump a long message holding a secret."""
    raise RuntimeError("upstream said: api_key=sk-SECRET-123 " + "x" * 5000)


def test_incomplete_runs_carry_a_banner_with_what_is_missing(tmp_path: Path) -> None:
    """Issue 16, item 5: a run stopped part-way (and one whose process died: status
    ``running``) says so at the top of report.html and report.md."""
    import json

    from derm_stress.run import Budget

    config = tmp_path / "c.yaml"
    config.write_text(
        "image: [none, {op: defocus, severity: [2, 5]}]\ncontext: [image_only, full]\n"
        "dataset: {limit: 40}\nmodels:\n  - {name: ref, adapter: reference}\n"
    )
    run(load_config(config), tmp_path / "run", budget=Budget(max_calls=64))
    text = write_report(tmp_path / "run").read_text()
    assert "Incomplete run:" in text and "stopped early by its budget" in text
    stored = re.search(r"([\d,]+) of 240 results stored \(([\d.]+)% of the grid\)", text)
    assert stored is not None and 0 < int(stored.group(1)) < 240
    assert float(stored.group(2)) == round(100 * int(stored.group(1)) / 240, 1)
    assert "fewer cases than the baseline" in text
    summary = (tmp_path / "run" / "report.md").read_text()
    assert "**Incomplete run:** status `stopped`" in summary
    # the process was killed: the manifest still says running, and no process holds the lock
    manifest_path = tmp_path / "run" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["status"] = "running"
    manifest["versions"] = {}  # a hand-made or edited manifest: provenance says so, no null
    manifest_path.write_text(json.dumps(manifest))
    text = write_report(tmp_path / "run").read_text()
    assert "status <code>ended abnormally</code>" in text and "process ended" in text
    assert "not recorded in this run" in text and "versions&quot;: null" not in text
    assert (
        "**Incomplete run:** status `ended abnormally`"
        in (tmp_path / "run" / "report.md").read_text()
    )
    # finished, it carries no banner
    run(load_config(config), tmp_path / "run")
    text = write_report(tmp_path / "run").read_text()
    assert "Incomplete run" not in text and "class=banner" not in text


def test_model_error_text_is_cut_and_redacted(tmp_path: Path) -> None:
    """Issue 16, item 18: error text from a model is bounded in the report, and
    --redact-notes leaves it out."""
    config = tmp_path / "c.yaml"
    config.write_text(
        "image: [none]\ncontext: [image_only]\ndataset: {limit: 3}\n"
        "models:\n  - {name: leaky, adapter: callable, "
        "target: 'tests.report.test_report:leaky'}\n"
    )
    run(load_config(config), tmp_path / "run")
    text = write_report(tmp_path / "run").read_text()
    assert "api_key=sk-SECRET-123" in text and "x" * 300 not in text
    assert "more characters)" in text
    redacted = write_report(tmp_path / "run", tmp_path / "r.html", redact_notes=True).read_text()
    assert "SECRET" not in redacted and "xxxx" not in redacted
    assert "(error text redacted)" in redacted
