"""A real HTTP server speaking the OpenAI chat-completions and (raw-prompt) completions protocol,
with scripted answers and injected faults, bound to 127.0.0.1. Tests, benchmarks and users' dry
runs point the real `openai-compatible` adapter at it: the answers are scripted, the machinery is
not. A responder may script token log-probabilities too (`ScriptedReply`); they are sent in the
shape of the endpoint asked (`logprobs`/`top_logprobs`), cut to the number requested.

Faults: "429" (with Retry-After), "500", "timeout" (no answer for `hang_seconds`), "reset"
(connection closed without a response), "truncated" (body cut short), "nonjson" (a 200 with a
non-JSON body), "malformed" (JSON without choices).
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ScriptedReply:
    """An answer with, optionally, the top log-probabilities at each generated position
    (token -> logprob, most likely first). Sent only when the request asks for logprobs."""

    text: str
    top_logprobs: list[dict[str, float]] | None = None


Responder = Callable[[dict[str, Any]], "str | ScriptedReply"]
FaultPlan = Callable[[int, dict[str, Any]], str | None]

FAULTS = ("429", "500", "timeout", "reset", "truncated", "nonjson", "malformed")


def echo_responder(body: dict[str, Any]) -> str:
    if "prompt" in body:
        return f"echo: {body['prompt']}"
    msgs = body.get("messages") or [{}]
    return f"echo: {msgs[-1].get('content', '')}"


def _logprobs_payload(
    reply: ScriptedReply, body: dict[str, Any], chat: bool
) -> dict[str, Any] | None:
    """The `logprobs` field of a choice, in the endpoint's shape, or None when not asked or
    not scripted."""
    if not reply.top_logprobs:
        return None
    if chat:
        if not body.get("logprobs"):
            return None
        n = int(body.get("top_logprobs") or 0)
        content = []
        for pos in reply.top_logprobs:
            ranked = sorted(pos.items(), key=lambda kv: -kv[1])
            token, lp = ranked[0]
            content.append(
                {
                    "token": token,
                    "logprob": lp,
                    "top_logprobs": [{"token": t, "logprob": v} for t, v in ranked[:n]],
                }
            )
        return {"content": content}
    if body.get("logprobs") is None:
        return None
    n = int(body["logprobs"])
    ranked_positions = [sorted(p.items(), key=lambda kv: -kv[1]) for p in reply.top_logprobs]
    return {
        "tokens": [r[0][0] for r in ranked_positions],
        "token_logprobs": [r[0][1] for r in ranked_positions],
        "top_logprobs": [dict(r[:n]) for r in ranked_positions],
    }


def random_faults(rate: float, seed: int = 0, kinds: tuple[str, ...] = FAULTS) -> FaultPlan:
    """Fail a share `rate` of requests with a fault drawn from `kinds`, reproducibly."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def plan(n: int, body: dict[str, Any]) -> str | None:
        with lock:
            return rng.choice(kinds) if rng.random() < rate else None

    return plan


def fail_first(n_failures: int, kind: str) -> FaultPlan:
    """The first `n_failures` requests fail with `kind`, the rest succeed."""
    return lambda n, body: kind if n < n_failures else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # listen() backlog: the default 5 drops bursts of connections

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that closes its kept-alive connection is normal, not a traceback on
        stderr; anything else is still printed."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class ScriptedOpenAIServer:
    """`with ScriptedOpenAIServer(responder) as srv:` then use `srv.base_url`."""

    def __init__(
        self,
        responder: Responder = echo_responder,
        *,
        delay: float = 0.0,
        faults: FaultPlan | None = None,
        retry_after: float = 0.1,
        hang_seconds: float = 5.0,
        api_key: str | None = None,
        logprobs: bool = True,
    ) -> None:
        self.responder = responder
        self.delay = delay
        self.faults = faults
        self.retry_after = retry_after
        self.hang_seconds = hang_seconds
        self.api_key = api_key
        # False: behave like an endpoint that ignores logprobs requests (answers without them).
        self.logprobs = logprobs
        self.requests = 0
        self.completed = 0
        self.fault_counts: dict[str, int] = {}
        self.bodies: list[dict[str, Any]] = []
        # The request path and the exact bytes of each body, as received: golden tests compare
        # what went over the wire.
        self.paths: list[str] = []
        self.raw_bodies: list[bytes] = []
        self.auth_headers: list[str | None] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> ScriptedOpenAIServer:
        handler = self._make_handler()
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ScriptedOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; without TCP_NODELAY the body waits
            # for the client's delayed ACK (~40 ms on Linux) and latency figures lie.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _send(
                self,
                status: int,
                payload: bytes,
                headers: dict[str, str] | None = None,
                declared_length: int | None = None,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(declared_length or len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, json.dumps({"data": [{"id": "scripted"}]}).encode())
                else:
                    self._send(404, b'{"error": "not found"}')

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                path = self.path.rstrip("/")
                chat = path.endswith("/chat/completions")
                if not chat and not path.endswith("/completions"):
                    self._send(404, b'{"error": "not found"}')
                    return
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    self._send(400, b'{"error": "bad json"}')
                    return
                with server._lock:
                    n = server.requests
                    server.requests += 1
                    server.bodies.append(body)
                    server.paths.append(path)
                    server.raw_bodies.append(raw)
                    server.auth_headers.append(self.headers.get("Authorization"))
                if (
                    server.api_key
                    and self.headers.get("Authorization") != f"Bearer {server.api_key}"
                ):
                    self._send(401, b'{"error": "bad key"}')
                    return
                fault = server.faults(n, body) if server.faults else None
                if fault:
                    with server._lock:
                        server.fault_counts[fault] = server.fault_counts.get(fault, 0) + 1
                    self._fault(fault)
                    return
                if server.delay:
                    time.sleep(server.delay)
                answer = server.responder(body)
                reply = answer if isinstance(answer, ScriptedReply) else ScriptedReply(answer)
                text = reply.text
                choice: dict[str, Any] = {"index": 0, "finish_reason": "stop"}
                if chat:
                    choice["message"] = {"role": "assistant", "content": text}
                else:
                    choice["text"] = text
                choice["logprobs"] = (
                    _logprobs_payload(reply, body, chat) if server.logprobs else None
                )
                payload = {
                    "id": f"{'chatcmpl' if chat else 'cmpl'}-{n}",
                    "object": "chat.completion" if chat else "text_completion",
                    "model": body.get("model"),
                    "choices": [choice],
                    "usage": {"prompt_tokens": 10, "completion_tokens": max(1, len(text) // 4)},
                }
                self._send(200, json.dumps(payload).encode())
                with server._lock:
                    server.completed += 1

            def _fault(self, fault: str) -> None:
                if fault == "429":
                    self._send(
                        429, b'{"error": "rate limited"}', {"Retry-After": str(server.retry_after)}
                    )
                elif fault == "500":
                    self._send(500, b'{"error": "internal"}')
                elif fault == "timeout":
                    time.sleep(server.hang_seconds)
                    self.close_connection = True
                elif fault == "reset":
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
                    self.close_connection = True
                elif fault == "truncated":
                    payload = b'{"choices": [{"message": {"content": "cut'
                    self._send(200, payload, declared_length=len(payload) + 100)
                    self.close_connection = True
                elif fault == "nonjson":
                    self._send(200, b"<html>gateway error</html>")
                elif fault == "malformed":
                    self._send(200, b'{"object": "chat.completion", "choices": []}')
                elif fault == "echo_auth":  # as some proxies do: the credentials in the error
                    auth = self.headers.get("Authorization")
                    message = {"error": {"message": f"invalid request (Authorization: {auth})"}}
                    self._send(400, json.dumps(message).encode())
                else:
                    raise ValueError(f"unknown fault {fault}")

        return Handler


def main(argv: list[str] | None = None) -> None:
    """`python -m safeval.testing --delay 0.1`: serve echo answers on loopback in
    a process of its own (benchmarks use it so the server does not share the client's GIL) and
    print the base URL on the first line of stdout."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args(argv)
    with ScriptedOpenAIServer(delay=args.delay) as srv:
        print(srv.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
