"""Jobs belong to tenants (store migration 3): a job made before keeps running and stays visible
to the key name that made it; a new job records its tenant."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from proofgate.models import Submission
from proofgate.store import connection
from proofgate.store.connection import MIGRATIONS, connect
from proofgate.store.jobs import JobStore, PreparedItem


async def test_a_job_made_before_tenants_gets_a_legacy_tenant_of_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "store.sqlite3"
    monkeypatch.setattr(connection, "MIGRATIONS", MIGRATIONS[:2])  # a store as it was before
    db = await connect(path)
    await db.close()
    raw = sqlite3.connect(path)
    for job_id, key in (("keyed", "alice"), ("keyless", None)):
        raw.execute(
            "INSERT INTO jobs (id, status, key_name, total, created_at) VALUES (?, 'queued', ?, 1, ?)",
            (job_id, key, time.time()),
        )
    raw.commit()
    raw.close()
    monkeypatch.setattr(connection, "MIGRATIONS", MIGRATIONS)
    store = JobStore(path)
    await store.open()
    try:
        keyed, keyless = await store.job("keyed"), await store.job("keyless")
        assert keyed is not None and keyed.tenant == "legacy-key:alice"
        assert keyless is not None and keyless.tenant == "anonymous"
        item = PreparedItem("c0", Submission(code="theorem t : 1 = 1 := rfl"))
        made = await store.create([item], key_name="bob", tenant="key-0123456789abcdef")
        assert (await store.job(made.id)) == made and made.tenant == "key-0123456789abcdef"
    finally:
        await store.close()
