"""Hashed character and word n-grams of a (prompt, response) pair, in plain numpy.

Hashing needs no stored vocabulary, so the shipped artifact is only the weight vectors. The
hash is a polynomial hash over Unicode code points (mod 2**64) followed by a bit mixer: stable
across machines and Python versions, and computed for a whole batch of texts at once, so
judging needs neither scikit-learn nor scipy (training builds a scipy matrix from the same
features). Each block's counts are divided by the square root of its number of n-grams."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Characters of the answer that are read: refusals and harmful help show early.
MAX_RESPONSE_CHARS = 2000
HEAD_CHARS = 160
MAX_PROMPT_CHARS = 600

#: The feature blocks: (name, text part, kind, n-gram range, log2 size, weight).
BLOCKS: list[tuple[str, str, str, tuple[int, int], int, float]] = [
    ("resp_char", "response", "char", (1, 4), 19, 1.0),
    ("resp_word", "response", "word", (1, 2), 18, 1.0),
    ("head_char", "head", "char", (1, 4), 17, 1.0),
    ("tail_char", "tail", "char", (2, 4), 18, 1.0),
    ("prompt_char", "prompt", "char", (2, 4), 17, 0.5),
]
#: The category head reads the prompt only: word 1-2 grams, 2**14 buckets.
CATEGORY_BITS = 14

_P = np.uint64(0x100000001B3)
_P_INV = np.uint64(pow(0x100000001B3, -1, 1 << 64))
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


def n_features() -> int:
    """Length of the feature vector."""
    return sum(1 << b[4] for b in BLOCKS)


def tail(response: str) -> str:
    """The answer after its first paragraph: where a jailbroken "second persona" answers after
    a refusing first one ("[ChatGPT]: I'm sorry… [AntiGPT]: To do it, …")."""
    cut = response.find("\n\n")
    if cut < 0:
        cut = response.find("\n")
    return response[cut:].strip() if cut >= 0 else ""


def _mix(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(30))
    h = h * _MIX1
    h = h ^ (h >> np.uint64(27))
    h = h * _MIX2
    return h ^ (h >> np.uint64(31))


def _powers(base: np.uint64, n: int) -> np.ndarray:
    out = np.empty(n, dtype=np.uint64)
    out[0] = 1
    if n > 1:
        out[1:] = np.cumprod(np.full(n - 1, base, dtype=np.uint64))
    return out


@dataclass
class Hashed:
    """Occurrences of hashed n-grams: the text each came from, and its bucket."""

    doc: np.ndarray
    idx: np.ndarray


class _Batch:
    """Texts joined with NUL separators, with prefix hashes for any substring's hash."""

    def __init__(self, texts: Sequence[str]) -> None:
        clean = [" ".join(t.replace("\x00", " ").lower().split()) for t in texts]
        joined = "\x00".join(clean) + "\x00"
        cp = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        self.cp = cp
        self.n_docs = len(texts)
        sep = cp == 0
        self.sep_cum = np.concatenate([[0], np.cumsum(sep)])
        self.doc_of = self.sep_cum[:-1]  # index of the text each position belongs to
        with np.errstate(over="ignore"):
            self.pw = _powers(_P, len(cp) + 1)
            self.ipw = _powers(_P_INV, len(cp) + 1)
            self.prefix = np.concatenate([[np.uint64(0)], np.cumsum(cp * self.pw[: len(cp)])])

    def span_hash(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Content hash of each [start, end) span (independent of where it sits)."""
        with np.errstate(over="ignore"):
            return (self.prefix[end] - self.prefix[start]) * self.ipw[start]

    def char_ngrams(self, lo: int, hi: int, bits: int) -> Hashed:
        docs, idxs = [], []
        mask = np.uint64((1 << bits) - 1)
        length = len(self.cp)
        for n in range(lo, hi + 1):
            if length < n:
                continue
            start = np.arange(length - n + 1)
            ok = self.sep_cum[start + n] == self.sep_cum[start]
            start = start[ok]
            with np.errstate(over="ignore"):
                h = _mix(self.span_hash(start, start + n) + _GOLD * np.uint64(n))
            docs.append(self.doc_of[start])
            idxs.append((h & mask).astype(np.int64))
        return _cat(docs, idxs)

    def word_ngrams(self, lo: int, hi: int, bits: int) -> Hashed:
        cp = self.cp
        # Word characters: ASCII letters and digits, and anything beyond ASCII except CJK
        # punctuation and full-width forms' punctuation; each CJK run is one "word".
        word = (
            ((cp >= 48) & (cp <= 57))
            | ((cp >= 97) & (cp <= 122))
            | (
                (cp >= 128)
                & ~((cp >= 0x3000) & (cp <= 0x303F))
                & ~((cp >= 0xFF00) & (cp <= 0xFF20))
            )
        )
        padded = np.concatenate([[False], word, [False]])
        edges = np.flatnonzero(padded[1:] != padded[:-1])
        starts, ends = edges[0::2], edges[1::2]
        mask = np.uint64((1 << bits) - 1)
        docs, idxs = [], []
        with np.errstate(over="ignore"):
            wh = _mix(self.span_hash(starts, ends) + _GOLD)
            wdoc = self.doc_of[starts]
            for n in range(lo, hi + 1):
                if len(wh) < n:
                    continue
                h = wh[: len(wh) - n + 1].copy()
                same = np.ones(len(h), dtype=bool)
                for k in range(1, n):
                    h = h * _P + wh[k : len(wh) - n + 1 + k]
                    same &= wdoc[k : len(wh) - n + 1 + k] == wdoc[: len(wh) - n + 1]
                h = _mix(h + _GOLD * np.uint64(100 + n))
                docs.append(wdoc[: len(h)][same])
                idxs.append((h[same] & mask).astype(np.int64))
        return _cat(docs, idxs)


def _cat(docs: list[np.ndarray], idxs: list[np.ndarray]) -> Hashed:
    if not docs:
        return Hashed(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    return Hashed(np.concatenate(docs).astype(np.int64), np.concatenate(idxs))


@dataclass
class Features:
    """Sparse features of a batch as (text, column, value) triples; duplicates add up."""

    n_docs: int
    doc: np.ndarray
    col: np.ndarray
    val: np.ndarray

    def dot(self, w: np.ndarray) -> np.ndarray:
        """The feature matrix times a weight vector, without building the matrix."""
        return np.bincount(self.doc, weights=self.val * w[self.col], minlength=self.n_docs)

    def dot_many(self, w: np.ndarray) -> np.ndarray:
        """The feature matrix times a (classes x features) weight matrix."""
        return np.stack([self.dot(row) for row in w], axis=1)

    def to_csr(self, n_cols: int) -> object:
        """A scipy CSR matrix (training only)."""
        import scipy.sparse as sp

        m = sp.coo_matrix((self.val, (self.doc, self.col)), shape=(self.n_docs, n_cols))
        return m.tocsr()


def _weighted(h: Hashed, n_docs: int, offset: int, weight: float) -> Features:
    counts = np.bincount(h.doc, minlength=n_docs).astype(np.float64)
    scale = weight / np.sqrt(np.maximum(counts, 1.0))
    return Features(n_docs, h.doc, h.idx + offset, scale[h.doc])


def _join(parts: list[Features], n_docs: int) -> Features:
    return Features(
        n_docs,
        np.concatenate([p.doc for p in parts]),
        np.concatenate([p.col for p in parts]),
        np.concatenate([p.val for p in parts]),
    )


def featurize(prompts: Sequence[str], responses: Sequence[str]) -> Features:
    """The features of each (prompt, response) pair, one row per pair."""
    resp = [r.strip()[:MAX_RESPONSE_CHARS] for r in responses]
    texts = {
        "response": resp,
        "head": [r[:HEAD_CHARS] for r in resp],
        "tail": [tail(r) for r in resp],
        "prompt": [p.strip()[-MAX_PROMPT_CHARS:] for p in prompts],
    }
    batches: dict[str, _Batch] = {}
    n = len(resp)
    parts, offset = [], 0
    for _name, part, kind, (lo, hi), bits, weight in BLOCKS:
        b = batches.get(part) or batches.setdefault(part, _Batch(texts[part]))
        h = b.char_ngrams(lo, hi, bits) if kind == "char" else b.word_ngrams(lo, hi, bits)
        parts.append(_weighted(h, n, offset, weight))
        offset += 1 << bits
    return _join(parts, n)


def category_features(prompts: Sequence[str]) -> Features:
    """Features of the topic head (what the request is about)."""
    b = _Batch([p.strip()[-MAX_PROMPT_CHARS:] for p in prompts])
    return _weighted(b.word_ngrams(1, 2, CATEGORY_BITS), len(prompts), 0, 1.0)


#: A numbered or bulleted line, or a "step N" anywhere: the shape of step-by-step help.
_LIST_LINE = re.compile(
    r"(?m)(?:^\s*(?:\d+[.)、]|[-*•]|第[一二三四五六七八九十\d]+步)|\bstep\s*\d+)", re.I
)
#: The names of `structure()`'s columns, in order (the model card lists them). Nothing about
#: the prompt: its length and wording told the sources apart, a shortcut that misjudged short
#: step-by-step compliance in tests.
STRUCTURE = (
    "log_chars",
    "log_lines",
    "log_list_items",
    "code_fence",
    "very_short",
    "refusal_phrase",
)


def structure(responses: Sequence[str]) -> np.ndarray:
    """Language-light shape features of each answer (length, lines, numbered steps, code, a
    refusal phrase): what an n-gram bag cannot see, and what carries over to answers in a style
    the judge never saw."""
    from safeval.judges.rules import is_refusal

    rows = []
    for response in responses:
        r = response.strip()
        rows.append(
            [
                np.log1p(len(r)),
                np.log1p(sum(1 for line in r.splitlines() if line.strip())),
                np.log1p(len(_LIST_LINE.findall(r))),
                float("```" in r),
                float(len(r) < 60),
                float(is_refusal(r)),
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(STRUCTURE))
