"""Adapter for the OpenAI chat-completions API on the official ``openai`` SDK: OpenAI itself,
Azure OpenAI deployments, and every server that speaks the API (vLLM, Ollama, llama.cpp
server, LM Studio: set ``base_url``).

The SDK does the HTTP work: connection pooling, timeouts, and retries of 408/409/429/5xx,
timeouts and connection errors with exponential backoff, honouring ``Retry-After``. On top
of it this module adds only what the SDK does not do:

- one ``AsyncOpenAI`` client and one event loop per model for the whole run, with requests
  submitted one by one (``AsyncModel``), so the harness keeps ``max_concurrency`` in flight;
- client-side ``rpm`` / ``tpm`` pacing and a concurrency that halves on 429 and recovers
  (``limits.py``), and the retries shown in the progress bar (``activity``);
- retrying malformed answers (no JSON, no choices), at most ``max_retries`` times and never
  more than ``MAX_REPEATS`` times in a row for the same fault;
- falling back from JSON mode to free text when a server rejects ``response_format``;
- the cost from a price table; the Batch API (``mode: batch``, ``openai_batch.py``).

The API key is read from the environment variable named by ``api_key_env`` when the model
is built; it is never part of the identity, the store, the run manifest or the report.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import io
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from derm_stress.errors import InvalidArgument
from derm_stress.models.base import Activity, Answer, AsyncModel, BatchJournal
from derm_stress.models.limits import AdaptiveLimit, Pacer
from derm_stress.models.tokens import Detail, cost_usd, image_tokens, scaled_size, text_tokens
from derm_stress.perturb.condition import Probe
from derm_stress.prompts import PROMPT_VERSION, Format, Style, build_prompt

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MODES = ("chat", "batch")
#: the same malformed answer this many times in a row for one probe is not retried again
MAX_REPEATS = 3
#: the Batch API's price relative to synchronous calls (OpenAI: "50% cost discount")
BATCH_DISCOUNT = 0.5
PRICE_KEYS = {"input_per_million", "output_per_million"}


def image_data_url(img: np.ndarray, max_side: int, quality: int) -> str:
    """A deterministic JPEG data URL of ``img``, downscaled to ``max_side`` if larger."""
    from PIL import Image

    pil = Image.fromarray(img)
    if max(pil.size) > max_side:
        pil = pil.resize(scaled_size(pil.width, pil.height, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


@dataclass
class _Call:
    """One SDK call as the transport sees it: its attempts, the last failure, and whether
    it holds a slot of the concurrency limit (given up on a 429 until its retry)."""

    attempts: int = 0
    failure: str | None = None
    epoch: int = 0
    holds_slot: bool = False


_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("derm_call", default=None)


def _observed_transport(model: OpenAIChatModel) -> Any:
    """An httpx2 transport that watches every attempt the SDK makes: counts them per call,
    tells the concurrency limit about 429s and the progress bar about retries."""
    import httpx2

    class Observed(httpx2.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            call = _CALL.get()
            if call is not None:
                call.attempts += 1
                if call.attempts > 1:
                    model._retried(call.failure or "retry")
                if not call.holds_slot:  # a retry after a 429 waits for the lowered limit
                    call.epoch = await model.limit.acquire()
                    call.holds_slot = True
            try:
                response = await super().handle_async_request(request)
            except httpx2.TimeoutException:
                if call is not None:
                    call.failure = f"timed out after {model.timeout_s or 0:g} s"
                raise
            except httpx2.TransportError as exc:
                if call is not None:
                    call.failure = f"connection error: {type(exc).__name__}"
                raise
            status = response.status_code
            if call is not None and (status in (408, 409, 429) or status >= 500):
                call.failure = f"HTTP {status}"
                if status == 429:  # back off: this request's slot too, while it waits
                    model.limit.rate_limited(call.epoch)
                    model.limit.release()
                    call.holds_slot = False
            return response

    # the SDK's own defaults for connections (it uses these when given no client)
    return Observed(limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100))


def read_completion(data: Any) -> tuple[str, int | None, int | None]:
    """The answer text and token usage of a chat-completion JSON body; ``_Malformed`` when it
    is not one (no choices, no message)."""
    try:
        choices = data["choices"]
        message = choices[0]["message"] if choices else None
    except (KeyError, IndexError, TypeError):
        raise _Malformed("malformed response: not chat-completion JSON") from None
    if not isinstance(message, dict):
        raise _Malformed("malformed response: empty choices")
    usage = data.get("usage") or {}
    return (
        str(message.get("content") or ""),
        usage.get("prompt_tokens"),
        usage.get("completion_tokens"),
    )


class _Malformed(Exception):
    pass


class _JsonModeRejected(Exception):
    pass


class OpenAIChatModel(AsyncModel):
    """An OpenAI-style chat model. Only ``model`` is required (``deployment`` on Azure)."""

    adapter = "openai"

    def __init__(
        self,
        name: str,
        model: str | None = None,
        base_url: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        azure_endpoint: str | None = None,
        api_version: str | None = None,
        deployment: str | None = None,
        mode: Literal["chat", "batch"] = "chat",
        max_concurrency: int = 8,
        rpm: float | None = None,
        tpm: float | None = None,
        temperature: float = 0.0,
        max_tokens: int = 512,
        top_k: int = 3,
        prompt_style: Style = "open",
        json_mode: bool = False,
        image_max_side: int = 1024,
        jpeg_quality: int = 90,
        image_detail: Detail | None = None,
        seed: int | None = None,
        timeout_s: float | None = 60.0,
        max_retries: int = 5,
        price: Mapping[str, float] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        batch_size: int | None = None,
        batch_poll_s: float = 30.0,
        batches_in_flight: int = 2,
    ) -> None:
        super().__init__(name)
        if max_concurrency < 1:
            raise InvalidArgument(f"max_concurrency must be >= 1, got {max_concurrency!r}")
        if mode not in MODES:
            raise InvalidArgument(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if price is not None and not set(price) <= PRICE_KEYS:
            raise InvalidArgument(
                f"price takes input_per_million and output_per_million, got {sorted(price)}"
            )
        if image_detail not in (None, "low", "high", "auto"):
            raise InvalidArgument(f"image_detail must be low, high or auto, got {image_detail!r}")
        if azure_endpoint is None and (api_version is not None or deployment is not None):
            raise InvalidArgument("api_version and deployment are for Azure: set azure_endpoint")
        if azure_endpoint is not None:
            if base_url is not None:
                raise InvalidArgument("give azure_endpoint or base_url, not both")
            if not api_version or not deployment:
                raise InvalidArgument("an Azure model needs api_version and deployment")
            model = model or deployment
        if not model:
            raise InvalidArgument(f"model {name!r}: set model (the name the API knows)")
        if max_retries < 0 or (timeout_s is not None and timeout_s <= 0) or batch_poll_s <= 0:
            raise InvalidArgument(
                "max_retries must be >= 0, timeout_s (or null) and batch_poll_s positive; got "
                f"{max_retries!r}, {timeout_s!r}, {batch_poll_s!r}"
            )
        self._api_key: str | None = None
        if api_key_env:
            self._api_key = os.environ.get(api_key_env)
            if not self._api_key:
                raise InvalidArgument(
                    f"model {name!r}: environment variable {api_key_env} is not set "
                    "(set it, or api_key_env: null for a server without keys)"
                )
        self.model = model
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.azure: dict[str, str] | None = None
        if azure_endpoint and api_version and deployment:
            self.azure = {
                "azure_endpoint": azure_endpoint.rstrip("/"),
                "api_version": api_version,
                "deployment": deployment,
            }
        self.mode = mode
        self.max_concurrency = max_concurrency
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
        if image_detail is not None:  # only when set: older stores keep their identity
            self.settings["image_detail"] = image_detail
        if batches_in_flight < 1:
            raise InvalidArgument(f"batches_in_flight must be >= 1, got {batches_in_flight!r}")
        self.batches_in_flight = batches_in_flight
        if mode == "batch":
            self.batch_size = batch_size or 500
            self.submit_size = self.batch_size
        else:
            self.batch_size = batch_size or max(16, 4 * max_concurrency)
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.batch_poll_s = batch_poll_s
        self.price = dict(price or {})
        self.pacer = Pacer(rpm, tpm)
        self.limit = AdaptiveLimit(max_concurrency)
        self._activity = Activity(concurrency=max_concurrency)
        self._json_supported = json_mode
        self._client: Any = None
        self._journal: BatchJournal | None = None
        self._batches: Any = None

    # -- what the harness sees --------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        where = (
            {"azure_endpoint": self.azure["azure_endpoint"], "deployment":
             self.azure["deployment"], "api_version": self.azure["api_version"]}
            if self.azure else {"base_url": self.base_url}
        )  # fmt: skip
        return {"adapter": self.adapter, "model": self.model, **where, **self.settings}

    @property
    def prompt_version(self) -> str:
        return PROMPT_VERSION

    @property
    def in_flight(self) -> int:
        if self.mode == "batch":  # each holds its probes' photos until it completes
            return self.batches_in_flight
        return super().in_flight

    def activity(self) -> Activity:
        self._activity.concurrency = self.limit.limit
        return self._activity

    def use_journal(self, journal: BatchJournal) -> None:
        self._journal = journal

    def redact(self, text: str) -> str:
        """``text`` without the API key (servers quote a wrong key in their messages)."""
        return text.replace(self._api_key, "[API key]") if self._api_key else text

    def _retried(self, reason: str) -> None:
        self._activity.retries += 1
        self._activity.last_retry = reason

    # -- the client ---------------------------------------------------------------------------

    def client(self) -> Any:
        """The model's ``AsyncOpenAI`` (or ``AsyncAzureOpenAI``) client, made on first use, on
        the model's loop."""
        if self._client is None:
            import openai

            http = openai.DefaultAsyncHttpxClient(transport=_observed_transport(self))
            common: dict[str, Any] = {
                "api_key": self._api_key or "no-key",  # keyless local servers ignore it
                "timeout": self.timeout_s,
                "max_retries": self.max_retries,
                "http_client": http,
            }
            if self.azure:
                self._client = openai.AsyncAzureOpenAI(
                    azure_endpoint=self.azure["azure_endpoint"],
                    azure_deployment=self.azure["deployment"],
                    api_version=self.azure["api_version"],
                    **common,
                )
            else:
                self._client = openai.AsyncOpenAI(base_url=self.base_url, **common)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        self._batches = None

    # -- requests -------------------------------------------------------------------------------

    def image_parts(self, probe: Probe) -> list[dict[str, Any]]:
        """The probe's images as message parts (encoded once per probe, not per attempt)."""
        s = self.settings
        parts = []
        for img in probe.images:
            url: dict[str, Any] = {
                "url": image_data_url(img, s["image_max_side"], s["jpeg_quality"])
            }
            if "image_detail" in s:
                url["detail"] = s["image_detail"]
            parts.append({"type": "image_url", "image_url": url})
        return parts

    def request_body(
        self, probe: Probe, images: list[dict[str, Any]] | None = None
    ) -> tuple[dict[str, Any], str]:
        """The chat-completions parameters for one probe, and the prompt text kept with the
        answer. ``extra_body`` settings are merged in, as the SDK would send them."""
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

    def estimate_tokens(self, prompt_text: str, image_sizes: Sequence[tuple[int, int]]) -> int:
        """Input tokens of a request with this prompt and images (as sent: downscaled to
        ``image_max_side``), by ``tokens.py``'s rules."""
        side = self.settings["image_max_side"]
        detail = self.settings.get("image_detail")
        return text_tokens(prompt_text) + sum(
            image_tokens(*scaled_size(w, h, side), detail) for w, h in image_sizes
        )

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float | None:
        """USD at the price table (half price in batch mode); ``None`` without a table."""
        if not self.price:
            return None
        discount = BATCH_DISCOUNT if self.mode == "batch" else 1.0
        return cost_usd(prompt_tokens, completion_tokens, self.price, discount)

    async def answer_async(self, probes: Sequence[Probe]) -> list[Answer]:
        if self.mode == "batch":
            from derm_stress.models.openai_batch import BatchRunner

            if self._batches is None:
                self._batches = BatchRunner(self, self._journal)
            answers: list[Answer] = await self._batches.answer(probes)
            return answers
        if len(probes) == 1:
            return [await self._answer_one(probes[0])]
        return list(await asyncio.gather(*(self._answer_one(p) for p in probes)))

    async def _answer_one(self, probe: Probe) -> Answer:
        started = time.perf_counter()
        images = await asyncio.to_thread(self.image_parts, probe)  # off the event loop
        body, prompt = self.request_body(probe, images)
        tokens = self.estimate_tokens(prompt, [img.shape[1::-1] for img in probe.images])
        tokens += self.settings["max_tokens"]  # what rate limiters count for a request
        attempts, repeats, last = 0, 0, ""
        while True:
            call = _Call()
            try:
                completion, latency = await self._create(call, body, tokens)
            except _JsonModeRejected:
                self._json_supported = False  # fall back to free text, at no retry cost
                body, prompt = self.request_body(probe, images)
                attempts += call.attempts
                continue
            except _Malformed as exc:
                attempts += call.attempts
                repeats = repeats + 1 if str(exc) == last else 1
                last = str(exc)
                if attempts > self.max_retries or repeats >= MAX_REPEATS:
                    return Answer.failed(
                        f"{last} (gave up after {attempts} attempts)",
                        latency_s=time.perf_counter() - started,
                    )
                self._retried(last)
                continue
            except Exception as exc:  # the SDK gave up: an error answer, retried on resume
                attempts += call.attempts
                text = self.redact(_error_text(exc, call, attempts))
                return Answer.failed(text, latency_s=time.perf_counter() - started)
            attempts += call.attempts
            self.limit.succeeded()
            return self._to_answer(
                completion, prompt, latency, attempts, time.perf_counter() - started
            )

    async def _create(
        self, call: _Call, body: dict[str, Any], tokens: int
    ) -> tuple[tuple[str, int | None, int | None], float]:
        import openai

        call.epoch = await self.limit.acquire()
        call.holds_slot = True
        context = _CALL.set(call)
        try:
            await self.pacer.wait(tokens)
            start = time.perf_counter()
            try:
                # the client's own POST (retries, timeouts, auth, Azure paths), with the body
                # built here and the JSON read as a dict: the SDK's per-request walk of the
                # parameter types and its response model (together a third of its CPU time
                # per request) are skipped
                completion = await self.client().post("/chat/completions", cast_to=dict, body=body)
            except openai.BadRequestError as exc:
                if "response_format" in body and "response_format" in str(exc.message):
                    raise _JsonModeRejected() from None
                raise
            except (openai.APIResponseValidationError, ValueError):
                raise _Malformed("malformed response: not chat-completion JSON") from None
            latency = time.perf_counter() - start
        finally:
            _CALL.reset(context)
            if call.holds_slot:
                self.limit.release()
        return read_completion(completion), latency

    def _to_answer(
        self,
        completion: tuple[str, int | None, int | None],
        prompt: str,
        latency: float,
        attempts: int,
        elapsed: float,
    ) -> Answer:
        text, prompt_tokens, completion_tokens = completion
        cost = None
        if prompt_tokens is not None and completion_tokens is not None:
            cost = self.cost(prompt_tokens, completion_tokens)
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


def _error_text(exc: Exception, call: _Call, attempts: int) -> str:
    """One line for an error the SDK gave up on: the HTTP status and the server's message,
    or the transport failure, and how many attempts were made."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        body = exc.body
        message = None
        if isinstance(body, dict):
            inner = body.get("error", body)
            message = inner.get("message") if isinstance(inner, dict) else None
        text = f"HTTP {exc.status_code}: {message or exc.response.reason_phrase}"
    elif isinstance(exc, openai.APIConnectionError):
        text = call.failure or "connection error"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return f"{text} (gave up after {max(attempts, 1)} attempts)"
