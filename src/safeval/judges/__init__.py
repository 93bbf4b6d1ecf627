"""Judges: turn a stored answer into a verdict (`Score`)."""

from safeval.judges.base import Judge, get_judge

__all__ = ["Judge", "get_judge"]
