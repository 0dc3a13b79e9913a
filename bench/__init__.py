"""Benchmarks: one module per part of the pipeline, one table, each row with its command."""
