"""Model adapters: every target, attacker and judge model goes through `ModelAPI`."""

from safeval.models.base import ModelAPI, get_model, parse_model_args

__all__ = ["ModelAPI", "get_model", "parse_model_args"]
