"""Expanding a benchmark into work: each sample under each attack, streamed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from safeval.attacks.base import Attack
from safeval.benchmarks.base import Benchmark
from safeval.types import Sample


@dataclass(frozen=True)
class Unit:
    """One conversation to run: a base sample under one attack (applied by the worker, since
    an attack may need an attacker model)."""

    sample: Sample
    attack: Attack

    @property
    def base_id(self) -> str:
        return self.sample.parent_id or self.sample.id

    @property
    def attack_name(self) -> str:
        return self.attack.label_for(self.sample)


def expand(benchmark: Benchmark, attacks: list[Attack]) -> Iterator[Unit]:
    """Every (sample, attack) unit, in a stable order, without holding them all."""
    for sample in benchmark.samples():
        for attack in attacks:
            yield Unit(sample, attack)


def count_items(benchmark: Benchmark, attacks: list[Attack]) -> int:
    """How many stored items the plan makes (one per turn). Reading every sample also
    validates the data before anything is written."""
    return sum(s.n_turns for s in benchmark.samples()) * len(attacks)
