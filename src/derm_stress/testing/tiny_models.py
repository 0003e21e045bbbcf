"""Tiny, randomly initialised vision-language models of real ``transformers`` architectures.

They load through the same code path as real checkpoints (``AutoProcessor`` and
``AutoModelForImageTextToText`` from a local folder), so a pipeline can be tested end to end
with no download: a character-level tokenizer, a 32 px image processor, one-layer towers.
Their answers are noise; they exist to exercise the plumbing. Needs torch and transformers.

    build_tiny_vlm("llava", "/tmp/tiny-llava")   # or "gemma3" (MedGemma's), "idefics3"
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# InternVL is missing: its transformers processor requires a video processor, which needs
# torchvision (no CPU build of torchvision is available where this project is built)
ARCHITECTURES = ("llava", "gemma3", "idefics3")
_CHARS = [chr(c) for c in range(32, 127)] + ["\n"]
# one-layer towers of width 32 on 32 px images: shared by every architecture below
LAYER: dict[str, Any] = {
    "hidden_size": 32,
    "intermediate_size": 37,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
}
VISION: dict[str, Any] = {**LAYER, "image_size": 32, "patch_size": 8}
TEXT: dict[str, Any] = {
    **LAYER,
    "num_key_value_heads": 2,
    "max_position_embeddings": 8192,
    "pad_token_id": 0,
    "bos_token_id": 2,
    "eos_token_id": 3,
}


def _tokenizer(specials: list[str], bos: str, eos: str, **named: str) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {
        w: i for i, w in enumerate(dict.fromkeys(["<pad>", "<unk>", bos, eos, *specials, *_CHARS]))
    }
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token=bos,
        eos_token=eos,
        extra_special_tokens=named,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": specials})
    return tokenizer


def _image_processor(name: str, **kwargs: Any) -> Any:
    import transformers

    # without torchvision, transformers 5 provides PIL-based processors under *Pil names
    cls = getattr(transformers, f"{name}Pil", None) or getattr(transformers, name)
    return cls(**kwargs)


def _llava(folder: Path) -> None:
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tok = _tokenizer(["<image>", "USER:", "ASSISTANT:"], "<s>", "</s>", image_token="<image>")
    template = (
        "{% for m in messages %}{% if m['role'] == 'user' %}USER: {% for c in m['content'] %}"
        "{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
        "\n{% else %}ASSISTANT: {% for c in m['content'] %}{{ c['text'] }}{% endfor %}\n"
        "{% endif %}{% endfor %}{% if add_generation_prompt %}ASSISTANT: {% endif %}"
    )
    processor = LlavaProcessor(
        image_processor=_image_processor(
            "CLIPImageProcessor", size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        ),
        tokenizer=tok,
        patch_size=8,
        vision_feature_select_strategy="default",
        chat_template=template,
        num_additional_image_tokens=1,
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            **VISION,
            projection_dim=32,
        ),
        text_config=LlamaConfig(vocab_size=len(tok), **TEXT),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    LlavaForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)


def _gemma3(folder: Path) -> None:
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3Processor,
        Gemma3TextConfig,
        SiglipVisionConfig,
    )

    specials = [
        "<start_of_image>",
        "<end_of_image>",
        "<image_soft_token>",
        "<start_of_turn>",
        "<end_of_turn>",
    ]
    tok = _tokenizer(
        specials,
        "<bos>",
        "<eos>",
        image_token="<image_soft_token>",
        boi_token="<start_of_image>",
        eoi_token="<end_of_image>",
    )
    template = (
        "{{ bos_token }}{% for m in messages %}<start_of_turn>"
        "{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n{% for c in m['content'] %}"
        "{% if c['type'] == 'image' %}<start_of_image>{% else %}{{ c['text'] }}{% endif %}"
        "{% endfor %}<end_of_turn>\n{% endfor %}"
        "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
    )
    processor = Gemma3Processor(
        image_processor=_image_processor("Gemma3ImageProcessor", size={"height": 32, "width": 32}),
        tokenizer=tok,
        chat_template=template,
        image_seq_length=4,
    )
    config = Gemma3Config(
        text_config=Gemma3TextConfig(
            vocab_size=len(tok),
            **{**TEXT, "num_key_value_heads": 1},
            head_dim=16,
            sliding_window=64,
        ),
        vision_config=SiglipVisionConfig(
            **VISION,
        ),
        mm_tokens_per_image=4,
        image_token_index=tok.convert_tokens_to_ids("<image_soft_token>"),
        boi_token_index=tok.convert_tokens_to_ids("<start_of_image>"),
        eoi_token_index=tok.convert_tokens_to_ids("<end_of_image>"),
    )
    Gemma3ForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)


def _idefics3(folder: Path) -> None:
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3Processor,
        Idefics3VisionConfig,
        LlamaConfig,
    )

    tok = _tokenizer(
        ["<fake_token_around_image>", "<image>", "<global-img>", "<end_of_utterance>"],
        "<|begin_of_text|>",
        "<|end_of_text|>",
        image_token="<image>",
        fake_image_token="<fake_token_around_image>",
        global_image_token="<global-img>",
        end_of_utterance_token="<end_of_utterance>",
    )
    template = (
        "<|begin_of_text|>{% for m in messages %}{{ m['role'] | capitalize }}:"
        "{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>"
        "{% else %} {{ c['text'] }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
        "{% if add_generation_prompt %}Assistant:{% endif %}"
    )
    processor = Idefics3Processor(
        image_processor=_image_processor(
            "Idefics3ImageProcessor",
            do_image_splitting=False,
            size={"longest_edge": 32},
            max_image_size={"longest_edge": 32},
        ),
        tokenizer=tok,
        image_seq_len=4,
        chat_template=template,
    )
    config = Idefics3Config(
        vision_config=Idefics3VisionConfig(
            **VISION,
        ),
        text_config=LlamaConfig(vocab_size=len(tok), **TEXT),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        scale_factor=2,
    )
    Idefics3ForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)


def build_tiny_vlm(architecture: str, folder: str | Path, seed: int = 0) -> Path:
    """Write a tiny random model of ``architecture`` (see ``ARCHITECTURES``) to ``folder``."""
    import torch

    builders = {"llava": _llava, "gemma3": _gemma3, "idefics3": _idefics3}
    if architecture not in builders:
        raise ValueError(f"architecture must be one of {', '.join(builders)}, got {architecture!r}")
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    builders[architecture](path)
    return path
