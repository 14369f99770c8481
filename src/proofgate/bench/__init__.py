"""Benchmarks and the simulated backend of `proofgate bench` (never a verification path)."""
