"""Stand-ins for the programs the audit runs: the Lean compiler and the trusted checker.

Test doubles only: they speak the real programs' interfaces (argv, `--json` messages, the checker's
JSON contract) and do what a test scripts, never any checking of their own.
"""
