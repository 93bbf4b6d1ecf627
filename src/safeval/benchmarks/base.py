"""The benchmark interface and its options."""

from __future__ import annotations

import hashlib
from abc import ABC
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safeval import registry
from safeval.errors import ConfigError
from safeval.metrics.outcomes import Outcome, binary_outcomes, summarize_outcomes
from safeval.types import Sample
from safeval.types.record import ScoredRow


@dataclass(frozen=True)
class BenchmarkOptions:
    """What the user chose about the data: file, language, how many, seed, extra knobs."""

    data: Path | None = None
    lang: str | None = None
    limit: int | None = None
    seed: int = 0
    args: dict[str, Any] = field(default_factory=dict)


class Benchmark(ABC):
    """A named source of samples with its default judge and its scoring."""

    name: str = ""
    description: str = ""
    default_judge: str = "rules"
    default_max_tokens: int = 256
    known_args: frozenset[str] = frozenset()
    #: The judge scales (see `Judge.scale`) whose values this benchmark can score.
    accepted_scales: frozenset[str] = frozenset({"binary"})
    #: True where `outcomes` or `aggregate` read a row's whole `sample` (its target, metadata);
    #: the others are given rows without it, since parsing every stored sample back was most
    #: of the cost of a summary. A contract test holds the others to it.
    scores_read_samples: bool = False

    def __init__(self, options: BenchmarkOptions) -> None:
        unknown = sorted(set(options.args) - self.known_args)
        if unknown:
            known = ", ".join(sorted(self.known_args)) or "none"
            raise ConfigError(
                f"{self.name}: unknown option(s) {', '.join(unknown)} (known: {known})"
            )
        self.options = options

    @property
    def needs_loglikelihood(self) -> bool:
        """True where answers are chosen by log-likelihood: only local models can do that."""
        return False

    def samples(self) -> Iterator[Sample]:
        """Every sample, in a stable order; raises `DataError` on bad input."""
        raise NotImplementedError

    def identity(self) -> dict[str, Any]:
        """What must match for a run to be resumed."""
        o = self.options
        return {
            "benchmark": self.name,
            "data": str(o.data) if o.data else None,
            "lang": o.lang,
            "limit": o.limit,
            "seed": o.seed,
            "args": o.args,
            "user_args": o.args,
            # The content, not only the path: an edited file must not resume an old run.
            "data_sha256": content_hash(o.data) if o.data else None,
        }

    def outcomes(self, rows: Iterable[ScoredRow]) -> Iterator[Outcome]:
        """Each stored row's outcome (`metrics.outcomes`); every view of a run reads these."""
        return binary_outcomes(rows)

    def aggregate(self, rows: Iterable[ScoredRow]) -> dict[str, Any]:
        """Scores from judged rows: by default the share judged safe, x100."""
        return summarize_outcomes(self.outcomes(rows))


def content_hash(path: Path) -> str | None:
    """sha256 of a data file (or of every file under a folder, by relative path)."""
    h = hashlib.sha256()
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
    else:
        return None
    for f in files:
        h.update(str(f.relative_to(path) if f != path else f.name).encode())
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _allocate(limit: int, sizes: list[int]) -> list[int]:
    """An even split of `limit` over groups of the given sizes, round robin, never more than a
    group holds."""
    take = [0] * len(sizes)
    left = limit
    while left > 0:
        open_groups = [i for i, n in enumerate(sizes) if take[i] < n]
        if not open_groups:
            break
        for i in open_groups:
            if left == 0:
                break
            take[i] += 1
            left -= 1
    return take


def stratified(
    samples: Iterable[Sample],
    limit: int,
    keys: tuple[Callable[[Sample], str], ...] = (
        lambda s: s.attack,
        lambda s: s.category,
    ),
) -> list[Sample]:
    """`limit` samples spread evenly over nested strata (by default attack, then category), in
    file order: `--limit 50` on a file of 10 attacks x 8 risk types takes 5 per attack and
    spreads each attack's 5 over its risk types."""
    items = list(samples)

    def pick(idx: list[int], level: int, n: int) -> list[int]:
        if level == len(keys) or n >= len(idx):
            return idx[:n]
        groups: dict[str, list[int]] = {}
        for i in idx:
            groups.setdefault(keys[level](items[i]), []).append(i)
        members = list(groups.values())
        quota = _allocate(n, [len(g) for g in members])
        out: list[int] = []
        for g, q in zip(members, quota, strict=True):
            out += pick(g, level + 1, q)
        return out

    chosen = sorted(pick(list(range(len(items))), 0, limit))
    return [items[i] for i in chosen]


def limited(samples: Iterable[Sample], limit: int | None) -> Iterator[Sample]:
    """All samples, or `limit` of them spread evenly over attacks and categories."""
    if limit is None:
        return iter(samples)
    return iter(stratified(samples, limit))


def get_benchmark(name: str, options: BenchmarkOptions) -> Benchmark:
    """Build the benchmark registered as `name`."""
    bench: Benchmark = registry.benchmarks.get(name)(options)
    return bench
