"""Helpers for tests and benchmarks only; no pipeline code imports this package."""
