"""Where a batch is checked: `LocalBackend` (in-process pool), `ServerBackend` (`--server URL`)
and `RayBackend` (`--ray [ADDRESS]`, the `ray` extra; imported only when used)."""
