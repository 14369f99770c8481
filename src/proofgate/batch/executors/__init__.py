"""Where a batch is checked: `CheckerExecutor` (in this process, or `--server URL`) and
`RayExecutor` (`--ray [ADDRESS]`, the `ray` extra; imported only when used)."""
