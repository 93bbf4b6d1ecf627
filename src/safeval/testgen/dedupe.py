"""Near-duplicate detection by character shingles: language-agnostic (Chinese has no spaces),
robust to small edits, punctuation and case."""

from __future__ import annotations

import re
import unicodedata

_DROP = re.compile(r"[\W_]+", re.UNICODE)
SHINGLE = 3
DEFAULT_THRESHOLD = 0.6


def normalise(text: str) -> str:
    """Lower case, width-folded, without punctuation or spaces."""
    return _DROP.sub("", unicodedata.normalize("NFKC", text).lower())


def shingles(text: str, k: int = SHINGLE) -> frozenset[str]:
    t = normalise(text)
    if len(t) <= k:
        return frozenset({t}) if t else frozenset()
    return frozenset(t[i : i + k] for i in range(len(t) - k + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


class NearDuplicateIndex:
    """Keeps texts and answers whether a new one is too close to any kept (Jaccard of
    shingles at or above `threshold`). An inverted index keeps the comparisons few."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self._sets: list[frozenset[str]] = []
        self._by_shingle: dict[str, list[int]] = {}

    def closest(self, text: str) -> tuple[int, float] | None:
        """(index, similarity) of the most similar kept text at or above the threshold."""
        s = shingles(text)
        counts: dict[int, int] = {}
        for sh in s:
            for i in self._by_shingle.get(sh, ()):
                counts[i] = counts.get(i, 0) + 1
        best: tuple[int, float] | None = None
        for i, shared in counts.items():
            other = self._sets[i]
            sim = shared / (len(s) + len(other) - shared)
            if sim >= self.threshold and (best is None or sim > best[1]):
                best = (i, sim)
        return best

    def add(self, text: str) -> int:
        s = shingles(text)
        idx = len(self._sets)
        self._sets.append(s)
        for sh in s:
            self._by_shingle.setdefault(sh, []).append(idx)
        return idx
