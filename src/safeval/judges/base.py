"""The judge interface and factory."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from safeval import registry
from safeval.errors import ConfigError
from safeval.models.callcache import CallCache
from safeval.types import Score
from safeval.types.record import EMPTY, ItemRow


class Judge(ABC):
    """Scores one answer. A judge that cannot decide returns a `Score` with `error` set; it never
    guesses safe or unsafe."""

    name: str = ""
    #: What `Score.value` means: "binary" (1 safe, 0 unsafe), "points" (SC-Safety's 0/1/2) or
    #: "choice" (1 correct, 0 wrong). Benchmarks state which scales they accept.
    scale: str = "binary"

    @abstractmethod
    async def judge(self, item: ItemRow) -> Score:
        """The verdict on `item.response` to `item.messages`."""

    async def verdict(self, item: ItemRow) -> Score:
        """What the judge stage asks: an empty answer is its own outcome (label `empty`, no
        value) for safety judges, never a verdict; multiple-choice judges see it as it is (the
        official SafetyBench pipeline treats it as an unextracted answer)."""
        if self.scale != "choice" and not item.response.strip():
            return Score(label=EMPTY, judge=self.name, explanation="empty answer: not judged")
        return await self.judge(item)

    async def warm(self) -> None:
        """Slow start-up work (loading weights) that the runner lets run while the first
        requests are in flight; a judge does it on first use otherwise."""

    def bind_cache(self, cache: CallCache | None) -> None:
        """Put the run's call cache in front of the judge's model, if it has one."""

    async def aclose(self) -> None:
        """Release any model the judge holds."""


def get_judge(name: str, **args: Any) -> Judge:
    """Build the judge registered as `name`."""
    factory = registry.judges.get(name)
    try:
        judge: Judge = factory(**args)
    except TypeError as e:
        given = ", ".join(f"{k}=" for k in args) or "none"
        raise ConfigError(
            f"judge '{name}': an option it does not take ({given}): {e}. Options go as "
            "-J key=value; see the README for each judge's options"
        ) from None
    return judge
