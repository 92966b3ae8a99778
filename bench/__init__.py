"""Benchmarks (not tests): `make bench` / `python -m bench [NAME...]` writes docs/benchmarks.md."""
