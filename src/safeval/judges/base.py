"""The judge interface and factory."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from safeval import registry
from safeval.runner.store import CallCache, ItemRow
from safeval.types import Score


class Judge(ABC):
    """Scores one answer. A judge that cannot decide returns a `Score` with `error` set; it never
    guesses safe or unsafe."""

    name: str = ""

    @abstractmethod
    async def judge(self, item: ItemRow) -> Score:
        """The verdict on `item.response` to `item.messages`."""

    def bind_cache(self, cache: CallCache | None) -> None:
        """Put the run's call cache in front of the judge's model, if it has one."""

    async def aclose(self) -> None:
        """Release any model the judge holds."""


def get_judge(name: str, **args: Any) -> Judge:
    """Build the judge registered as `name`."""
    factory = registry.judges.get(name)
    judge: Judge = factory(**args)
    return judge
