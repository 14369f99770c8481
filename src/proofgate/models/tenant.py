"""Tenants: whose work a worker, a session, a job or a cached verdict belongs to.

A tenant is an API key's identity: a digest of its stored token hash, never its name, so a key
revoked and re-created under the same name is a new tenant. Requests served without a key are the
tenant `anonymous`; in-process fronts (CLI `check`, local `batch`, `ci`, in-process MCP, each Ray
actor) are the tenant `local`. A worker process serves one tenant for its whole life.
"""

from __future__ import annotations

import hashlib

__all__ = ["ANONYMOUS", "LOCAL", "key_tenant"]

#: Requests served without an API key (loopback, or `allow_unauthenticated`).
ANONYMOUS = "anonymous"
#: In-process fronts: the CLI, local batch, CI mode, in-process MCP, a Ray actor.
LOCAL = "local"


def key_tenant(token_sha256: str) -> str:
    """The tenant of the API key stored with this token hash: `key-` and 16 hex digits (a digest
    of the hash, so logs and labels never carry what the keys file stores)."""
    return "key-" + hashlib.sha256(token_sha256.encode("ascii")).hexdigest()[:16]
