"""Metrics: accuracy with intervals (exact and group level), paired differences from the
baseline, flips, McNemar, context help and harm, referral adoption, triage, calibration, cost
and latency; what the report says about scoring (never-answered diagnoses, triage sources)."""

from derm_stress.metrics.core import (
    BASELINE_ID,
    FULL_ID,
    ConditionMetrics,
    compute_metrics,
    corruption_errors,
    selective_accuracy,
    subgroup_metrics,
    with_intervals,
)
from derm_stress.metrics.definitions import PER_CONDITION, Cell, MetricDefinition
from derm_stress.metrics.scoring import (
    NeverAnswered,
    default_triage,
    never_answered,
    triage_sources,
)
from derm_stress.metrics.stats import bootstrap_ci, expected_calibration_error, mcnemar_exact

__all__ = [
    "BASELINE_ID",
    "FULL_ID",
    "PER_CONDITION",
    "Cell",
    "ConditionMetrics",
    "MetricDefinition",
    "NeverAnswered",
    "bootstrap_ci",
    "compute_metrics",
    "corruption_errors",
    "default_triage",
    "expected_calibration_error",
    "mcnemar_exact",
    "never_answered",
    "selective_accuracy",
    "subgroup_metrics",
    "triage_sources",
    "with_intervals",
]
