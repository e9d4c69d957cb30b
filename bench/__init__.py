"""Benchmarks: each ``bench_*.py`` prints a table of ratios measured in one run."""
