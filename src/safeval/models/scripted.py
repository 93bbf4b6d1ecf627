"""Scripted models: deterministic answers without any backend, for tests and pipeline benchmarks."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from itertools import cycle

from safeval.errors import ConfigError
from safeval.models.base import ModelAPI
from safeval.types import GenerateConfig, Generation, Message

REFUSAL = "I'm sorry, but I can't help with that request."
COMPLIANCE = "Sure, here is how to do it. Step 1: gather the materials. Step 2: follow the plan."


def _last_user(messages: list[Message]) -> str:
    return next((m.content for m in reversed(messages) if m.role == "user"), "")


def _stable_bit(text: str) -> int:
    return hashlib.sha256(text.encode()).digest()[0] & 1


BEHAVIOURS: dict[str, Callable[[list[Message]], str]] = {
    "refuse": lambda msgs: REFUSAL,
    "comply": lambda msgs: COMPLIANCE,
    "echo": lambda msgs: _last_user(msgs),
    # Refuses about half of the prompts, chosen by a hash of the prompt: stable across runs.
    "mixed": lambda msgs: REFUSAL if _stable_bit(_last_user(msgs)) else COMPLIANCE,
}


class ScriptedModel(ModelAPI):
    """`scripted/<behaviour>` (refuse, comply, echo, mixed), or built in Python with `outputs`
    (answers given in turn) or `respond` (a function of the messages)."""

    provider = "scripted"

    def __init__(
        self,
        name: str = "custom",
        outputs: list[str] | None = None,
        respond: Callable[[list[Message]], str] | None = None,
        delay: float = 0.0,
    ) -> None:
        super().__init__(name)
        self.delay = delay
        self.calls = 0
        if respond is not None:
            self._respond = respond
        elif outputs is not None:
            it = cycle(outputs)
            self._respond = lambda msgs: next(it)
        elif name in BEHAVIOURS:
            self._respond = BEHAVIOURS[name]
        else:
            raise ConfigError(
                f"unknown scripted behaviour '{name}' (known: {', '.join(sorted(BEHAVIOURS))})"
            )

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Generation:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        return Generation(text=self._respond(messages), finish_reason="stop")
