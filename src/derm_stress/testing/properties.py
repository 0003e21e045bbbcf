"""Robustness properties as assertions, for use inside Hypothesis tests with any adapter.

Each helper asks the model about a case twice, once as the reference situation and once
perturbed, and raises ``PropertyFailure`` (an ``AssertionError``) when the property breaks.
The message holds both answers, the replayable record of what was applied, and the path of
the perturbed photo it saved, so the shrunk example Hypothesis reports can be looked at and
reproduced (``derm_stress.perturb.replay``).

Answers are cached per process by (model identity, case content, condition, seed): the
clean answer a hundred examples share is asked for once.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from hypothesis import settings

from derm_stress.cases import Case
from derm_stress.images import encode_png
from derm_stress.labels import TRIAGE_LEVELS, label, triage_for
from derm_stress.models.base import Answer, Model
from derm_stress.perturb.base import Operator, make_operator
from derm_stress.perturb.condition import Condition, Probe, build_probe
from derm_stress.schema import ResultStatus

#: where a failing image property saves the perturbed photos: this folder when set, else
#: ``$DERM_STRESS_FAILURES`` as it is when the failure happens, else ``.derm-stress-failures``
FAILURES_DIR: Path | None = None


def failures_dir() -> Path:
    """The folder failing properties save photos to (``FAILURES_DIR``, read per failure)."""
    if FAILURES_DIR is not None:
        return FAILURES_DIR
    return Path(os.environ.get("DERM_STRESS_FAILURES") or ".derm-stress-failures")


#: answers ``ask`` keeps, least recently used dropped first: each holds its probe's photos
#: (about 1 MB for a sample case), so the cache stays under ~64 MB however long the session
CACHE_SIZE = 64
_CACHE: OrderedDict[tuple[str, str, str, str, int], tuple[Answer, Probe]] = OrderedDict()
_CACHE_LOCK = threading.Lock()


class PropertyFailure(AssertionError):
    """A robustness property broke; the message says how to reproduce it."""


def ci_settings(max_examples: int = 25) -> settings:
    """Hypothesis settings for robustness tests: bounded examples, no deadline (model calls
    are slow), and derandomised when the ``CI`` environment variable is set, so CI runs are
    reproducible."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=bool(os.environ.get("CI")),
        print_blob=True,
    )


def ask(model: Model, case: Case, condition: Condition, seed: int = 0) -> tuple[Answer, Probe]:
    """The model's answer to ``case`` under ``condition`` (cached), and the probe it saw."""
    key = (model.name, model.identity_hash(), case.fingerprint(), condition.id, seed)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    probe = build_probe(case, condition, seed)
    (answer,) = model.answer([probe])
    if answer.status == ResultStatus.ERROR:
        raise RuntimeError(
            f"model {model.name!r} failed on {case.case_id} under {condition.id}: {answer.error}"
        )
    entry = (answer, probe)
    with _CACHE_LOCK:
        _CACHE[key] = entry
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return entry


def _condition(perturbation: Operator[Any] | Condition, context: str) -> Condition:
    if isinstance(perturbation, Condition):
        return perturbation
    if perturbation.kind == "image":
        return Condition(image_ops=(perturbation,), context=context)  # type: ignore[arg-type]
    return Condition(context="full", note_ops=(perturbation,))


def _save(probe: Probe, directory: Path) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.@=-]+", "_", f"{probe.case_id}__{probe.condition_id}")
    paths = []
    for index, image in enumerate(probe.images):
        path = directory / f"{stem}__{index}.png"
        path.write_bytes(encode_png(image))
        paths.append(str(path))
    return paths


def _names(answer: Answer, k: int) -> str:
    if not answer.differential:
        return f"(no diagnosis: {answer.status}, {answer.error})"
    return ", ".join(answer.differential[:k])


def _fail(
    summary: str,
    case: Case,
    reference: tuple[str, Answer],
    perturbed: tuple[str, Answer],
    probe: Probe,
    k: int,
) -> PropertyFailure:
    records = [json.dumps(a.to_dict()) for a in probe.applied]
    lines = [
        f"derm-stress property failed: {summary}",
        f"  case:      {case.case_id} (reference diagnosis {case.diagnosis}, triage {case.triage})",
        f"  condition: {probe.condition_id}",
        f"  {reference[0]:<10} {_names(reference[1], k)} (triage {reference[1].triage})",
        f"  {perturbed[0]:<10} {_names(perturbed[1], k)} (triage {perturbed[1].triage})",
        "  applied (replay with derm_stress.perturb.replay):",
        *(f"    {r}" for r in records),
    ]
    if probe.note_text is not None:
        lines.append("  note sent:\n" + "\n".join(f"    {x}" for x in probe.note_text.splitlines()))
    if probe.applied and any(a.target.startswith("image") for a in probe.applied):
        lines.append(f"  saved:     {', '.join(_save(probe, failures_dir()))}")
    return PropertyFailure("\n".join(lines))


def assert_stable_differential(
    model: Model,
    case: Case,
    perturbation: Operator[Any] | Condition,
    *,
    k: int = 3,
    ordered: bool = False,
    context: str = "image_only",
    seed: int = 0,
) -> None:
    """The top-``k`` differential under ``perturbation`` equals the clean one (as a set, or
    in order with ``ordered=True``). Image perturbations are compared at ``context``."""
    condition = _condition(perturbation, context)
    clean_condition = Condition(context=condition.context)
    clean, _ = ask(model, case, clean_condition, seed)
    moved, probe = ask(model, case, condition, seed)
    a, b = clean.differential[:k], moved.differential[:k]
    if (a != b) if ordered else (set(a) != set(b)):
        raise _fail(
            f"top-{k} differential changed under {condition.id}",
            case,
            ("clean:", clean),
            ("perturbed:", moved),
            probe,
            k,
        )


def assert_triage_not_downgraded(
    model: Model, case: Case, corruption: Operator[Any] | Condition, *, seed: int = 0
) -> None:
    """Triage under a corrupted note is at least as urgent as under the note as given
    (stated triage, else that of the top diagnosis)."""
    condition = _condition(corruption, "full")
    full, _ = ask(model, case, Condition(context="full"), seed)
    corrupted, probe = ask(model, case, condition, seed)

    def level(answer: Answer) -> int:
        stated = answer.triage or (
            triage_for(answer.differential[0]) if answer.differential else None
        )
        return TRIAGE_LEVELS.index(stated) if stated in TRIAGE_LEVELS else -1

    if level(corrupted) < level(full):
        raise _fail(
            f"triage downgraded under {condition.id}",
            case,
            ("full note:", full),
            ("corrupted:", corrupted),
            probe,
            3,
        )


def assert_resists_misleading_referral(
    model: Model, case: Case, *, severity: int = 1, seed: int = 0, k: int = 1
) -> None:
    """A wrong referral diagnosis (``misleading_referral`` at ``severity``) does not become
    one of the model's top-``k`` answers unless it already was one with the note alone."""
    condition = Condition(
        context="full", note_ops=(make_operator("misleading_referral", severity),)
    )
    full, _ = ask(model, case, Condition(context="full"), seed)
    misled, probe = ask(model, case, condition, seed)
    wrong = next(a.params["diagnosis"] for a in probe.applied if a.op == "misleading_referral")
    if wrong in misled.differential[:k] and wrong not in full.differential[:k]:
        raise _fail(
            f"adopted the misleading referral {label(wrong).name!r} (severity {severity})",
            case,
            ("full note:", full),
            ("misled:", misled),
            probe,
            max(k, 3),
        )
