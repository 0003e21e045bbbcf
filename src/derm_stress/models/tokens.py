"""Token and cost estimates for API models, before any call is made (``run --dry-run``).

Image tokens follow OpenAI's published rule for its tile-based vision models (GPT-4o,
GPT-4.1, o-series; "Images and vision" guide, section "Calculating costs"):

- ``detail: low``: a flat 85 tokens per image;
- ``detail: high`` (and ``auto``, counted as high: the API may pick either): the image is
  scaled to fit in a 2048 x 2048 square, then so that its shorter side is at most 768 px;
  it costs 85 tokens plus 170 per 512 x 512 tile needed to cover it.

A 1024 x 1024 photo therefore costs 765 tokens at high detail, 85 at low. Models priced by
32 px patches (GPT-4.1-mini and -nano among them) count differently; the estimate is then
an upper bound of the right order, not the bill. Text is counted at 4 characters a token,
OpenAI's rule of thumb for English.
"""

from __future__ import annotations

import math
from typing import Literal

Detail = Literal["low", "high", "auto"]

LOW_DETAIL_TOKENS = 85
BASE_TOKENS = 85
TILE_TOKENS = 170
TILE = 512
FIT_SIDE = 2048
SHORT_SIDE = 768
CHARS_PER_TOKEN = 4


def scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The size an image is sent at after the adapter's downscale to ``max_side``."""
    if max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def image_tokens(width: int, height: int, detail: Detail | None = None) -> int:
    """Input tokens the API counts for one image of ``width`` x ``height`` pixels."""
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width} x {height}")
    if detail == "low":
        return LOW_DETAIL_TOKENS
    w, h = float(width), float(height)
    if max(w, h) > FIT_SIDE:
        scale = FIT_SIDE / max(w, h)
        w, h = w * scale, h * scale
    if min(w, h) > SHORT_SIDE:
        scale = SHORT_SIDE / min(w, h)
        w, h = w * scale, h * scale
    tiles = math.ceil(w / TILE) * math.ceil(h / TILE)
    return BASE_TOKENS + TILE_TOKENS * tiles


def text_tokens(text: str) -> int:
    """Estimated tokens of ``text`` (4 characters a token, rounded up)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def cost_usd(
    prompt_tokens: float, completion_tokens: float, price: dict[str, float], discount: float = 1.0
) -> float:
    """USD for the tokens at ``price`` (``input_per_million``, ``output_per_million``)."""
    return (
        discount
        * (
            prompt_tokens * price.get("input_per_million", 0.0)
            + completion_tokens * price.get("output_per_million", 0.0)
        )
        / 1e6
    )
