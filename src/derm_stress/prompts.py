"""Versioned prompt templates for models that read text.

The version is part of every result key: change a template, bump ``PROMPT_VERSION``, and
stored answers to the old wording are not reused. The exact text sent is kept with each
answer (``Answer.prompt``), so any result's prompt can be recovered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from derm_stress.errors import InvalidArgument
from derm_stress.labels import label
from derm_stress.perturb.condition import Probe

PROMPT_VERSION = "v1"
Style = Literal["open", "choices"]
Format = Literal["text", "json"]

SYSTEM = (
    "You are a dermatologist reviewing a referral. Give your best assessment from what you "
    "are shown. This is a research evaluation; your answer will not be used for patient care."
)

_TRIAGE = (
    "Then give a triage level: urgent (suspected malignancy, see within two weeks), soon "
    "(see within weeks) or routine."
)


@dataclass(frozen=True)
class Prompt:
    """The system message and the user's text (the images are sent alongside)."""

    system: str
    user: str

    def as_text(self) -> str:
        return f"[system]\n{self.system}\n[user]\n{self.user}"


def _task(top_k: int, style: Style, choices: Sequence[str], fmt: Format) -> str:
    ask = (
        f"List the {top_k} most likely diagnoses for the skin lesion in the photo, most likely "
        "first, each with your confidence as a percentage."
    )
    if style == "choices":
        names = "; ".join(f"{label(c).name} ({c})" for c in choices)
        ask += f" Choose only from: {names}."
    if fmt == "json":
        return (
            f"{ask} {_TRIAGE} Answer with JSON only, in this form: "
            '{"differential": [{"diagnosis": "...", "confidence": 70}, ...], '
            '"triage": "urgent|soon|routine"}'
        )
    return (
        f"{ask} {_TRIAGE} Answer in this form:\n1. <diagnosis> (<confidence>%)\n"
        f"...\nTriage: <urgent|soon|routine>"
    )


def build_prompt(
    probe: Probe,
    top_k: int = 3,
    style: Style = "open",
    choices: Sequence[str] = ("ACK", "BCC", "MEL", "NEV", "SCC", "SEK"),
    fmt: Format = "text",
) -> Prompt:
    """The prompt for one probe: image-only or with the rendered note."""
    if top_k < 1:
        raise InvalidArgument(f"top_k must be at least 1, got {top_k!r}")
    if style not in ("open", "choices"):
        raise InvalidArgument(f"prompt style must be 'open' or 'choices', got {style!r}")
    photos = "photo" if len(probe.images) == 1 else f"{len(probe.images)} photos"
    if probe.note_text is None:
        intro = f"Here is a {photos} of a skin lesion. No clinical information is available."
    elif probe.note_text:
        intro = f"Here is a {photos} of a skin lesion, with the referral note:\n\n{probe.note_text}"
    else:
        intro = f"Here is a {photos} of a skin lesion. The referral note is empty."
    return Prompt(SYSTEM, f"{intro}\n\n{_task(top_k, style, choices, fmt)}")
