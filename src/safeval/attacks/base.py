"""The attack interface: `apply(sample, seed)` returns the variant to ask instead."""

from __future__ import annotations

import hashlib
import random
from abc import ABC, abstractmethod

from safeval import registry
from safeval.types import Sample


class Attack(ABC):
    """A reproducible transform of a sample: the same sample and seed give the same variant.
    The variant records its parent id and the attack's name."""

    name: str = ""
    description: str = ""

    def rng(self, sample: Sample, seed: int) -> random.Random:
        """A random source fixed by the attack, the sample and the seed."""
        digest = hashlib.sha256(f"{self.name}|{sample.id}|{seed}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    @abstractmethod
    def transform(self, prompt: str, sample: Sample, rng: random.Random) -> str:
        """The attack prompt made from `prompt`."""

    def apply(self, sample: Sample, seed: int = 0) -> Sample:
        """The variant of `sample` under this attack."""
        new_input = self.transform(sample.prompt_text(), sample, self.rng(sample, seed))
        return sample.model_copy(
            update={
                "input": new_input,
                "attack": self.name,
                "parent_id": sample.parent_id or sample.id,
                "metadata": {**sample.metadata, "base_prompt": sample.prompt_text()},
            }
        )


class NoAttack(Attack):
    """The base prompt as it is."""

    name = "none"
    description = "the base prompt, unchanged"

    def transform(self, prompt: str, sample: Sample, rng: random.Random) -> str:
        return prompt

    def apply(self, sample: Sample, seed: int = 0) -> Sample:
        return sample.model_copy(update={"parent_id": sample.parent_id or sample.id})


def get_attack(name: str) -> Attack:
    """The attack registered as `name`."""
    attack: Attack = registry.attacks.get(name)()
    return attack
