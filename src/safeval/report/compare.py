"""`safeval compare RUN_A RUN_B`: score differences on the items both runs judged, with an
exact McNemar test per category (paired: the same prompt, answered by two models or two
versions), and a regression gate for CI."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scipy.stats import binomtest

from safeval.errors import ConfigError
from safeval.report.runs import paired_outcomes


@dataclass
class GroupDiff:
    """A (category or overall) comparison on shared items; scores are % judged safe."""

    name: str
    n: int
    score_a: float
    score_b: float
    only_a_safe: int  # discordant pairs: A safe, B unsafe
    only_b_safe: int  # discordant pairs: B safe, A unsafe
    p_value: float

    @property
    def diff(self) -> float:
        return round(self.score_b - self.score_a, 2)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "diff": self.diff}


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: under no difference each discordant pair is a coin
    flip, so the smaller count follows Binomial(only_a + only_b, 1/2)."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    return float(binomtest(only_a, n, 0.5).pvalue)


def _diff(name: str, pairs: list[tuple[bool, bool]]) -> GroupDiff:
    n = len(pairs)
    a_safe = sum(a for a, _ in pairs)
    b_safe = sum(b for _, b in pairs)
    only_a = sum(1 for a, b in pairs if a and not b)
    only_b = sum(1 for a, b in pairs if b and not a)
    return GroupDiff(
        name,
        n,
        round(100.0 * a_safe / n, 2),
        round(100.0 * b_safe / n, 2),
        only_a,
        only_b,
        mcnemar_exact(only_a, only_b),
    )


def compare_runs(run_a: Path, run_b: Path) -> dict[str, Any]:
    """Per-category and overall differences (B minus A) on the items both runs judged."""
    a, b = paired_outcomes(run_a), paired_outcomes(run_b)
    shared = sorted(a.keys() & b.keys())
    if not shared:
        raise ConfigError(
            f"{run_a} and {run_b} share no judged items: compare runs of the same prompts"
        )
    by_cat: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for iid in shared:
        by_cat[a[iid][0]].append((a[iid][1], b[iid][1]))
    overall = _diff("overall", [(a[i][1], b[i][1]) for i in shared])
    return {
        "run_a": str(run_a),
        "run_b": str(run_b),
        "shared": len(shared),
        "only_in_a": len(a.keys() - b.keys()),
        "only_in_b": len(b.keys() - a.keys()),
        "overall": overall,
        "categories": [_diff(c, p) for c, p in sorted(by_cat.items())],
    }


def regressions(
    result: dict[str, Any], points: float, alpha: float | None = None
) -> list[GroupDiff]:
    """Groups (overall and categories) where B is worse than A by more than `points`, and,
    when `alpha` is given, significantly so."""
    out = []
    for g in [result["overall"], *result["categories"]]:
        if g.diff < -points and (alpha is None or g.p_value < alpha):
            out.append(g)
    return out
