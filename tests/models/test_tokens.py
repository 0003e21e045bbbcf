"""Image and text token estimates (OpenAI's tile rule) and the cost they give."""

from __future__ import annotations

import pytest

from derm_stress.models.tokens import cost_usd, image_tokens, scaled_size, text_tokens


@pytest.mark.parametrize(
    ("size", "detail", "tokens"),
    [
        ((1024, 1024), "high", 765),  # 768 x 768: 4 tiles (OpenAI's worked example)
        ((2048, 4096), "high", 1105),  # 1024 x 2048, then 768 x 1536: 6 tiles
        ((4096, 8192), None, 1105),  # fit in 2048 first: the same as above
        ((512, 512), "auto", 255),  # one tile; auto counted as high
        ((513, 512), "high", 425),  # two tiles
        ((600, 400), "high", 425),  # short side under 768: not upscaled
        ((4096, 4096), "low", 85),  # low detail: flat
    ],
)
def test_image_tokens_follow_the_tile_rule(
    size: tuple[int, int], detail: str | None, tokens: int
) -> None:
    assert image_tokens(*size, detail) == tokens  # type: ignore[arg-type]


def test_sizes_text_and_cost() -> None:
    assert scaled_size(2000, 1000, 1024) == (1024, 512)
    assert scaled_size(800, 600, 1024) == (800, 600)
    assert text_tokens("") == 0 and text_tokens("abcd") == 1 and text_tokens("abcde") == 2
    price = {"input_per_million": 2.0, "output_per_million": 8.0}
    assert cost_usd(1_000_000, 100_000, price) == pytest.approx(2.8)
    assert cost_usd(1_000_000, 100_000, price, discount=0.5) == pytest.approx(1.4)
    with pytest.raises(ValueError, match="positive"):
        image_tokens(0, 10)
