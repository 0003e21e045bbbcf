"""Screenshots of a run's report in headless Chromium: the first screen and the top of each
section, 1280 x 1000, as 256-colour PNGs (small enough to commit).

    python tools/report_screenshots.py RUN_DIR OUT_DIR [--no-report]

writes RUN_DIR/report.html first (unless --no-report), then OUT_DIR/first-screen.png and
OUT_DIR/<section>.png for every section of the report. Needs chromium on the PATH.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from PIL import Image

from derm_stress.report import write_report
from derm_stress.testing.browser import Browser

SECTIONS = (
    "answers", "decay", "context", "wrong-context", "triage", "flips", "subgroups", "all",
    "errors", "provenance",
)  # fmt: skip


def _save(png: bytes, path: Path) -> None:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--no-report", action="store_true", help="use the report as it is")
    args = parser.parse_args()
    report = args.run_dir / "report.html"
    if not args.no_report:
        report = write_report(args.run_dir)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    raw = args.out_dir / ".shot.png"
    with Browser() as browser:
        page = browser.open(report)
        shots = [("first-screen", None), *((s, s) for s in SECTIONS)]
        for name, section in shots:
            if section is not None:
                if not page.evaluate(f"!!document.getElementById({section!r})"):
                    continue
                page.evaluate(f"document.getElementById({section!r}).scrollIntoView()")
            page.screenshot(raw)
            _save(raw.read_bytes(), args.out_dir / f"{name}.png")
            print(args.out_dir / f"{name}.png")
        if page.console:
            raise SystemExit(f"console messages: {page.console}")
    raw.unlink()


if __name__ == "__main__":
    main()
