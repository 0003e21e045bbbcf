"""The robustness report: metrics rendered to one self-contained HTML file."""

from derm_stress.report.html import REPORT_NAME, render_report, write_report

__all__ = ["REPORT_NAME", "render_report", "write_report"]
