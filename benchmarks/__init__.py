"""Benchmarks: `python -m benchmarks [--quick]`. Tables on stdout, JSON in benchmarks/results/."""
