"""Verification: policy, assembly, the trusted audit contract, verdict logic."""
