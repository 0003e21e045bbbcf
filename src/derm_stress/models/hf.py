"""Adapter for local Hugging Face ``transformers`` image-text-to-text models.

Weights are read from a local folder only (``local_files_only``; nothing is downloaded):
``AutoProcessor`` plus ``AutoModelForImageTextToText`` (or a named architecture class), the
processor's own chat template, batched greedy decoding. Works for the architectures of
MedGemma (Gemma 3), LLaVA and LLaVA-Med, InternVL and Idefics3; see the README.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from derm_stress.errors import InvalidArgument, require
from derm_stress.models.base import Answer, Model
from derm_stress.models.timeout import CallCancelled, CallTimeout
from derm_stress.perturb.condition import Probe
from derm_stress.prompts import PROMPT_VERSION, Style, build_prompt

FULL_HASH_LIMIT = 1 << 30  # weights up to 1 GiB are hashed whole
SAMPLE_EVERY = 64 << 20  # larger ones: 1 MiB from every 64 MiB, plus sizes and headers


def _requires() -> tuple[Any, Any]:
    what, needs = "the hf adapter", "torch and transformers"
    note = " (on a CPU-only machine install torch first from the CPU wheel index)"
    torch = require("torch", "hf", what, needs, note)
    transformers = require("transformers", "hf", what, needs, note)
    return torch, transformers


def weights_fingerprint(folder: Path) -> str:
    """A hash of a model folder's config and weights (sampled for folders over 1 GiB)."""
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in (".json", ".safetensors", ".bin", ".model", ".txt", ".jinja")
    )
    total = sum(p.stat().st_size for p in files)
    digest = hashlib.sha256()
    for path in files:
        size = path.stat().st_size
        digest.update(f"{path.relative_to(folder)}\0{size}\n".encode())
        with path.open("rb") as fh:
            if total <= FULL_HASH_LIMIT or path.suffix not in (".safetensors", ".bin"):
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
            else:
                for offset in range(0, size, SAMPLE_EVERY):
                    fh.seek(offset)
                    digest.update(fh.read(1 << 20))
    return digest.hexdigest()[:16]


class HFModel(Model):
    """A local ``transformers`` vision-language model, loaded once, answering in batches."""

    adapter = "hf"

    def __init__(
        self,
        name: str,
        path: str,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 4,
        max_new_tokens: int = 256,
        top_k: int = 3,
        prompt_style: Style = "open",
        image_max_side: int | None = None,
        model_class: str | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        super().__init__(name)
        _requires()
        self.path = Path(path).expanduser()
        if not (self.path / "config.json").is_file():
            raise InvalidArgument(
                f"model {name!r}: {self.path} is not a local model folder "
                "(no config.json); the hf adapter never downloads weights"
            )
        if dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise InvalidArgument(
                f"dtype must be auto, float32, bfloat16 or float16, got {dtype!r}"
            )
        self.batch_size = batch_size
        self.device_setting = device
        self.dtype_setting = dtype
        self.model_class = model_class
        self.trust_remote_code = trust_remote_code
        self.settings: dict[str, Any] = {
            "max_new_tokens": max_new_tokens,
            "top_k": top_k,
            "prompt_style": prompt_style,
            "image_max_side": image_max_side,
        }
        self._fingerprint = weights_fingerprint(self.path)
        self._loaded: tuple[Any, Any, str] | None = None

    def identity(self) -> dict[str, Any]:
        return {
            "adapter": self.adapter,
            "weights": self._fingerprint,
            "dtype": self._dtype_name(),
            "model_class": self.model_class,
            **self.settings,
        }

    @property
    def prompt_version(self) -> str:
        return PROMPT_VERSION

    def _device(self) -> str:
        torch, _ = _requires()
        if self.device_setting != "auto":
            return self.device_setting
        return "cuda" if torch.cuda.is_available() else "cpu"

    def _dtype_name(self) -> str:
        if self.dtype_setting != "auto":
            return self.dtype_setting
        return "bfloat16" if self._device().startswith("cuda") else "float32"

    def load(self) -> tuple[Any, Any, str]:
        """Load processor and model (once)."""
        if self._loaded is None:
            torch, transformers = _requires()
            device = self._device()
            processor = transformers.AutoProcessor.from_pretrained(
                self.path, local_files_only=True, trust_remote_code=self.trust_remote_code
            )
            tokenizer = getattr(processor, "tokenizer", None)
            if tokenizer is not None:
                tokenizer.padding_side = "left"  # decoder-only batches pad on the left
            cls = (
                getattr(transformers, self.model_class)
                if self.model_class
                else transformers.AutoModelForImageTextToText
            )
            model = cls.from_pretrained(
                self.path,
                local_files_only=True,
                dtype=getattr(torch, self._dtype_name()),
                trust_remote_code=self.trust_remote_code,
            )
            model.to(device).eval()
            self._loaded = (processor, model, device)
        return self._loaded

    def _inputs(self, probes: Sequence[Probe]) -> tuple[list[str], list[list[Any]], list[str]]:
        from PIL import Image

        processor, _, _ = self.load()
        texts, images, prompts = [], [], []
        s = self.settings
        for probe in probes:
            prompt = build_prompt(probe, top_k=s["top_k"], style=s["prompt_style"])
            # the system text goes into the user turn: not every chat template has a system
            content: list[dict[str, Any]] = [{"type": "image"} for _ in probe.images]
            content.append({"type": "text", "text": f"{prompt.system}\n\n{prompt.user}"})
            messages = [{"role": "user", "content": content}]
            texts.append(
                processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            )
            pil = [Image.fromarray(img) for img in probe.images]
            if s["image_max_side"]:
                for im in pil:
                    im.thumbnail((s["image_max_side"], s["image_max_side"]))
            images.append(pil)
            prompts.append(prompt.as_text())
        return texts, images, prompts

    def _generate(self, probes: Sequence[Probe]) -> list[Answer]:
        torch, _ = _requires()
        processor, model, device = self.load()
        texts, images, prompts = self._inputs(probes)
        start = time.perf_counter()
        inputs = processor(text=texts, images=images, return_tensors="pt", padding=True)
        inputs = inputs.to(device)
        with torch.inference_mode():
            # max_time ends a generation the timeout abandoned, rather than leave it running
            output = model.generate(
                **inputs,
                max_new_tokens=self.settings["max_new_tokens"],
                do_sample=False,
                max_time=self.timeout_s,
            )
        new = output[:, inputs["input_ids"].shape[1] :]
        decoded = processor.batch_decode(new, skip_special_tokens=True)
        latency = (time.perf_counter() - start) / len(probes)
        pad = getattr(getattr(processor, "tokenizer", None), "pad_token_id", None)
        answers = []
        for text, prompt, row, ids in zip(decoded, prompts, new, inputs["input_ids"], strict=True):
            answers.append(
                Answer.from_text(
                    text,
                    prompt=prompt,
                    prompt_tokens=int((ids != pad).sum()) if pad is not None else int(ids.numel()),
                    completion_tokens=int((row != pad).sum())
                    if pad is not None
                    else int(row.numel()),
                    latency_s=round(latency, 4),
                )
            )
        return answers

    def answer(self, probes: Sequence[Probe]) -> list[Answer]:
        """Answer a batch in one ``generate`` call, bounded by ``timeout_s`` (a timed-out
        batch fails as a whole; it is not retried probe by probe)."""
        self.load()
        try:
            answers: list[Answer] = self.call_with_timeout(self._generate, probes)
            return answers
        except (CallTimeout, CallCancelled) as exc:
            return [Answer.failed(f"{type(exc).__name__}: {exc}")] * len(probes)
        except Exception as batch_error:
            if len(probes) == 1:
                return [Answer.failed(f"{type(batch_error).__name__}: {batch_error}")]
            # one bad probe (or memory) must not cost the batch: answer one by one
            return [a for p in probes for a in self.answer([p])]

    def close(self) -> None:
        self._loaded = None
