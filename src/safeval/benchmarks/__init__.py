"""Benchmarks: load samples and say how their verdicts become scores."""

from safeval.benchmarks.base import Benchmark, BenchmarkOptions, get_benchmark

__all__ = ["Benchmark", "BenchmarkOptions", "get_benchmark"]
