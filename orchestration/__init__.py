"""Dagster code location of the client-tiering warehouse (see orchestration/definitions.py)."""
