"""``derm-stress run CONFIG --dry-run``: what a run would do, before it costs anything.

Per model: the results the run covers, those already in the run directory's store, the calls
it would make, and for API models the estimated tokens and cost from the price table
(``models/tokens.py`` counts image tokens as the API does for the configured detail and the
size the adapter sends). Nothing is called, perturbed or written.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from derm_stress.models import Model, OpenAIChatModel, make_model
from derm_stress.perturb.condition import Probe
from derm_stress.prompts import build_prompt
from derm_stress.run.config import RunConfig, load_dataset
from derm_stress.run.store import RETRIED_STATUSES, case_keys


@dataclass(frozen=True)
class ModelPlan:
    """What a run would do for one model. Token and cost figures are ``None`` for models
    that are not priced per token (local ones) or have no price table."""

    model: str
    adapter: str
    results: int
    stored: int
    calls: int
    input_tokens: int | None = None
    output_tokens: int | None = None
    output_is_bound: bool = False  # no stored answers yet: max_tokens per call counted
    cost_usd: float | None = None
    mode: str | None = None


def _image_size(image: Any) -> tuple[int, int] | None:
    from PIL import Image

    if hasattr(image, "shape"):
        return int(image.shape[1]), int(image.shape[0])
    try:
        with Image.open(image) as img:  # reads the header only
            return int(img.width), int(img.height)
    except OSError:
        return None


def _stored_keys(path: Path) -> tuple[set[str], dict[str, float]]:
    """Keys stored with a final status, and the mean completion tokens per model."""
    if not path.is_file():
        return set(), {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        placeholders = ",".join("?" * len(RETRIED_STATUSES))
        keys = {
            k
            for (k,) in db.execute(
                f"SELECT key FROM results WHERE status NOT IN ({placeholders})", RETRIED_STATUSES
            )
        }
        means = dict(
            db.execute(
                "SELECT model, AVG(json_extract(answer, '$.completion_tokens')) FROM results "
                "WHERE status = 'ok' AND json_extract(answer, '$.completion_tokens') IS NOT NULL "
                "GROUP BY model"
            ).fetchall()
        )
    finally:
        db.close()
    return keys, {str(k): float(v) for k, v in means.items() if v is not None}


def plan_run(
    config: RunConfig, out_dir: Path, store_name: str = "results.sqlite"
) -> list[ModelPlan]:
    """Count, per model, the calls ``config`` would make into ``out_dir``, and estimate them."""
    dataset = load_dataset(config.dataset, config.base_dir)
    models: list[Model] = [
        make_model({k: v for k, v in spec.items() if k != "ray"}) for spec in config.models
    ]
    try:
        stored, mean_output = _stored_keys(Path(out_dir) / store_name)
        condition_keys = [(c.key_id, c.is_deterministic) for c in config.conditions]
        hashes = [(m.identity_hash(), m.prompt_version) for m in models]
        calls = [0] * len(models)
        done = [0] * len(models)
        tokens = [0] * len(models)
        for case in dataset.stream():
            fingerprint = case.fingerprint()
            sizes = [s for s in (_image_size(i) for i in case.images) if s is not None]
            prompt_chars: dict[bool, str] = {}
            for m, (model_hash, prompt_version) in enumerate(hashes):
                keys = case_keys(
                    model_hash, prompt_version, case.case_id, fingerprint, condition_keys,
                    config.seed,
                )  # fmt: skip
                for condition, key in zip(config.conditions, keys, strict=True):
                    if key in stored:
                        done[m] += 1
                        continue
                    calls[m] += 1
                    model = models[m]
                    if isinstance(model, OpenAIChatModel):
                        with_note = condition.context != "image_only"
                        if with_note not in prompt_chars:
                            probe = Probe(
                                case.case_id, condition.id, (), case.note if with_note else None, ()
                            )
                            prompt_chars[with_note] = build_prompt(
                                probe,
                                top_k=model.settings["top_k"],
                                style=model.settings["prompt_style"],
                            ).as_text()
                        tokens[m] += model.estimate_tokens(prompt_chars[with_note], sizes)
        plans = []
        for m, model in enumerate(models):
            plan = ModelPlan(model.name, model.adapter, calls[m] + done[m], done[m], calls[m])
            if isinstance(model, OpenAIChatModel):
                mean = mean_output.get(model.name)
                per_call = mean if mean is not None else float(model.settings["max_tokens"])
                output = round(per_call * calls[m])
                plan = ModelPlan(
                    plan.model, plan.adapter, plan.results, plan.stored, plan.calls,
                    input_tokens=tokens[m], output_tokens=output, output_is_bound=mean is None,
                    cost_usd=model.cost(tokens[m], output), mode=model.mode,
                )  # fmt: skip
            plans.append(plan)
        return plans
    finally:
        for model in models:
            model.close()


def format_plan(plans: list[ModelPlan]) -> str:
    """The dry-run table, one line per model, and what the estimates rest on."""
    lines = [
        f"{'model':<16} {'results':>9} {'stored':>9} {'calls':>9} {'input tok':>12} "
        f"{'output tok':>12} {'est. cost':>11}"
    ]
    for p in plans:
        cost = "n/a" if p.cost_usd is None else f"${p.cost_usd:,.2f}"
        tin = "-" if p.input_tokens is None else f"{p.input_tokens:,}"
        tout = (
            "-"
            if p.output_tokens is None
            else f"{'<=' if p.output_is_bound else '~'}{p.output_tokens:,}"
        )
        mode = " (batch: half price)" if p.mode == "batch" else ""
        lines.append(
            f"{p.model:<16} {p.results:>9,} {p.stored:>9,} {p.calls:>9,} {tin:>12} {tout:>12} "
            f"{cost:>11}{mode}"
        )
    lines.append(
        "estimates: image tokens by the API's tile rule for the configured detail and the "
        "size sent, text at 4 characters a token; output at max_tokens per call (<=) until "
        "answers are stored, then their mean (~); cost n/a without a price table"
    )
    return "\n".join(lines)
