"""Metrics: accuracy with intervals, paired differences from the baseline, flips, McNemar,
context help and harm, referral adoption, triage, calibration, cost and latency."""

from derm_stress.metrics.core import (
    BASELINE_ID,
    FULL_ID,
    ConditionMetrics,
    compute_metrics,
    corruption_errors,
    image_op_and_severity,
    selective_accuracy,
    split_condition,
    subgroup_metrics,
    with_intervals,
)
from derm_stress.metrics.stats import bootstrap_ci, expected_calibration_error, mcnemar_exact

__all__ = [
    "BASELINE_ID",
    "FULL_ID",
    "ConditionMetrics",
    "bootstrap_ci",
    "compute_metrics",
    "corruption_errors",
    "expected_calibration_error",
    "image_op_and_severity",
    "mcnemar_exact",
    "selective_accuracy",
    "split_condition",
    "subgroup_metrics",
    "with_intervals",
]
