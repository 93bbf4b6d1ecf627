"""`embedded`: a trained response judge that ships inside the package (hashed n-grams and
word-piece vectors, logistic heads for harm, refusal and meaning, a small stacker; numpy and
`tokenizers` at run time, no download). `safeval judge-train` rebuilds its artifact from ../shared/data."""

from pathlib import Path

#: The shipped artifact (its card is model.json beside it).
ARTIFACT = Path(__file__).with_name("model.npz")
#: The logistic heads every artifact holds, and their arrays (weights, bias, Platt scaling).
HEADS = ("harm", "refusal")
HEAD_ARRAYS = tuple(f"{h}_{part}" for h in HEADS for part in ("w", "b", "platt"))
