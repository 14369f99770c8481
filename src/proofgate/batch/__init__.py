"""Batch verification: many submissions from a JSONL file, checked on a local pool, a server or
Ray, with durable, resumable results (`proofgate batch`)."""

from proofgate.batch.executors.base import BatchExecutor, PerItemExecutor
from proofgate.batch.input import BatchItem, BatchRecord, ItemError, header_key, read_items
from proofgate.batch.output import ResultsFile, read_records
from proofgate.batch.runner import BatchSummary, record_outcome, run_batch

__all__ = [
    "BatchExecutor",
    "BatchItem",
    "BatchRecord",
    "BatchSummary",
    "ItemError",
    "PerItemExecutor",
    "ResultsFile",
    "header_key",
    "read_items",
    "read_records",
    "record_outcome",
    "run_batch",
]
