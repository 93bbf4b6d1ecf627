"""Bootstrap intervals: they contain the estimate, narrow with n, and are reproducible."""

from safeval.metrics.bootstrap import bootstrap_ci


def test_interval_brackets_the_share_and_narrows_with_more_data() -> None:
    small = [1.0] * 30 + [0.0] * 70
    big = small * 100
    lo_s, hi_s = bootstrap_ci(small)  # type: ignore[misc]
    lo_b, hi_b = bootstrap_ci(big)  # type: ignore[misc]
    assert lo_s < 30.0 < hi_s and lo_b < 30.0 < hi_b
    assert (hi_b - lo_b) < (hi_s - lo_s) / 5
    assert bootstrap_ci(small) == bootstrap_ci(small)


def test_non_binary_values_and_empty_input() -> None:
    lo, hi = bootstrap_ci([0.0, 0.5, 1.0, 0.5] * 10)  # type: ignore[misc]
    assert lo <= 50.0 <= hi
    assert bootstrap_ci([]) is None
