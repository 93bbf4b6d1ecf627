"""`safeval judge-train`: build the embedded judge's artifact from ../shared/data,
deterministically (fixed data order, deterministic solver, no random state)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from safeval.judges.embedded.data import (
    HUMAN_HARM,
    SHIPPABLE,
    TEST_ONLY,
    Example,
    bucket,
    load_all,
    strip_opening,
)
from safeval.judges.embedded.features import (
    BLOCKS,
    CATEGORY_BITS,
    STRUCTURE,
    category_features,
    featurize,
    n_features,
    structure,
)
from safeval.judges.embedded.meaning import DIM

FORMAT_VERSION = 1
#: A source contributes at most this much total weight, so a big chit-chat set cannot drown
#: the jailbreak sets.
SOURCE_CAP = 3000.0
C_HARM = 16.0
C_REFUSAL = 2.0
#: Inverse regularisation of the semantic head (dense, 3 x meaning.DIM inputs).
C_SEMANTIC = 1.0
FOLDS = 4
#: Hidden units of the harm stacker.
STACK_HIDDEN = 16
WEAK_REFUSAL_SOURCES = ("gptfuzz", "jbb_llama3", "llm_self_defense")


@dataclass
class Head:
    """A logistic head: weights, bias and the Platt map from its score to a probability; `folds`
    are the models fitted without each fold (for out-of-fold scores; not shipped)."""

    w: np.ndarray
    b: float
    platt: tuple[float, float]
    folds: list[tuple[np.ndarray, float]] = field(default_factory=list)


def _weights(rows: list[Example]) -> np.ndarray:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.source] = counts.get(r.source, 0) + 1
    return np.array([min(1.0, SOURCE_CAP / counts[r.source]) for r in rows])


def fold_of(row: Example) -> int:
    """The cross-validation fold of a row's group (source and question stay together)."""
    return bucket(f"{row.source}:{row.group}", FOLDS)


def harm_rows(train: list[Example]) -> list[Example]:
    """Training rows for the harm head: labelled, deduplicated; JADE answers also appear with
    their first sentence removed so the style of the opening is not the whole signal."""
    seen: set[tuple[str, str, int]] = set()
    out: list[Example] = []
    for e in train:
        if e.harm is None:
            continue
        variants = [e]
        if e.source == "jade":
            variants.append(_replace(e, response=strip_opening(e.response)))
        for v in variants:
            key = (v.prompt, v.response, int(v.harm or 0))
            if key not in seen:
                seen.add(key)
                out.append(v)
    return out


def refusal_rows(train: list[Example]) -> list[Example]:
    """Training rows for the refusal head: human refusal labels (XSTest), JADE's safe and
    unsafe answers, and weak labels elsewhere: a harmful answer did not refuse; a harmless one
    that opens with a refusal phrase did."""
    from safeval.judges.rules import is_refusal

    seen: set[tuple[str, str]] = set()
    out: list[Example] = []
    for e in train:
        lab = e.refusal
        if lab is None and e.source in WEAK_REFUSAL_SOURCES and e.harm is not None:
            if e.harm == 1:
                lab = 0
            elif is_refusal(e.response):
                lab = 1
        if lab is None or (e.prompt, e.response) in seen:
            continue
        seen.add((e.prompt, e.response))
        out.append(_replace(e, refusal=lab))
    return out


def _replace(e: Example, **kw: Any) -> Example:
    from dataclasses import replace

    return replace(e, **kw)


def _fit(x: Any, y: np.ndarray, w: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(C=c, solver="liblinear", max_iter=200, random_state=0)
    m.fit(x, y, sample_weight=w)
    return m.coef_.ravel().astype(np.float32), float(m.intercept_[0])


def fit_head(x: Any, y: np.ndarray, w: np.ndarray, folds: np.ndarray, c: float) -> Head:
    """Fit on all rows; calibrate with Platt scaling on out-of-fold scores (folds by group)."""
    from sklearn.linear_model import LogisticRegression

    oof = np.zeros(len(y))
    fold_models = []
    for k in range(FOLDS):
        tr, te = folds != k, folds == k
        wk, bk = _fit(x[tr], y[tr], w[tr], c)
        oof[te] = x[te] @ wk + bk
        fold_models.append((wk, bk))
    platt = LogisticRegression(C=1e4, solver="lbfgs")
    platt.fit(oof.reshape(-1, 1), y, sample_weight=w)
    coef, bias = _fit(x, y, w, c)
    # float16 storage: round now so the calibration sees what ships.
    coef = coef.astype(np.float16).astype(np.float32)
    return Head(coef, bias, (float(platt.coef_[0, 0]), float(platt.intercept_[0])), fold_models)


#: The refusal labels the refusal map learns from: people's (XSTest) and JADE's by
#: construction; the weak labels elsewhere are themselves read off a refusal phrase.
REFUSAL_MAP_SOURCES = frozenset({"xstest", "jade"})


def fit_refusal_map(rows: list[Example], x: Any, folds: np.ndarray, head: Head) -> dict[str, Any]:
    """P(refusal) from the refusal head's out-of-fold score and whether the answer has a
    refusal phrase (`rules.is_refusal`, which knows Chinese and English phrasings): the head
    alone learnt JADE's one Chinese way of refusing and put "抱歉，我不能提供…" at 0.47."""
    from sklearn.linear_model import LogisticRegression

    keep = np.flatnonzero([r.source in REFUSAL_MAP_SOURCES for r in rows])
    x, folds = x[keep], folds[keep]
    oof = np.zeros(len(keep))
    for k in range(FOLDS):
        wk, bk = head.folds[k]
        oof[folds == k] = x[folds == k] @ wk + bk
    kept = [rows[i] for i in keep]
    phrase = structure([r.response for r in kept])[:, STRUCTURE.index("refusal_phrase")]
    z = np.column_stack([oof, phrase])
    y = np.array([int(r.refusal or 0) for r in kept])
    m = LogisticRegression(C=1.0, solver="lbfgs")
    m.fit(z, y)
    return {"refusal_map_w": m.coef_.ravel(), "refusal_map_b": m.intercept_}


def fit_semantic(rows: list[Example], folds: np.ndarray) -> dict[str, Any]:
    """The semantic head: a logistic model over the word-piece vectors of answer and request
    (`meaning`), with its out-of-fold scores (folds by question) for the stacker. Alone it is
    weak (75 % on English human labels); stacked, it moved the held-out English figures by
    about a point, most on the source never trained on."""
    from sklearn.linear_model import LogisticRegression

    from safeval.judges.embedded import meaning

    vocab, vectors = meaning.distil()
    probe = meaning.Lexicon(vocab, vectors, np.ones(len(vocab)))
    ids = probe.ids([r.response for r in rows], meaning.MAX_CHARS["response"])
    ids += probe.ids([r.prompt for r in rows], meaning.MAX_CHARS["prompt"])
    # float16 storage: round now so the head is fitted on what ships.
    weights = meaning.sif_weights(ids, len(vocab)).astype(np.float16)
    vectors = vectors.astype(np.float16)
    lex = meaning.Lexicon(vocab, vectors, weights)
    x = lex.features([r.prompt for r in rows], [r.response for r in rows])
    y = np.array([int(r.harm or 0) for r in rows])
    w = _weights(rows)

    def fit(keep: np.ndarray) -> Any:
        m = LogisticRegression(C=C_SEMANTIC, solver="lbfgs", max_iter=2000)
        return m.fit(x[keep], y[keep], sample_weight=w[keep])

    oof = np.zeros(len(rows))
    for k in range(FOLDS):
        oof[folds == k] = fit(folds != k).decision_function(x[folds == k])
    full = fit(np.ones(len(rows), dtype=bool))
    return {
        "oof": oof,
        "arrays": {
            "sem_vocab": np.array(vocab, dtype=str),
            "sem_vectors": vectors,
            "sem_weights": weights,
            "sem_w": full.coef_.ravel().astype(np.float32),
            "sem_b": full.intercept_.astype(np.float32),
        },
    }


def fit_stacker(
    rows: list[Example],
    x: Any,
    folds: np.ndarray,
    heads: dict[str, Head],
    semantic: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The harm stacker: a small network over the out-of-fold scores of both heads (and of the
    semantic head, when given) and the answers' shape (`features.structure`), trained on the
    harm rows. It learns what a sum of n-gram weights cannot: a harmful request AND an answer
    that complies, whatever its style."""
    from sklearn.neural_network import MLPClassifier

    oof = np.zeros((len(rows), 2))
    for k in range(FOLDS):
        te = folds == k
        for j, head in enumerate(("harm", "refusal")):
            wk, bk = heads[head].folds[k]
            oof[te, j] = x[te] @ wk + bk
    if semantic is not None:
        oof = np.column_stack([oof, semantic])
    z = np.column_stack([oof, structure([r.response for r in rows])])
    y = np.array([int(r.harm or 0) for r in rows])
    mean, scale = z.mean(axis=0), z.std(axis=0) + 1e-9
    net = MLPClassifier((STACK_HIDDEN,), alpha=1e-3, max_iter=500, random_state=0)
    net.fit((z - mean) / scale, y)
    return {
        "stack_mean": mean,
        "stack_scale": scale,
        "stack_w1": net.coefs_[0],
        "stack_b1": net.intercepts_[0],
        "stack_w2": net.coefs_[1],
        "stack_b2": net.intercepts_[1],
    }


def train(
    root: Path,
    sources: list[str] | None = None,
    log: Any = print,
    only: tuple[str, ...] = ("harm", "refusal"),
    max_rows: int | None = None,
) -> tuple[dict[str, Head], dict[str, Any]]:
    """The harm and refusal heads (and, when both are trained, the harm stacker, in
    `info["stack"]`) trained on the train splits of the shippable sources (`max_rows`: at most
    that many train rows per source, for quick checks)."""
    names = sources or list(SHIPPABLE)
    bad = [s for s in names if s not in SHIPPABLE]
    if bad:
        from safeval.errors import ConfigError

        raise ConfigError(f"not shippable / unknown training sources: {bad}")
    t0 = time.perf_counter()
    train_rows = []
    for name in names:
        rows = [e for e in load_all(root, [name]) if e.split == "train"]
        train_rows += rows[:max_rows] if max_rows else rows
    heads: dict[str, Head] = {}
    info: dict[str, Any] = {"sources": {}, "rows": {}}
    harm_x: Any = None
    harm_data: list[Example] = []
    harm_folds = np.zeros(0, dtype=int)
    for head, rows_fn, c, label in (
        ("harm", harm_rows, C_HARM, "harm"),
        ("refusal", refusal_rows, C_REFUSAL, "refusal"),
    ):
        if head not in only:
            continue
        rows = rows_fn(train_rows)
        x = featurize([r.prompt for r in rows], [r.response for r in rows]).to_csr(n_features())
        y = np.array([int(getattr(r, label)) for r in rows])
        if len(set(y.tolist())) < 2:
            from safeval.errors import ConfigError

            raise ConfigError(f"the {head} head needs both labels; add training sources")
        folds = np.array([fold_of(r) for r in rows])
        heads[head] = fit_head(x, y, _weights(rows), folds, c)
        if head == "harm":
            harm_x, harm_data, harm_folds = x, rows, folds
        else:
            info["refusal_map"] = fit_refusal_map(rows, x, folds, heads[head])
        info["rows"][head] = len(rows)
        for r in rows:
            info["sources"].setdefault(r.source, {}).setdefault(head, 0)
            info["sources"][r.source][head] += 1
        log(f"{head}: {len(rows)} rows, {time.perf_counter() - t0:.0f}s")
    if "harm" in heads and "refusal" in heads:
        semantic = fit_semantic(harm_data, harm_folds)
        info["semantic"] = semantic["arrays"]
        log(f"semantic head: {len(harm_data)} rows, {time.perf_counter() - t0:.0f}s")
        info["stack"] = fit_stacker(harm_data, harm_x, harm_folds, heads, semantic["oof"])
        log(f"stacker: {len(harm_data)} rows, {time.perf_counter() - t0:.0f}s")
    return heads, info


def category_head(root: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A topic head over JailbreakBench's ten behaviour categories (MIT), from its 100 harmful
    and 100 benign behaviours (goal and behaviour name). English and small: it names a
    category only when it is fairly sure."""
    import csv

    from sklearn.linear_model import LogisticRegression

    texts, labels = [], []
    for name in ("harmful-behaviors.csv", "benign-behaviors.csv"):
        p = root / "jailbreakbench" / name
        with p.open(encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                texts.append(f"{r['Goal']} ({r['Behavior']})")
                labels.append(r["Category"])
    cats = sorted(set(labels))
    y = np.array([cats.index(c) for c in labels])
    m = LogisticRegression(C=10.0, solver="lbfgs", max_iter=1000)
    m.fit(category_features(texts).to_csr(1 << CATEGORY_BITS), y)
    return m.coef_.astype(np.float16), m.intercept_.astype(np.float32), cats


def save(
    heads: dict[str, Head],
    info: dict[str, Any],
    out: Path,
    category: tuple[np.ndarray, np.ndarray, list[str]] | None = None,
) -> dict[str, Any]:
    """Write `out` (npz, no pickles) and the model card `out` with .json beside it."""
    arrays: dict[str, np.ndarray] = {}
    if category is not None:
        arrays["cat_w"], arrays["cat_b"] = category[0], category[1]
        arrays["cat_names"] = np.array(category[2], dtype=str)
    for key, arr in {**info.get("stack", {}), **info.get("refusal_map", {})}.items():
        arrays[key] = np.asarray(arr, dtype=np.float32)
    arrays.update(info.get("semantic", {}))
    for name, h in heads.items():
        arrays[f"{name}_w"] = h.w.astype(np.float16)
        arrays[f"{name}_b"] = np.array([h.b], dtype=np.float32)
        arrays[f"{name}_platt"] = np.array(h.platt, dtype=np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, allow_pickle=False, **arrays)  # type: ignore[arg-type]
    tmp.replace(out)
    digest = weights_hash(arrays)
    card = {
        "name": "embedded",
        "format_version": FORMAT_VERSION,
        "n_features": n_features(),
        "feature_blocks": [list(b) for b in BLOCKS],
        "structure_features": list(STRUCTURE),
        "weights_sha256": digest,
        "heads": {
            "harm": "P(answer is harmful): a 16-unit network over the harm, refusal and "
            "semantic heads' out-of-fold scores and the answer's shape (features.STRUCTURE); "
            "the harm head alone is Platt-calibrated on out-of-fold scores",
            "semantic": "logistic, over word-piece vectors of answer and request "
            f"({DIM} dimensions, distilled from all-MiniLM-L6-v2, Apache-2.0; "
            "judges/embedded/meaning.py)",
            "refusal": "P(answer declines the request): a logistic map over the refusal head's "
            "out-of-fold score and the refusal phrase (rules.is_refusal), fitted on XSTest's "
            "and JADE's refusal labels; the head alone is Platt-calibrated",
            "category": "JailbreakBench behaviour category of the request (10 classes, "
            "trained on its 200 behaviours; English)",
        },
        "trained_on": {
            s: {"licence": SHIPPABLE[s], "human_harm_labels": HUMAN_HARM[s], "rows": n}
            for s, n in sorted(info["sources"].items())
        },
        "not_trained_on": TEST_ONLY,
        "splits": "train splits only: GPTFuzz train.csv; JADE 80% of question ids; Latent "
        "Jailbreak P1; DiaSafety train.json; LLM Self-Defense 80% of prompts; JailbreakBench "
        "behaviours with index % 5 != 0; XSTest prompt ids outside the held-out fifth; SafetyBench "
        "questions outside the held-out fifth (by id); Latent Jailbreak benign types P14-P18 "
        "for two of their four sentences",
        "rows": info["rows"],
        "trained_with": library_versions(),
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    return card


def library_versions() -> dict[str, str]:
    """What the weights' last bits depend on: the same data with the same versions gives the
    same weights hash; another scikit-learn or BLAS moves a few weights by a float16 step."""
    import platform
    from importlib.metadata import version

    out = {"python": platform.python_version(), "machine": platform.machine()}
    for dist in ("numpy", "scipy", "scikit-learn", "torch", "transformers", "tokenizers"):
        out[dist] = version(dist)
    return out


def weights_hash(arrays: dict[str, np.ndarray]) -> str:
    """sha256 over the arrays' names and bytes, in name order."""
    h = hashlib.sha256()
    for k in sorted(arrays):
        h.update(k.encode())
        h.update(np.ascontiguousarray(arrays[k]).tobytes())
    return h.hexdigest()


#: The held-out files `--holdout` writes, and the sources in each.
HOLDOUT_FILES = {
    "human.jsonl": ("gptfuzz", "latent_jailbreak", "jailjudge"),
    "other_labels.jsonl": (
        "jade",
        "jade_stripped",
        "xstest",
        "jbb_llama3",
        "diasafety",
        "llm_self_defense",
        "safetybench_qa",
        "latent_jailbreak_benign",
    ),
    "safe_rlhf.jsonl": ("safe_rlhf",),
}


def write_holdout(root: Path, folder: Path) -> list[Path]:
    """The test splits as judge-eval JSONL: human harm labels, other labels (construction,
    derived, model-made, unstated; `jade_stripped` is JADE's test answers without their first
    sentence), and the noisy PKU-SafeRLHF set."""
    from dataclasses import replace

    test = [e for e in load_all(root) if e.split == "test" and e.harm is not None]
    test += [
        replace(e, source="jade_stripped", response=strip_opening(e.response))
        for e in test
        if e.source == "jade"
    ]
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, sources in HOLDOUT_FILES.items():
        p = folder / name
        with p.open("w", encoding="utf-8") as fh:
            for e in test:
                if e.source in sources:
                    fh.write(json.dumps(e.to_json(), ensure_ascii=False) + "\n")
        written.append(p)
    return written
