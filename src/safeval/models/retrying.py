"""One retry policy for every model provider (as inspect_ai's Model wrapper gives all its
providers): an adapter makes one attempt and says whether its failure is worth another
(`Generation.retryable`, with the server's `Retry-After` where it gave one); this wrapper waits
with exponential backoff and jitter and tries again. A failure that stays is returned as an
error `Generation`, never raised and never a verdict."""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from safeval.models.base import ModelAPI
from safeval.models.wrapper import ModelWrapper
from safeval.types import GenerateConfig, Generation, Message

#: A server's Retry-After at least this long is told once on stderr (the run seems stuck).
LONG_WAIT_SECONDS = 10.0
#: Model options that belong to the retry policy, not to any adapter (-M max_retries=2).
RETRY_OPTIONS = ("max_retries", "backoff_initial", "backoff_max", "retry_after_max")


class RetryingModel(ModelWrapper):
    """Retries retryable failures of `inner` up to `max_retries` times."""

    def __init__(
        self,
        inner: ModelAPI,
        max_retries: int = 4,
        backoff_initial: float = 0.5,
        backoff_max: float = 20.0,
        retry_after_max: float = 60.0,
    ) -> None:
        super().__init__(inner)
        self.max_retries = max(0, int(max_retries))
        self.retry_after_max = float(retry_after_max)
        self.backoff_initial = float(backoff_initial)
        self.backoff_max = float(backoff_max)
        self._told_of_wait = False

    def __getattr__(self, name: str) -> Any:
        # Adapter specifics (base_url, dtype, ...) read through the wrapper.
        return getattr(self.__dict__["inner"], name)

    async def _retry(self, call: Callable[[], Awaitable[Generation]]) -> Generation:
        attempt = 0
        while True:
            attempt += 1
            gen = await call()
            if gen.ok or not gen.retryable or attempt > self.max_retries:
                return gen.model_copy(update={"attempts": attempt, "retryable": False})
            # Exponential backoff with full jitter, capped; a server's Retry-After wins.
            delay = random.uniform(0, min(self.backoff_max, self.backoff_initial * 2**attempt))
            if gen.retry_after is not None:
                delay = min(gen.retry_after, self.retry_after_max)
                if gen.retry_after >= LONG_WAIT_SECONDS and not self._told_of_wait:
                    self._told_of_wait = True  # once: a wait this long looks like a hang
                    print(
                        f"note: {self.full_name}: the endpoint asks to wait "
                        f"{gen.retry_after:.0f} s before retrying ({gen.error}); waiting "
                        f"{delay:.0f} s per retry (-M retry_after_max, -M max_retries)",
                        file=sys.stderr,
                    )
            await asyncio.sleep(delay)

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Generation:
        return await self._retry(lambda: self.inner.generate(messages, config))

    async def complete(self, prompt: str, config: GenerateConfig) -> Generation:
        return await self._retry(lambda: self.inner.complete(prompt, config))

    async def loglikelihood(
        self, messages: list[Message], continuations: list[str], chat_template: bool = True
    ) -> list[float]:
        return await self.inner.loglikelihood(messages, continuations, chat_template)
