"""Expanding a benchmark into work: each sample under each attack, streamed."""

from __future__ import annotations

from collections.abc import Iterator

from safeval.attacks.base import Attack
from safeval.benchmarks.base import Benchmark
from safeval.types import Sample


def expand(benchmark: Benchmark, attacks: list[Attack], seed: int = 0) -> Iterator[Sample]:
    """Every (sample, attack) variant, in a stable order, without holding them all."""
    for sample in benchmark.samples():
        for attack in attacks:
            yield attack.apply(sample, seed)


def count_items(benchmark: Benchmark, attacks: list[Attack], seed: int = 0) -> int:
    """How many stored items the plan makes (one per turn). Reading every sample also
    validates the data before anything is written."""
    return sum(v.n_turns for v in expand(benchmark, attacks, seed))
