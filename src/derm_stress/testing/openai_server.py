"""A local OpenAI-compatible chat server with fault injection, for tests and benchmarks.

It serves ``POST /v1/chat/completions`` on the loopback interface, answers with whatever a
``responder`` function returns for the request, and can be told to fail the next requests
in the ways real servers do: 429 with ``Retry-After``, 500, a stall past the client's
timeout, a malformed JSON body, or an empty ``choices`` list.

    with FakeOpenAIServer(latency_s=0.2) as server:
        server.inject("429", retry_after=0.1)
        ...  # point an adapter at server.base_url
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], str]
FAULTS = ("429", "500", "timeout", "malformed", "empty_choices")


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
    ) -> None:
        self.responder = responder
        self.latency_s = latency_s
        self.reject_json_mode = reject_json_mode
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
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
                self, status: int, body: bytes, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                if not self.path.endswith("/chat/completions"):
                    self._send(404, b'{"error": {"message": "not found"}}')
                    return
                request = json.loads(raw)
                with server._lock:
                    server.requests.append(request)
                    server.headers.append(dict(self.headers))
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._respond(request)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _respond(self, request: dict[str, Any]) -> None:
                fault = server._next_fault()
                if server.latency_s:
                    time.sleep(server.latency_s)
                if fault is not None:
                    self._fault(fault)
                    return
                if server.reject_json_mode and "response_format" in request:
                    self._send(
                        400,
                        b'{"error": {"message": "response_format is not supported by this model"}}',
                    )
                    return
                text = server.responder(request)
                prompt_tokens = sum(
                    len(str(m.get("content", ""))) // 4 for m in request.get("messages", [])
                )
                body = {
                    "id": "chatcmpl-local",
                    "object": "chat.completion",
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
                self._send(200, json.dumps(body).encode())

            def _fault(self, fault: Fault) -> None:
                if fault.kind == "429":
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
