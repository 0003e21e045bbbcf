"""The OpenAI Batch API for the ``openai`` adapter (``mode: batch``): half the price of the same
requests made one by one, answered within 24 hours.

Each submission of probes becomes a JSONL file of chat-completion requests, uploaded through
the files endpoint and submitted as one batch, which is then polled every ``batch_poll_s``
seconds; its answers go back to the harness (and into the store) when it completes. A
request's ``custom_id`` is a hash of its body, and the batch holding it is recorded in the
run's results store (its ``batches`` table, through the journal the harness hands the model)
before polling starts: a run interrupted while its batches are pending resumes polling them
instead of paying for them again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from derm_stress.models.base import Answer, BatchJournal
from derm_stress.models.journal import SqliteBatchJournal
from derm_stress.perturb.condition import Probe
from derm_stress.schema import ResultStatus

if TYPE_CHECKING:
    from derm_stress.models.openai_chat import OpenAIChatModel

TERMINAL = ("completed", "failed", "expired", "cancelled")


class BatchRunner:
    """Answers submissions of probes through batches, for one model, on its loop."""

    def __init__(self, model: OpenAIChatModel, journal: BatchJournal | None) -> None:
        self.model = model
        self.journal: BatchJournal = (
            journal if journal is not None else SqliteBatchJournal.in_memory()
        )
        self._outputs: dict[str, dict[str, dict[str, Any]]] = {}  # batch id -> custom id -> line

    async def answer(self, probes: Sequence[Probe]) -> list[Answer]:
        model = self.model
        requests: dict[str, dict[str, Any]] = {}
        ids, prompts = [], []
        for probe in probes:
            images = await asyncio.to_thread(model.image_parts, probe)
            body, prompt = model.request_body(probe, images)
            custom_id = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:40]
            requests[custom_id] = body
            ids.append(custom_id)
            prompts.append(prompt)
        unique = list(requests)
        results: dict[str, dict[str, Any]] = {}
        try:
            pending = self.journal.lookup(unique)
            for batch_id in sorted(set(pending.values())):  # resumed: poll, do not resubmit
                output = await self._wait_for(batch_id)
                if output is not None:
                    results.update(
                        {c: output[c] for c, b in pending.items() if b == batch_id and c in output}
                    )
            todo = [c for c in unique if c not in results]
            if todo:
                batch_id = await self._submit(todo, requests)
                output = await self._wait_for(batch_id)
                results.update({c: output[c] for c in todo if output and c in output})
        except Exception as exc:  # the API refused or failed: every probe of it fails
            text = model.redact(f"batch API: {type(exc).__name__}: {exc}")
            return [Answer.failed(text) for _ in probes]
        answers = [self._to_answer(c, results.get(c), p) for c, p in zip(ids, prompts, strict=True)]
        # a failed request is submitted again next time, not read back from its old batch
        self.journal.forget(
            [c for c, a in zip(ids, answers, strict=True) if a.status == ResultStatus.ERROR]
        )
        return answers

    async def _submit(self, todo: list[str], requests: dict[str, dict[str, Any]]) -> str:
        client = self.model.client()
        url = "/chat/completions" if self.model.azure else "/v1/chat/completions"
        lines = [
            json.dumps({"custom_id": c, "method": "POST", "url": url, "body": requests[c]})
            for c in todo
        ]
        data = ("\n".join(lines) + "\n").encode()
        upload = await client.files.create(
            file=(f"derm-stress-{self.model.name}.jsonl", data), purpose="batch"
        )
        batch = await client.batches.create(
            input_file_id=upload.id, endpoint=url, completion_window="24h"
        )
        self.journal.record(self.model.name, batch.id, todo)  # before any wait
        return str(batch.id)

    async def _wait_for(self, batch_id: str) -> dict[str, dict[str, Any]] | None:
        """The output lines of ``batch_id`` by custom id once it completes; ``None`` if it
        ended without output (failed, expired, cancelled: its requests are resubmitted)."""
        if batch_id in self._outputs:
            return self._outputs[batch_id]
        client = self.model.client()
        while True:
            batch = await client.batches.retrieve(batch_id)
            if batch.status in TERMINAL:
                break
            await asyncio.sleep(self.model.batch_poll_s)
        output: dict[str, dict[str, Any]] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            content = await client.files.content(file_id)
            for line in content.text.splitlines():
                if line.strip():
                    record = json.loads(line)
                    record["_batch_id"] = batch_id
                    output[str(record.get("custom_id"))] = record
        if batch.status != "completed" and not output:
            return None
        self._outputs[batch_id] = output
        return output

    def _to_answer(self, custom_id: str, record: dict[str, Any] | None, prompt: str) -> Answer:
        if record is None:
            return Answer.failed(f"batch API: no result for request {custom_id}")
        response = record.get("response") or {}
        status = response.get("status_code")
        body = response.get("body") or {}
        if status != 200:
            error = record.get("error") or body.get("error") or {}
            message = error.get("message") if isinstance(error, dict) else str(error)
            text = f"batch API: HTTP {status}: {message or 'no answer'}"
            return Answer.failed(self.model.redact(text))
        from derm_stress.models.openai_chat import _Malformed, read_completion

        try:
            text, prompt_tokens, completion_tokens = read_completion(body)
        except _Malformed as exc:
            return Answer.failed(f"batch API: {exc}")
        cost = None
        if prompt_tokens is not None and completion_tokens is not None:
            cost = self.model.cost(prompt_tokens, completion_tokens)
        return Answer.from_text(
            text,
            prompt=prompt,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost,
            extra={"batch_id": record.get("_batch_id"), "mode": "batch"},
        )
