"""The shipped embedded judge: loads `model.npz` (no pickles) and scores (prompt, response)
pairs with hashed n-gram features and calibrated logistic heads (harm, refusal) plus a topic
head, in plain numpy."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from safeval.errors import ModelError
from safeval.judges.embedded import ARTIFACT, HEAD_ARRAYS, HEADS
from safeval.judges.embedded.features import (
    STRUCTURE,
    Features,
    category_features,
    featurize,
    structure,
)
from safeval.judges.embedded.meaning import ARRAYS as SEMANTIC
from safeval.judges.embedded.meaning import Lexicon
from safeval.types.generation import storable

#: The harm stacker's arrays: input standardisation and a one-hidden-layer network.
STACK = ("stack_mean", "stack_scale", "stack_w1", "stack_b1", "stack_w2", "stack_b2")
#: The refusal map's arrays: weights over (refusal head score, refusal phrase) and a bias.
REFUSAL_MAP = ("refusal_map_w", "refusal_map_b")
CHUNK = 64


@dataclass(frozen=True)
class Prediction:
    """Calibrated probabilities for one pair."""

    p_harm: float
    p_refusal: float
    category: str | None = None
    p_category: float = 0.0


class EmbeddedModel:
    """The weights of the heads and the featurizer they were trained with."""

    def __init__(self, path: Path = ARTIFACT) -> None:
        from safeval.judges.embedded.features import n_features

        if not path.is_file():
            raise ModelError(
                f"embedded judge artifact not found at {path}: run `safeval judge-train`"
            )
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError) as e:
            raise ModelError(f"{path}: not a valid embedded judge artifact ({e})") from None
        self.path = path
        self.w: dict[str, np.ndarray] = {}
        self.b: dict[str, float] = {}
        self.platt: dict[str, tuple[float, float]] = {}
        for name in HEAD_ARRAYS:
            if name not in arrays:
                raise ModelError(f"{path}: array '{name}' missing")
        for h in HEADS:
            w = arrays[f"{h}_w"].astype(np.float32)
            if w.shape != (n_features(),):
                raise ModelError(
                    f"{path}: head '{h}' has {w.shape} weights, the featurizer makes "
                    f"{n_features()}: retrain with `safeval judge-train`"
                )
            self.w[h] = w
            self.b[h] = float(arrays[f"{h}_b"][0])
            a, c = arrays[f"{h}_platt"]
            self.platt[h] = (float(a), float(c))
        self.stack = {k: arrays[k].astype(np.float64) for k in STACK if k in arrays}
        if self.stack and len(self.stack) != len(STACK):
            raise ModelError(f"{path}: stacker arrays incomplete ({sorted(self.stack)})")
        self.semantic = _semantic(path, arrays)
        if self.stack:
            inputs = 2 + (self.semantic is not None) + len(STRUCTURE)
            if self.stack["stack_mean"].shape != (inputs,):
                raise ModelError(
                    f"{path}: the stacker reads {self.stack['stack_mean'].shape} inputs, this "
                    f"artifact gives it {inputs}: retrain with `safeval judge-train`"
                )
        self.refusal_map = {k: arrays[k].astype(np.float64) for k in REFUSAL_MAP if k in arrays}
        if self.refusal_map and len(self.refusal_map) != len(REFUSAL_MAP):
            raise ModelError(f"{path}: refusal map arrays incomplete ({sorted(self.refusal_map)})")
        self.cat_w = arrays["cat_w"].astype(np.float32) if "cat_w" in arrays else None
        self.cat_b = arrays["cat_b"].astype(np.float32) if "cat_b" in arrays else None
        self.cat_names = [str(c) for c in arrays.get("cat_names", [])]
        card = path.with_suffix(".json")
        self.card = json.loads(card.read_text(encoding="utf-8")) if card.is_file() else {}

    def proba(self, head: str, x: Features) -> np.ndarray:
        """Calibrated probabilities of `head` for a batch's features."""
        score = x.dot(self.w[head]) + self.b[head]
        a, c = self.platt[head]
        return np.asarray(1.0 / (1.0 + np.exp(-(a * score + c))))

    def raw(self, head: str, x: Features) -> np.ndarray:
        """The head's uncalibrated score (a logit)."""
        return np.asarray(x.dot(self.w[head]) + self.b[head])

    def harm(
        self,
        x: Features,
        prompts: Sequence[str],
        responses: Sequence[str],
        shape: np.ndarray | None = None,
    ) -> np.ndarray:
        """P(harm): the stacker over the heads' scores and the answers' shape (`structure`,
        computed here unless given) where the artifact has one, else the harm head's own
        calibrated probability."""
        if not self.stack:
            return self.proba("harm", x)
        s = self.stack
        if shape is None:
            shape = structure(responses)
        cols = [self.raw("harm", x), self.raw("refusal", x)]
        if self.semantic is not None:
            cols.append(self.semantic.score(prompts, responses))
        z = np.column_stack([*cols, shape])
        h = np.maximum(
            0.0, ((z - s["stack_mean"]) / s["stack_scale"]) @ s["stack_w1"] + s["stack_b1"]
        )
        out = h @ s["stack_w2"] + s["stack_b2"]
        return np.asarray(1.0 / (1.0 + np.exp(-out.ravel())))

    def refusal(self, x: Features, shape: np.ndarray) -> np.ndarray:
        """P(refusal): the refusal map over the head's score and the refusal phrase where the
        artifact has one, else the head's Platt-calibrated probability."""
        if not self.refusal_map:
            return self.proba("refusal", x)
        phrase = shape[:, STRUCTURE.index("refusal_phrase")]
        w, b = self.refusal_map["refusal_map_w"], self.refusal_map["refusal_map_b"]
        z = w[0] * self.raw("refusal", x) + w[1] * phrase + b[0]
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    def predict(self, prompts: Sequence[str], responses: Sequence[str]) -> list[Prediction]:
        """One prediction per pair; batches are much faster than single calls (and are cut into
        chunks that stay in the CPU cache)."""
        if len(prompts) > CHUNK:
            return [
                p
                for i in range(0, len(prompts), CHUNK)
                for p in self._predict(prompts[i : i + CHUNK], responses[i : i + CHUNK])
            ]
        return self._predict(prompts, responses)

    def _predict(self, prompts: Sequence[str], responses: Sequence[str]) -> list[Prediction]:
        # Text from outside the runner (a library caller) may hold a lone surrogate, which
        # neither the hashing nor the tokenizer can encode.
        prompts, responses = [storable(t) for t in prompts], [storable(t) for t in responses]
        x = featurize(prompts, responses)
        shape = structure(responses)
        ph, pr = self.harm(x, prompts, responses, shape), self.refusal(x, shape)
        cats: list[tuple[str | None, float]] = [(None, 0.0)] * len(ph)
        if self.cat_w is not None and self.cat_b is not None:
            z = category_features(prompts).dot_many(self.cat_w) + self.cat_b
            z = np.exp(z - z.max(axis=1, keepdims=True))
            z /= z.sum(axis=1, keepdims=True)
            best = z.argmax(axis=1)
            cats = [(self.cat_names[k], float(z[i, k])) for i, k in enumerate(best)]
        return [
            Prediction(float(h), float(r), c, pc)
            for h, r, (c, pc) in zip(ph, pr, cats, strict=True)
        ]


class SemanticHead:
    """The semantic head (`meaning`): word-piece vectors in, a logit out."""

    def __init__(self, lexicon: Lexicon, w: np.ndarray, b: float) -> None:
        self.lexicon, self.w, self.b = lexicon, w, b

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """The head's logit for each pair."""
        return np.asarray(self.lexicon.features(prompts, responses) @ self.w + self.b)


def _semantic(path: Path, arrays: dict[str, np.ndarray]) -> SemanticHead | None:
    """The artifact's semantic head: all of its arrays, or none (an older artifact)."""
    have = [k for k in SEMANTIC if k in arrays]
    if not have:
        return None
    if len(have) != len(SEMANTIC):
        raise ModelError(f"{path}: semantic head arrays incomplete ({sorted(have)})")
    vectors = arrays["sem_vectors"]
    vocab = [str(t) for t in arrays["sem_vocab"]]
    w = arrays["sem_w"].astype(np.float32)
    if vectors.shape[0] != len(vocab) or w.shape != (3 * vectors.shape[1],):
        raise ModelError(
            f"{path}: semantic head shapes disagree (vocab {len(vocab)}, vectors "
            f"{vectors.shape}, weights {w.shape})"
        )
    lexicon = Lexicon(vocab, vectors, arrays["sem_weights"])
    return SemanticHead(lexicon, w, float(arrays["sem_b"][0]))


@lru_cache(maxsize=4)
def load_model(path: str = str(ARTIFACT)) -> EmbeddedModel:
    """The model at `path`, loaded once per process."""
    return EmbeddedModel(Path(path))
