"""Metrics: scores from verdicts."""
