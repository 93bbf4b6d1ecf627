"""Bootstrap confidence intervals for shares (percentages)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

N_BOOT = 2000


def bootstrap_ci(
    values: Sequence[float], level: float = 0.95, n_boot: int = N_BOOT, seed: int = 0
) -> tuple[float, float] | None:
    """Percentile interval of the mean x100. For 0/1 values, resampling with replacement is
    drawing a binomial count, so that is what is drawn: exact, and cheap at any size."""
    n = len(values)
    if n == 0:
        return None
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
