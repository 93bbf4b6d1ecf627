"""`embedded`: a trained response judge that ships inside the package (hashed n-grams and
calibrated logistic heads for harm and refusal; numpy and scikit-learn's hasher at run time,
no download). `safeval judge-train` rebuilds its artifact from ../shared/data."""

from pathlib import Path

#: The shipped artifact (its card is model.json beside it).
ARTIFACT = Path(__file__).with_name("model.npz")
#: The logistic heads every artifact holds (arrays `<head>_w`, `<head>_b`, `<head>_platt`).
HEADS = ("harm", "refusal")
