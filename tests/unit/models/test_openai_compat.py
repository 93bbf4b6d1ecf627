"""The openai-compatible adapter against a real loopback HTTP server."""

from __future__ import annotations

import asyncio
import time

from safeval.models.base import get_model
from safeval.models.openai_compat import OpenAICompatModel
from safeval.testing import ScriptedOpenAIServer
from safeval.testing.openai_server import fail_first
from safeval.types import GenerateConfig, Message

MSGS = [Message(role="user", content="hello")]
CFG = GenerateConfig(max_tokens=16)


def ask(srv: ScriptedOpenAIServer, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("backoff_initial", 0.01)
    kw.setdefault("backoff_max", 0.05)

    async def go():  # type: ignore[no-untyped-def]
        m = get_model("openai-compatible/scripted", base_url=srv.base_url, **kw)
        try:
            return await m.generate(MSGS, CFG)
        finally:
            await m.aclose()

    return asyncio.run(go())


def test_answer_text_usage_and_request_body() -> None:
    with ScriptedOpenAIServer() as srv:
        gen = ask(srv)
        assert gen.ok and gen.text == "echo: hello" and gen.finish_reason == "stop"
        assert gen.usage is not None and gen.usage.input_tokens == 10
        body = srv.bodies[0]
        assert body["model"] == "scripted" and body["max_tokens"] == 16
        assert body["messages"] == [{"role": "user", "content": "hello"}]


def test_api_key_sent_as_bearer_and_taken_from_env(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SAFEVAL_API_KEY", "sk-from-env")
    with ScriptedOpenAIServer(api_key="sk-from-env") as srv:
        assert ask(srv).ok
        assert srv.auth_headers == ["Bearer sk-from-env"]


def test_wrong_key_is_an_error_without_retry() -> None:
    with ScriptedOpenAIServer(api_key="right") as srv:
        gen = ask(srv, api_key="wrong")
        assert not gen.ok and "401" in (gen.error or "")
        assert srv.requests == 1 and gen.text == ""


def test_429_waits_for_retry_after_then_succeeds() -> None:
    with ScriptedOpenAIServer(faults=fail_first(2, "429"), retry_after=0.4) as srv:
        t = time.monotonic()
        gen = ask(srv)
        elapsed = time.monotonic() - t
        assert gen.ok and gen.attempts == 3 and srv.requests == 3
        assert elapsed >= 0.8, f"Retry-After of 0.4s twice was not honoured ({elapsed:.2f}s)"


def test_500_is_retried() -> None:
    with ScriptedOpenAIServer(faults=fail_first(1, "500")) as srv:
        gen = ask(srv)
        assert gen.ok and gen.attempts == 2


def test_persistent_failure_ends_as_error_after_bounded_retries() -> None:
    with ScriptedOpenAIServer(faults=fail_first(100, "500")) as srv:
        gen = ask(srv, max_retries=3)
        assert not gen.ok and "500" in (gen.error or "")
        assert srv.requests == 4 and gen.text == ""


def test_timeout_is_retried() -> None:
    with ScriptedOpenAIServer(faults=fail_first(1, "timeout"), hang_seconds=1.5) as srv:
        gen = ask(srv, timeout=0.3)
        assert gen.ok and gen.attempts == 2


def test_timeout_every_time_is_an_error() -> None:
    with ScriptedOpenAIServer(faults=fail_first(100, "timeout"), hang_seconds=1.0) as srv:
        gen = ask(srv, timeout=0.2, max_retries=1)
        assert not gen.ok and "timeout" in (gen.error or "")


def test_malformed_bodies_are_retried_not_accepted() -> None:
    for kind in ("malformed", "nonjson", "truncated", "reset"):
        with ScriptedOpenAIServer(faults=fail_first(1, kind)) as srv:
            gen = ask(srv)
            assert gen.ok and gen.text == "echo: hello", kind
            assert gen.attempts == 2, kind


def test_malformed_every_time_is_an_error_not_an_answer() -> None:
    with ScriptedOpenAIServer(faults=fail_first(100, "nonjson")) as srv:
        gen = ask(srv, max_retries=2)
        assert not gen.ok and "malformed" in (gen.error or "") and gen.text == ""


def test_concurrent_requests_share_a_pool_and_overlap() -> None:
    with ScriptedOpenAIServer(delay=0.2) as srv:

        async def go() -> float:
            m = OpenAICompatModel("s", base_url=srv.base_url)
            t = time.monotonic()
            gens = await asyncio.gather(
                *[m.generate([Message(role="user", content=str(i))], CFG) for i in range(20)]
            )
            await m.aclose()
            assert all(g.ok for g in gens)
            return time.monotonic() - t

        elapsed = asyncio.run(go())
        assert elapsed < 1.5, f"20 requests of 0.2s did not overlap ({elapsed:.2f}s)"


def test_identity_and_repr_hold_no_key() -> None:
    m = OpenAICompatModel("m", base_url="http://127.0.0.1:1/v1", api_key="sk-secret-123")
    assert "sk-secret-123" not in repr(m) and "sk-secret-123" not in str(m.identity())


def test_odd_usage_and_finish_reason_keep_the_answer() -> None:
    """Servers in the wild send usage as a string, counts as text, a numeric finish_reason:
    informational fields, so the answer stands (each of these ended a run before)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    bodies = [
        {"choices": [{"message": {"content": "ok"}, "finish_reason": 7}]},
        {"choices": [{"message": {"content": "ok"}}], "usage": "lots"},
        {"choices": [{"message": {"content": "ok"}}], "usage": {"prompt_tokens": "x"}},
        {"choices": [{"message": {"content": "ok"}}], "usage": {"prompt_tokens": "12"}},
    ]
    served: list[bytes] = [json.dumps(b).encode() for b in bodies]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = served.pop(0)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}/v1"

        async def go():  # type: ignore[no-untyped-def]
            m = get_model("openai-compatible/m", base_url=url)
            try:
                return [await m.generate(MSGS, CFG) for _ in bodies]
            finally:
                await m.aclose()

        gens = asyncio.run(go())
    finally:
        srv.shutdown()
    assert all(g.ok and g.text == "ok" for g in gens)
    assert gens[0].finish_reason == "7"
    assert [g.usage.input_tokens for g in gens if g.usage] == [0, 0, 0, 12]
