"""Stand-ins for the programs proofgate runs: the REPL, the Lean compiler, the trusted checker.

Test doubles only: each speaks its real program's interface byte for byte (the REPL protocol,
`lean --json` messages, the checker's JSON contract) and does what a test scripts.
"""
