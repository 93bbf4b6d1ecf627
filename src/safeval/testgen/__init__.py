"""Test generation and selection (S-Eval style): new risk prompts written by a generator model
under a taxonomy node, then de-duplicated and selected by riskiness and diversity."""
