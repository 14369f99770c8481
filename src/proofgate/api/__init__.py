"""HTTP API: one router module per resource, assembled by `proofgate.api.app`."""
