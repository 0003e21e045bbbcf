"""A local OpenAI-compatible server with fault injection, for tests and benchmarks.

It serves on the loopback interface:

- ``POST /v1/chat/completions`` (and Azure's ``/openai/deployments/{name}/chat/completions``,
  whose ``api-version`` and ``api-key`` it records), answering with whatever a ``responder``
  function returns for the request;
- the Batch API: ``POST /v1/files`` (multipart upload), ``GET /v1/files/{id}/content``,
  ``POST /v1/batches`` and ``GET /v1/batches/{id}`` (a batch completes ``batch_delay_s`` after
  it is created, its answers made by the same responder).

It can be told to fail the next chat requests in the ways real servers do: 429 with
``Retry-After``, 500, a stall past the client's timeout, a malformed JSON body, or an empty
``choices`` list; and to enforce a rate limit: at most ``max_in_flight`` requests at once,
the others answered 429 with ``Retry-After: retry_after_s``.

    with FakeOpenAIServer(latency_s=0.2) as server:
        server.inject("429", retry_after=0.1)
        ...  # point an adapter at server.base_url
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import itertools
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], str]
FAULTS = ("429", "500", "timeout", "malformed", "empty_choices", "401")


def default_responder(request: dict[str, Any]) -> str:
    """A fixed, well-formed differential (JSON if JSON output was asked for)."""
    if request.get("response_format", {}).get("type") == "json_object":
        return json.dumps(
            {
                "differential": [
                    {"diagnosis": "melanoma", "confidence": 60},
                    {"diagnosis": "nevus", "confidence": 30},
                    {"diagnosis": "seborrheic keratosis", "confidence": 10},
                ],
                "triage": "urgent",
            }
        )
    return (
        "1. Melanoma (60%)\n2. Melanocytic nevus (30%)\n3. Seborrheic keratosis (10%)\n"
        "Triage: urgent"
    )


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops bursts of new connections (the client then
    # waits a second for the SYN retransmit): allow as many as a benchmark opens at once
    request_queue_size = 512


@dataclass
class Fault:
    kind: str
    retry_after: float | None = None
    stall_s: float = 5.0


class FakeOpenAIServer:
    """Context manager running the server in a background thread on ``127.0.0.1``."""

    def __init__(
        self,
        responder: Responder = default_responder,
        latency_s: float = 0.0,
        reject_json_mode: bool = False,
        max_in_flight: int | None = None,
        retry_after_s: float = 0.05,
        batch_delay_s: float = 0.2,
    ) -> None:
        self.responder = responder
        self.latency_s = latency_s
        self.reject_json_mode = reject_json_mode
        self.max_in_flight_allowed = max_in_flight
        self.retry_after_s = retry_after_s
        self.batch_delay_s = batch_delay_s
        self.requests: list[dict[str, Any]] = []  # chat requests answered or failed
        self.headers: list[dict[str, str]] = []  # of chat requests, names in lower case
        self.paths: list[str] = []  # every request line's path (query included)
        self.arrivals: list[float] = []  # monotonic arrival time of each chat request
        self.rate_limited = 0  # 429s sent because of max_in_flight
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._faults: deque[Fault] = deque()
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def inject(
        self, kind: str, times: int = 1, retry_after: float | None = None, stall_s: float = 5.0
    ) -> None:
        """Fail the next ``times`` requests with ``kind`` (one of ``FAULTS``)."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; faults: {', '.join(FAULTS)}")
        with self._lock:
            self._faults.extend(Fault(kind, retry_after, stall_s) for _ in range(times))

    def __enter__(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _completion(self, request: dict[str, Any]) -> dict[str, Any]:
        text = self.responder(request)
        prompt_tokens = sum(
            len(str(m.get("content", ""))) // 4 for m in request.get("messages", [])
        )
        return {
            "id": "chatcmpl-local",
            "object": "chat.completion",
            "created": 0,
            "model": request.get("model"),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": text},
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(text) // 4,
                "total_tokens": prompt_tokens + len(text) // 4,
            },
        }

    # -- the Batch API ---------------------------------------------------------------------

    def _upload(self, headers: Any, raw: bytes) -> dict[str, Any]:
        """A multipart upload (``file`` and ``purpose`` fields), kept in memory."""
        head = f"Content-Type: {headers.get('Content-Type')}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
        fields: dict[str, bytes] = {}
        for part in message.iter_parts():
            payload = part.get_payload(decode=True)
            name = part.get_param("name", header="content-disposition")
            if isinstance(payload, bytes) and isinstance(name, str):
                fields[name] = payload
        data = fields.get("file") or b""
        with self._lock:
            file_id = f"file-{next(self._ids)}"
            self.files[file_id] = data
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": "batch.jsonl",
            "purpose": (fields.get("purpose") or b"batch").decode(),
            "status": "processed",
        }

    def _create_batch(self, request: dict[str, Any]) -> dict[str, Any]:
        lines = self.files[request["input_file_id"]].decode().splitlines()
        outputs: list[dict[str, Any]] = []
        for line in filter(None, lines):
            item = json.loads(line)
            outputs.append(
                {
                    "id": f"batch_req_{len(outputs)}",
                    "custom_id": item["custom_id"],
                    "response": {
                        "status_code": 200,
                        "request_id": "local",
                        "body": self._completion(item["body"]),
                    },
                    "error": None,
                }
            )
        with self._lock:
            batch_id = f"batch_{next(self._ids)}"
            output_id = f"file-{next(self._ids)}"
            self.files[output_id] = "".join(json.dumps(o) + "\n" for o in outputs).encode()
            self.batches[batch_id] = {
                "id": batch_id,
                "object": "batch",
                "endpoint": request["endpoint"],
                "input_file_id": request["input_file_id"],
                "completion_window": request["completion_window"],
                "created_at": int(time.time()),
                "status": "in_progress",
                "request_counts": {"total": len(outputs), "completed": 0, "failed": 0},
                "_ready": time.monotonic() + self.batch_delay_s,
                "_output": output_id,
            }
            return self._batch_status(batch_id)

    def _batch_status(self, batch_id: str) -> dict[str, Any]:
        batch = self.batches[batch_id]
        data = {k: v for k, v in batch.items() if not k.startswith("_")}
        if time.monotonic() >= batch["_ready"]:
            total = batch["request_counts"]["total"]
            data.update(
                status="completed",
                output_file_id=batch["_output"],
                request_counts={"total": total, "completed": total, "failed": 0},
            )
        return data

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # headers and body go out in separate writes; without this, Nagle's
                # algorithm and delayed ACKs add ~40 ms to every response
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:
                return  # keep test output clean

            def _send(
                self,
                status: int,
                body: bytes,
                headers: dict[str, str] | None = None,
                content_type: str = "application/json",
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                with server._lock:
                    server.paths.append(self.path)
                path = self.path.split("?", 1)[0]
                if path.endswith("/files"):
                    self._send_json(200, server._upload(self.headers, raw))
                    return
                if path.endswith("/batches"):
                    self._send_json(200, server._create_batch(json.loads(raw)))
                    return
                if not path.endswith("/chat/completions"):
                    self._send(404, b'{"error": {"message": "not found"}}')
                    return
                request = json.loads(raw)
                with server._lock:
                    server.requests.append(request)
                    server.headers.append({k.lower(): v for k, v in self.headers.items()})
                    server.arrivals.append(time.monotonic())
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    over = (
                        server.max_in_flight_allowed is not None
                        and server.in_flight > server.max_in_flight_allowed
                    )
                    if over:
                        server.rate_limited += 1
                try:
                    if over:
                        self._send(
                            429,
                            b'{"error": {"message": "too many requests at once"}}',
                            {"Retry-After": f"{server.retry_after_s:g}"},
                        )
                    else:
                        self._respond(request)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def do_GET(self) -> None:
                with server._lock:
                    server.paths.append(self.path)
                path = self.path.split("?", 1)[0]
                batch = re.fullmatch(r".*/batches/([\w-]+)", path)
                content = re.fullmatch(r".*/files/([\w-]+)/content", path)
                if batch and batch.group(1) in server.batches:
                    self._send_json(200, server._batch_status(batch.group(1)))
                elif content and content.group(1) in server.files:
                    self._send(
                        200, server.files[content.group(1)], content_type="application/jsonl"
                    )
                else:
                    self._send(404, b'{"error": {"message": "not found"}}')

            def _send_json(self, status: int, data: dict[str, Any]) -> None:
                self._send(status, json.dumps(data).encode())

            def _respond(self, request: dict[str, Any]) -> None:
                fault = server._next_fault()
                if server.latency_s:
                    time.sleep(server.latency_s)
                if fault is not None:
                    self._fault(fault, self.headers.get("Authorization", ""))
                    return
                if server.reject_json_mode and "response_format" in request:
                    self._send(
                        400,
                        b'{"error": {"message": "response_format is not supported by this model"}}',
                    )
                    return
                self._send(200, json.dumps(server._completion(request)).encode())

            def _fault(self, fault: Fault, authorization: str) -> None:
                if fault.kind == "401":  # like OpenAI's, the message quotes the key
                    key = authorization.removeprefix("Bearer ")
                    message = {"error": {"message": f"Incorrect API key provided: {key}."}}
                    self._send(401, json.dumps(message).encode())
                elif fault.kind == "429":
                    headers = (
                        {}
                        if fault.retry_after is None
                        else {"Retry-After": f"{fault.retry_after:g}"}
                    )
                    self._send(429, b'{"error": {"message": "rate limited"}}', headers)
                elif fault.kind == "500":
                    self._send(500, b'{"error": {"message": "internal error"}}')
                elif fault.kind == "timeout":
                    time.sleep(fault.stall_s)
                    self._send(504, b'{"error": {"message": "too late"}}')
                elif fault.kind == "malformed":
                    self._send(200, b'{"choices": [{"message": ')
                else:
                    self._send(200, b'{"id": "x", "choices": [], "usage": {}}')

        return Handler


def main() -> None:
    """Serve until interrupted: ``python -m derm_stress.testing.openai_server``."""
    import argparse

    parser = argparse.ArgumentParser(description="Local OpenAI-compatible test server.")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per response")
    args = parser.parse_args()
    with FakeOpenAIServer(latency_s=args.latency) as server:
        print(server.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
