"""Benchmarks: the protocol-path load benchmark (``python -m bench.load``) and its helpers."""
