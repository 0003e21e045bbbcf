"""The report in a real browser: headless Chromium (Debian's ``chromium`` package) opens it
offline, logs no console message, and the test saves a screenshot of the first screen.

CI installs chromium (.ci/run) and sets DERM_STRESS_REQUIRE_BROWSER=1, so there a missing
browser fails the test; elsewhere it is skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from derm_stress.images import load_image
from derm_stress.report import write_comparison, write_report
from derm_stress.run import load_config, run
from tests.conftest import ROOT

SCREENSHOT = ROOT / "build" / "report-first-screen.png"
CONSOLE = re.compile(r":CONSOLE[^\]]*\] (.*)")


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    if os.environ.get("DERM_STRESS_REQUIRE_BROWSER"):
        pytest.fail("headless Chromium is required here: apt-get install -y chromium")
    pytest.skip("no chromium on PATH (apt-get install -y chromium)")


def open_in_browser(page: Path, screenshot: Path, profile: Path) -> tuple[list[str], str]:
    """Load ``page`` offline in headless Chromium: (console messages, serialised DOM)."""
    common = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,1000",
    ]
    shot = subprocess.run(
        [*common, f"--screenshot={screenshot}", page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    dom = subprocess.run(
        [*common, "--dump-dom", page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    messages = [m.group(1) for m in CONSOLE.finditer(shot.stderr + dom.stderr)]
    return messages, dom.stdout


def test_the_console_check_catches_errors(tmp_path: Path) -> None:
    """The detector itself: a page with a script error and a console.error is caught."""
    page = tmp_path / "bad.html"
    page.write_text("<!doctype html><p>x<script>console.error('boom');nothing();</script>")
    messages, dom = open_in_browser(page, tmp_path / "bad.png", tmp_path / "profile")
    assert any("boom" in m for m in messages)
    assert any("nothing is not defined" in m for m in messages)
    assert "<p>x" in dom


def test_report_renders_in_headless_chromium_without_console_errors(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "browser-check",
                "image": ["none", {"op": "motion_blur", "severity": [2, 5]}],
                "context": ["image_only", "full", {"op": "misleading_referral", "severity": [5]}],
                "dataset": {"limit": 24},
            }
        )
    )
    run(load_config(config), tmp_path / "run")
    report = write_report(tmp_path / "run")
    comparison = write_comparison(tmp_path / "run", tmp_path / "run")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    for page, shot in ((report, SCREENSHOT), (comparison, tmp_path / "comparison.png")):
        messages, dom = open_in_browser(page, shot, tmp_path / "profile")
        assert messages == [], f"{page.name}: console messages {messages}"
        assert dom.count("<svg") == page.read_text().count("<svg") > 0
        assert "derm-stress" in dom
        image = load_image(shot)
        assert image.shape[:2] == (1000, 1280)
        # the first screen is drawn (title, cards, table), not a blank or error page
        assert float(np.mean(image < 200)) > 0.01
    assert "Worst flips" in report.read_text()


def test_report_tables_toggles_and_gallery_work_in_chromium(tmp_path: Path) -> None:
    """The interactive layer, driven in headless Chromium over the DevTools pipe: a header
    click sorts, the filter box keeps matching rows, the model and operator check boxes
    hide their marks in every figure (and the model's table rows), and the gallery filters
    by condition; no console message on the way."""
    from derm_stress.testing.browser import Browser, find_chromium

    if find_chromium() is None:
        _chromium()  # skips, or fails where a browser is required
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "browser-interactions",
                "image": ["none", {"op": "motion_blur", "severity": [2, 5]}],
                "context": [
                    "image_only",
                    "full",
                    {"op": "misleading_referral", "severity": [1, 5]},
                ],
                "dataset": {"limit": 24},
                "models": [
                    {"name": "reference", "adapter": "reference"},
                    {
                        "name": "follower",
                        "adapter": "callable",
                        "target": "derm_stress.testing.toy_models:referral_follower",
                    },
                ],
            }
        )
    )
    run(load_config(config), tmp_path / "run")
    report = write_report(tmp_path / "run")
    with Browser() as browser:
        page = browser.open(report)
        table = "document.getElementById('all-conditions')"
        column = (
            f"Array.from({table}.rows).slice(1).filter(r => r.offsetParent !== null)"
            ".map(r => parseFloat(r.cells[3].textContent))"
        )
        page.evaluate(f"{table}.rows[0].cells[3].click()")
        values = page.evaluate(column)
        assert len(values) == 2 * 12 and values == sorted(values)
        assert page.evaluate(f"{table}.rows[0].cells[3].getAttribute('aria-sort')") == "ascending"
        page.evaluate(f"{table}.rows[0].cells[3].click()")
        assert page.evaluate(column) == sorted(values, reverse=True)
        # the filter box before the table keeps the rows holding every word typed
        page.evaluate(
            f"const box = {table}.previousElementSibling; box.value = 'follower referral@5';"
            "box.dispatchEvent(new Event('input'))"
        )
        shown = page.evaluate(
            f"Array.from({table}.rows).slice(1).filter(r => r.offsetParent !== null)"
            ".map(r => r.cells[0].textContent + ' ' + r.cells[1].textContent)"
        )
        assert len(shown) == 3  # clean, motion_blur@2, motion_blur@5
        assert all(s.startswith("follower ") and "misleading_referral@5" in s for s in shown)

        def hidden(selector: str) -> list[bool]:
            result: list[bool] = page.evaluate(
                f"Array.from(document.querySelectorAll({selector!r}))"
                ".map(e => getComputedStyle(e).display === 'none')"
            )
            return result

        assert hidden('g.ds[data-m="1"]') and not any(hidden('g.ds[data-m="1"]'))
        page.evaluate("document.querySelector('#toolbar input[data-m=\"1\"]').click()")
        assert all(hidden('g.ds[data-m="1"]')) and all(hidden('tr[data-m="1"]'))
        assert not any(hidden('g.ds[data-m="0"]'))
        page.evaluate("document.querySelector('#toolbar input[data-o=\"0\"]').click()")
        assert all(hidden('g.ds[data-o="0"]'))
        page.evaluate("document.querySelector('#toolbar input[data-m=\"1\"]').click()")
        assert not any(hidden('tr[data-m="1"]:not(.filtered)'))  # the filter still applies
        # the gallery shows only the chosen condition's cards
        options = page.evaluate(
            "Array.from(document.querySelectorAll('#flip-filter option')).map(o => o.value)"
        )
        assert options[0] == "" and len(options) >= 3
        choice = options[1]
        page.evaluate(
            f"const pick = document.getElementById('flip-filter'); pick.value = {choice!r};"
            "pick.dispatchEvent(new Event('change'))"
        )
        cards = page.evaluate(
            "Array.from(document.querySelectorAll('.flip'))"
            ".map(c => [c.dataset.c, getComputedStyle(c).display !== 'none'])"
        )
        assert any(shown for _, shown in cards) and any(not shown for _, shown in cards)
        assert all((condition == choice) == shown for condition, shown in cards)
        assert page.console == []
