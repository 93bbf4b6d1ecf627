"""The attack interface: `apply(sample, seed)` returns the variant to ask instead."""

from __future__ import annotations

import hashlib
import random
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from safeval import registry
from safeval.errors import SafevalError
from safeval.types import Generation, Sample

if TYPE_CHECKING:
    from safeval.models.base import ModelAPI


class AttackError(SafevalError):
    """An attack could not make its prompt (e.g. the attacker model failed)."""


def attacker_text(gen: Generation, attacker: ModelAPI, what: str) -> str:
    """The attacker's answer as the attack's text, or an AttackError (never a prompt): it failed,
    said nothing, was cut off at its token limit, or refused. A refusal or a cut-off rewrite
    used as the attack prompt lost the harmful request, and the target's harmless answer to
    it was scored safe."""
    from safeval.judges.rules import refuses_instead_of_asking

    text = gen.text.strip() if gen.ok else ""
    why = (
        gen.error or "an empty answer"
        if not text
        else "its answer was cut off at the token limit"
        if gen.finish_reason == "length"
        else "it refused"
        if refuses_instead_of_asking(text)
        else None
    )
    if why is not None:
        raise AttackError(f"attacker {attacker.full_name} gave no {what}: {why}")
    return text


class Attack(ABC):
    """A reproducible transform of a sample: the same sample and seed give the same variant.
    The variant records its parent id and the attack's name."""

    name: str = ""
    description: str = ""
    # Attacks that rewrite the question itself ask an attacker model with this instruction
    # ({q}: the base prompt) when one is given; otherwise they use their templates.
    rewrite_instruction: str | None = None

    def rng(self, sample: Sample, seed: int) -> random.Random:
        """A random source fixed by the attack, the sample and the seed."""
        digest = hashlib.sha256(f"{self.name}|{sample.id}|{seed}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    @abstractmethod
    def transform(self, prompt: str, sample: Sample, rng: random.Random) -> str:
        """The attack prompt made from `prompt`."""

    def label_for(self, sample: Sample) -> str:
        """The attack name stored with the variant."""
        return self.name

    async def apply_async(
        self, sample: Sample, seed: int = 0, attacker: ModelAPI | None = None
    ) -> Sample:
        """`apply`, or with an attacker model, the attacker's rewrite of the prompt."""
        if attacker is None or self.rewrite_instruction is None:
            return self.apply(sample, seed)
        from safeval.types import GenerateConfig, Message

        ask = self.rewrite_instruction.format(q=sample.prompt_text().strip())
        gen = await attacker.generate(
            [Message(role="user", content=ask)],
            GenerateConfig(temperature=0.0, seed=seed, max_tokens=512),
        )
        text = attacker_text(gen, attacker, "rewrite")
        return sample.model_copy(
            update={
                "input": text,
                "attack": self.name,
                "parent_id": sample.parent_id or sample.id,
                "metadata": {
                    **sample.metadata,
                    "base_prompt": sample.prompt_text(),
                    "rewritten_by": attacker.full_name,
                },
            }
        )

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

    def label_for(self, sample: Sample) -> str:
        # A dataset's own attack prompts (S-Eval attack files) keep their attack name.
        return sample.attack


def get_attack(name: str) -> Attack:
    """The attack registered as `name`."""
    attack: Attack = registry.attacks.get(name)()
    return attack
