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
from derm_stress.labels import TRIAGE_LEVELS, label
from derm_stress.perturb.condition import Probe

# v2: every triage level of the vocabulary is offered (v1 had no "emergency", so a model
# following it could only under-triage SJS/TEN, erythroderma, necrotising fasciitis...), and
# the photo shows a skin condition, not only a lesion (rashes, eruptions, infections); several
# photos are counted in the wording ("Here are 2 photos", "in the photos")
PROMPT_VERSION = "v2"
Style = Literal["open", "choices"]
Format = Literal["text", "json"]

SYSTEM = (
    "You are a dermatologist reviewing a referral. Give your best assessment from what you "
    "are shown. This is a research evaluation; your answer will not be used for patient care."
)

# every level of the vocabulary's triage, most urgent first (tested)
_TRIAGE = (
    "Then give a triage level: emergency (same-day care, e.g. suspected Stevens-Johnson "
    "syndrome or toxic epidermal necrolysis, erythroderma, eczema herpeticum, necrotising "
    "fasciitis), urgent (see within two weeks, e.g. suspected skin cancer), soon (see within "
    "weeks) or routine."
)
_TRIAGE_CHOICES = "|".join(reversed(TRIAGE_LEVELS))  # emergency|urgent|soon|routine


@dataclass(frozen=True)
class Prompt:
    """The system message and the user's text (the images are sent alongside)."""

    system: str
    user: str

    def as_text(self) -> str:
        return f"[system]\n{self.system}\n[user]\n{self.user}"


def _task(top_k: int, style: Style, choices: Sequence[str], fmt: Format, photos: int) -> str:
    shown = "photo" if photos == 1 else "photos"
    ask = (
        f"List the {top_k} most likely diagnoses for the skin condition in the {shown}, most "
        "likely first, each with your confidence as a percentage."
    )
    if style == "choices":
        names = "; ".join(f"{label(c).name} ({c})" for c in choices)
        ask += f" Choose only from: {names}."
    if fmt == "json":
        return (
            f"{ask} {_TRIAGE} Answer with JSON only, in this form: "
            '{"differential": [{"diagnosis": "...", "confidence": 70}, ...], '
            f'"triage": "{_TRIAGE_CHOICES}"}}'
        )
    return (
        f"{ask} {_TRIAGE} Answer in this form:\n1. <diagnosis> (<confidence>%)\n"
        f"...\nTriage: <{_TRIAGE_CHOICES}>"
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
    shown = "Here is a photo" if len(probe.images) == 1 else f"Here are {len(probe.images)} photos"
    if probe.note_text is None:
        intro = f"{shown} of a skin condition. No clinical information is available."
    elif probe.note_text:
        intro = f"{shown} of a skin condition, with the referral note:\n\n{probe.note_text}"
    else:
        intro = f"{shown} of a skin condition. The referral note is empty."
    task = _task(top_k, style, choices, fmt, len(probe.images))
    return Prompt(SYSTEM, f"{intro}\n\n{task}")
