"""The robustness report: metrics rendered to one self-contained HTML file, and two runs
compared side by side."""

from derm_stress.report.compare import compare_runs, write_comparison
from derm_stress.report.html import REPORT_NAME, render_report, write_report

__all__ = ["REPORT_NAME", "compare_runs", "render_report", "write_comparison", "write_report"]
