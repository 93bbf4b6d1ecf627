"""Bootstrap confidence intervals for shares (percentages).

numpy is imported where it is used: this module is imported by every benchmark, and a run sends
its first requests before it needs an interval."""

from __future__ import annotations

from collections.abc import Sequence
from math import sqrt

N_BOOT = 2000


def bootstrap_ci(
    values: Sequence[float], level: float = 0.95, n_boot: int = N_BOOT, seed: int = 0
) -> tuple[float, float] | None:
    """Percentile interval of the mean x100. For 0/1 values, resampling with replacement is
    drawing a binomial count, so that is what is drawn: exact, and cheap at any size."""
    n = len(values)
    if n == 0:
        return None
    import numpy as np

    rng = np.random.default_rng(seed)
    arr = np.asarray(values, dtype=float)
    if np.all((arr == 0.0) | (arr == 1.0)):
        means = rng.binomial(n, arr.mean(), size=n_boot) / n
    else:
        means = np.empty(n_boot)
        for i in range(n_boot):
            means[i] = arr[rng.integers(0, n, size=n)].mean()
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return round(100.0 * float(lo), 2), round(100.0 * float(hi), 2)


def wilson_ci(successes: int, n: int, level: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval of a share x100: honest at small n and at 0 % or 100 %, where a
    bootstrap of two identical values would claim certainty."""
    if n == 0:
        return None
    from statistics import NormalDist  # the stdlib's: scipy.stats costs a second to import

    z = NormalDist().inv_cdf(1.0 - (1.0 - level) / 2.0)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * sqrt(p * (1.0 - p) / n + z * z / (4 * n * n)) / denom
    return round(100.0 * max(0.0, centre - half), 2), round(100.0 * min(1.0, centre + half), 2)


def share_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float] | None:
    """The 95 % interval every score carries: Wilson for 0/1 outcomes, the bootstrap of the
    mean for graded ones (SC-Safety points)."""
    if values and all(v in (0.0, 1.0) for v in values):
        return wilson_ci(int(sum(values)), len(values), level)
    return bootstrap_ci(values, level)
