"""Adapter for the OpenAI chat-completions API and every server that speaks it (vLLM, Ollama,
llama.cpp server, LM Studio): set ``base_url``.

Images go as base64 JPEG data URLs, resized so the longer side is at most ``image_max_side``.
Requests run concurrently (at most ``max_concurrency`` at a time) and are retried with
exponential backoff on 429, 5xx, timeouts, connection errors and malformed responses,
honouring ``Retry-After``. The API key is read from the environment variable named by
``api_key_env`` when the model is built; it is never part of the identity, the store, the
run manifest or the report.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import io
import os
import random
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from derm_stress.errors import InvalidArgument
from derm_stress.models.base import Answer, Model
from derm_stress.perturb.condition import Probe
from derm_stress.prompts import PROMPT_VERSION, Format, Style, build_prompt

DEFAULT_BASE_URL = "https://api.openai.com/v1"
CONNECTIONS_PER_CLIENT = 8


def _httpx() -> Any:
    try:
        import httpx
    except ImportError:
        raise InvalidArgument(
            "the openai adapter needs httpx: pip install 'derm-stress[openai]'"
        ) from None
    return httpx


def image_data_url(img: np.ndarray, max_side: int, quality: int) -> str:
    """A deterministic JPEG data URL of ``img``, downscaled to ``max_side`` if larger."""
    from PIL import Image

    pil = Image.fromarray(img)
    if max(pil.size) > max_side:
        scale = max_side / max(pil.size)
        size = (max(1, round(pil.width * scale)), max(1, round(pil.height * scale)))
        pil = pil.resize(size, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Parse a ``Retry-After`` header: seconds, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, float(when.timestamp()) - (time.time() if now is None else now))


class _Retryable(Exception):
    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


class OpenAIChatModel(Model):
    """An OpenAI-style chat model. Only ``model`` is required."""

    adapter = "openai"

    def __init__(
        self,
        name: str,
        model: str,
        base_url: str = DEFAULT_BASE_URL,
        api_key_env: str | None = "OPENAI_API_KEY",
        max_concurrency: int = 8,
        temperature: float = 0.0,
        max_tokens: int = 512,
        top_k: int = 3,
        prompt_style: Style = "open",
        json_mode: bool = False,
        image_max_side: int = 1024,
        jpeg_quality: int = 90,
        seed: int | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 5,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        price: Mapping[str, float] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(name)
        _httpx()  # fail now, with the install hint, rather than mid-run
        if max_concurrency < 1:
            raise InvalidArgument(f"max_concurrency must be >= 1, got {max_concurrency!r}")
        if price is not None and not set(price) <= {"input_per_million", "output_per_million"}:
            raise InvalidArgument(
                f"price takes input_per_million and output_per_million, got {sorted(price)}"
            )
        self.api_key: str | None = None
        if api_key_env:
            self.api_key = os.environ.get(api_key_env)
            if not self.api_key:
                raise InvalidArgument(
                    f"model {name!r}: environment variable {api_key_env} is not set "
                    "(set it, or api_key_env: null for a server without keys)"
                )
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.max_concurrency = max_concurrency
        self.batch_size = batch_size or max(16, 4 * max_concurrency)
        self.settings: dict[str, Any] = {
            "temperature": temperature,
            "max_tokens": max_tokens,
            "top_k": top_k,
            "prompt_style": prompt_style,
            "json_mode": json_mode,
            "image_max_side": image_max_side,
            "jpeg_quality": jpeg_quality,
            "seed": seed,
            "extra_body": dict(extra_body or {}),
        }
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.price = dict(price or {})
        self._json_supported = json_mode
        self._ssl: ssl.SSLContext | None = None
        self._random = random.Random(0)  # backoff jitter only; never affects answers

    def identity(self) -> dict[str, Any]:
        return {
            "adapter": self.adapter,
            "model": self.model,
            "base_url": self.base_url,
            **self.settings,
        }

    @property
    def prompt_version(self) -> str:
        return PROMPT_VERSION

    # -- requests -------------------------------------------------------------------------

    def image_parts(self, probe: Probe) -> list[dict[str, Any]]:
        """The probe's images as message parts (encoded once per probe, not per attempt)."""
        s = self.settings
        return [
            {
                "type": "image_url",
                "image_url": {"url": image_data_url(img, s["image_max_side"], s["jpeg_quality"])},
            }
            for img in probe.images
        ]

    def request_body(
        self, probe: Probe, images: list[dict[str, Any]] | None = None
    ) -> tuple[dict[str, Any], str]:
        """The JSON body for one probe, and the prompt text kept with the answer."""
        s = self.settings
        fmt: Format = "json" if self._json_supported else "text"
        prompt = build_prompt(probe, top_k=s["top_k"], style=s["prompt_style"], fmt=fmt)
        content: list[dict[str, Any]] = [{"type": "text", "text": prompt.user}]
        content += images if images is not None else self.image_parts(probe)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": content},
            ],
            "temperature": s["temperature"],
            "max_tokens": s["max_tokens"],
            **s["extra_body"],
        }
        if s["seed"] is not None:
            body["seed"] = s["seed"]
        if self._json_supported:
            body["response_format"] = {"type": "json_object"}
        return body, prompt.as_text()

    def answer(self, probes: Sequence[Probe]) -> list[Answer]:
        coroutine = self._answer_all(probes)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coroutine)
        # called from inside an event loop (a notebook): run ours on a worker thread
        result: list[list[Answer]] = []
        thread = threading.Thread(target=lambda: result.append(asyncio.run(coroutine)))
        thread.start()
        thread.join()
        return result[0]

    async def _answer_all(self, probes: Sequence[Probe]) -> list[Answer]:
        httpx = _httpx()
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        # httpcore's pool scans every connection on each request (quadratic in pool size),
        # so connections are spread over clients of at most CONNECTIONS_PER_CLIENT each
        workers = min(self.max_concurrency, len(probes))
        n_clients = -(-workers // CONNECTIONS_PER_CLIENT)
        if self._ssl is None:  # loading the CA store costs ~25 ms: once per model, not client
            import certifi  # installed with httpx

            self._ssl = ssl.create_default_context(cafile=certifi.where())
        clients = [
            httpx.AsyncClient(
                timeout=self.timeout_s,
                headers=headers,
                verify=self._ssl,
                limits=httpx.Limits(
                    max_connections=CONNECTIONS_PER_CLIENT,
                    max_keepalive_connections=CONNECTIONS_PER_CLIENT,
                ),
            )
            for _ in range(n_clients)
        ]
        answers: list[Answer | None] = [None] * len(probes)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for index in range(len(probes)):
            queue.put_nowait(index)

        async def worker(client: Any) -> None:
            while not queue.empty():
                index = queue.get_nowait()
                answers[index] = await self._answer_one(client, probes[index])

        try:
            await asyncio.gather(
                *(worker(clients[w // CONNECTIONS_PER_CLIENT]) for w in range(workers))
            )
        finally:
            for client in clients:
                await client.aclose()
        return [a for a in answers if a is not None]

    async def _answer_one(self, client: Any, probe: Probe) -> Answer:
        started = time.perf_counter()
        last_error = "no attempt made"
        attempts = 0
        images = await asyncio.to_thread(self.image_parts, probe)  # off the event loop
        while attempts <= self.max_retries:
            attempts += 1
            body, prompt = self.request_body(probe, images)
            attempt_start = time.perf_counter()
            try:
                data = await self._post(client, body)
            except _Retryable as exc:
                last_error = str(exc)
                if attempts > self.max_retries:
                    break
                wait = exc.wait if exc.wait is not None else self._backoff(attempts)
                await asyncio.sleep(min(wait, self.max_backoff_s))
                continue
            except _JsonModeRejected:
                self._json_supported = False  # fall back to free text, at no retry cost
                attempts -= 1
                continue
            except _Fatal as exc:
                return Answer.failed(str(exc), latency_s=time.perf_counter() - started)
            return self._to_answer(
                data,
                prompt,
                time.perf_counter() - attempt_start,
                attempts,
                time.perf_counter() - started,
            )
        return Answer.failed(
            f"{last_error} (gave up after {attempts} attempts)",
            latency_s=time.perf_counter() - started,
        )

    def _backoff(self, attempt: int) -> float:
        base = min(self.max_backoff_s, self.backoff_s * 2.0 ** (attempt - 1))
        return float(base * (0.5 + 0.5 * self._random.random()))

    async def _post(self, client: Any, body: dict[str, Any]) -> dict[str, Any]:
        httpx = _httpx()
        try:
            response = await client.post(f"{self.base_url}/chat/completions", json=body)
        except httpx.TimeoutException:
            raise _Retryable(f"timed out after {self.timeout_s:g} s") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"connection error: {type(exc).__name__}") from None
        status = response.status_code
        if status == 429 or status >= 500:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            raise _Retryable(f"HTTP {status}: {_error_text(response)}", wait)
        if status >= 400:
            text = _error_text(response)
            if status == 400 and "response_format" in body and "response_format" in text:
                raise _JsonModeRejected()
            raise _Fatal(f"HTTP {status}: {text}")
        try:
            data = response.json()
            choices = data["choices"]
        except (ValueError, KeyError, TypeError):
            raise _Retryable("malformed response: not chat-completion JSON") from None
        if not choices or not isinstance(choices, list):
            raise _Retryable("malformed response: empty choices")
        return dict(data)

    def _to_answer(
        self, data: dict[str, Any], prompt: str, latency: float, attempts: int, elapsed: float
    ) -> Answer:
        message = data["choices"][0].get("message") or {}
        text = message.get("content") or ""
        usage = data.get("usage") or {}
        prompt_tokens = usage.get("prompt_tokens")
        completion_tokens = usage.get("completion_tokens")
        cost = None
        if self.price and prompt_tokens is not None and completion_tokens is not None:
            cost = (
                prompt_tokens * self.price.get("input_per_million", 0.0)
                + completion_tokens * self.price.get("output_per_million", 0.0)
            ) / 1e6
        return Answer.from_text(
            text,
            prompt=prompt,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_s=round(latency, 4),
            cost_usd=cost,
            extra={
                "attempts": attempts,
                "elapsed_s": round(elapsed, 4),
                "json_mode": self._json_supported,
            },
        )


class _Fatal(Exception):
    pass


class _JsonModeRejected(Exception):
    pass


def _error_text(response: Any) -> str:
    try:
        data = response.json()
        message = data.get("error", {}).get("message") if isinstance(data, dict) else None
    except ValueError:
        message = None
    return str(message or response.text[:200] or response.reason_phrase)
