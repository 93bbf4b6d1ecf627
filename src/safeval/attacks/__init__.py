"""Attacks: transforms that turn a base sample into adversarial variants."""

from safeval.attacks.base import Attack, get_attack

__all__ = ["Attack", "get_attack"]
