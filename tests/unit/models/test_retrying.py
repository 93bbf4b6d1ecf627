"""The one retry policy every provider gets through `get_model`."""

from __future__ import annotations

import asyncio
import time

from safeval.models.base import ModelAPI, get_model
from safeval.models.retrying import RetryingModel
from safeval.types import GenerateConfig, Generation, Message


class Flaky(ModelAPI):
    """Answers with the scripted failures first, then "ok"."""

    provider = "flaky"

    def __init__(self, failures: list[Generation]) -> None:
        super().__init__("f")
        self.failures = list(failures)
        self.calls = 0

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Generation:
        self.calls += 1
        return self.failures.pop(0) if self.failures else Generation(text="ok")


def ask(model: ModelAPI) -> Generation:
    return asyncio.run(model.generate([Message(role="user", content="q")], GenerateConfig()))


def test_retryable_failures_are_retried_then_answered() -> None:
    inner = Flaky([Generation(error="503", retryable=True)] * 2)
    gen = ask(RetryingModel(inner, max_retries=3, backoff_initial=0.001))
    assert gen.ok and gen.text == "ok" and gen.attempts == 3 and inner.calls == 3


def test_a_fatal_failure_is_not_retried_and_stays_an_error() -> None:
    inner = Flaky([Generation(error="HTTP 400: bad request")])
    gen = ask(RetryingModel(inner, max_retries=3))
    assert not gen.ok and gen.attempts == 1 and inner.calls == 1 and not gen.retryable


def test_retries_stop_at_the_limit_and_honour_retry_after() -> None:
    inner = Flaky([Generation(error="429", retryable=True, retry_after=0.2)] * 5)
    start = time.monotonic()
    gen = ask(RetryingModel(inner, max_retries=1, retry_after_max=0.25))
    assert not gen.ok and gen.attempts == 2 and inner.calls == 2
    assert time.monotonic() - start >= 0.2  # waited what the server asked for


def test_every_provider_comes_wrapped_with_retry_options_taken_from_its_args() -> None:
    model = get_model("scripted/refuse", max_retries=7)
    assert isinstance(model, RetryingModel) and model.max_retries == 7
    assert model.identity() == model.inner.identity() and model.full_name == "scripted/refuse"


def test_a_long_retry_after_is_told_once(capsys) -> None:  # type: ignore[no-untyped-def]
    """A 429 asking for a minute's wait, honoured silently under --no-progress, looked like a
    hang; it is told once on stderr, with the options that bound it."""
    inner = Flaky([Generation(error="HTTP 429", retryable=True, retry_after=60.0)] * 3)
    gen = ask(RetryingModel(inner, max_retries=4, retry_after_max=0.01))
    assert gen.ok and inner.calls == 4
    err = capsys.readouterr().err
    assert err.count("asks to wait 60 s before retrying (HTTP 429)") == 1
    assert "-M retry_after_max" in err
    short = Flaky([Generation(error="HTTP 429", retryable=True, retry_after=0.01)] * 2)
    ask(RetryingModel(short, max_retries=4))
    assert capsys.readouterr().err == ""  # a short wait is not worth a line
