"""Training data from verified proofs (`proofgate extract`): one record per tactic step and one per
proof, for the items whose verdict the trusted audit decided `proved`.

- `records`: the records' schema (`StepRecord`, `ProofRecord`, `SCHEMA`), documented in
  docs/extract.md;
- `signed`: signed results (a verdict taken without checking again only when signed);
- `steps`: where the verdicts and tactic steps come from: `CheckerService.check_with_tactics`, in
  this process or on a server (`POST /v1/check/steps`);
- `runner`: the run: items in, records out in input order.
"""

from proofgate.extract.records import SCHEMA, ProofRecord, StepRecord, parse_record
from proofgate.extract.runner import ExtractOptions, ExtractSummary, Pending, run_extract

__all__ = [
    "SCHEMA",
    "ExtractOptions",
    "ExtractSummary",
    "Pending",
    "ProofRecord",
    "StepRecord",
    "parse_record",
    "run_extract",
]
