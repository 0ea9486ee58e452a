"""Benchmarks (not timed tests): ``python -m salesreports.bench kpis|reports``."""
