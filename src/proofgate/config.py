"""One typed settings object for every front (HTTP, CLI, CI), read from `PROOFGATE_*` variables.

Every download location is a setting, so tests can point them at a refusing port on loopback.
"""

from __future__ import annotations

import ipaddress
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

NameList = Annotated[list[str], NoDecode]

#: Root of the proofgate source tree when run from a checkout (holds `lakefile.lean`).
SOURCE_ROOT = Path(__file__).resolve().parents[2]


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "proofgate"


def _default_workers() -> int:
    """A Mathlib worker holds a few GiB of private memory; leave a core for the service."""
    try:
        import psutil

        memory_gib = psutil.virtual_memory().total / 2**30
    except Exception:  # pragma: no cover - psutil is a dependency, this is belt and braces
        memory_gib = 8.0
    by_cores = max(1, (os.cpu_count() or 2) - 1)
    by_memory = max(1, int(memory_gib // 6))
    return min(by_cores, by_memory)


class Settings(BaseSettings):
    """proofgate's configuration. Every field is `PROOFGATE_<NAME>` in the environment."""

    model_config = SettingsConfigDict(
        env_prefix="PROOFGATE_",
        env_file=None,
        extra="ignore",
        validate_default=True,
    )

    # --- service -------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address to bind.")
    port: int = Field(8000, ge=1, le=65535, description="Port to bind.")
    api_keys_file: Path | None = Field(
        None, description="Where hashed API keys are kept (default: DATA_DIR/keys.json)."
    )
    allow_unauthenticated: bool = Field(
        False, description="Serve non-loopback addresses without API keys (not recommended)."
    )
    metrics_key_labels: bool = Field(
        False,
        description="Label `/metrics` series by API key name (`/metrics` is open to anyone: by "
        "default the counts are summed over keys).",
    )
    max_body_bytes: int = Field(1_000_000, ge=1_024, description="Largest request body accepted.")
    max_batch_items: int = Field(
        10_000, ge=1, description="Most submissions one `POST /v1/batch` may carry."
    )
    batch_concurrency: int | None = Field(
        None, ge=1, le=4096, description="Batch items checked at once (default: 2 x workers)."
    )
    resume_jobs: bool = Field(
        True, description="Resume batch jobs a restart interrupted (else mark them failed)."
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool = Field(True, description="Log one JSON object a line.")

    # --- Lean side -----------------------------------------------------------------------
    lean_home: Path | None = Field(
        None, description="Directory holding `bin/lean` and `bin/lake` (default: elan's toolchain)."
    )
    elan_home: Path = Field(
        Path.home() / ".elan", description="Where elan keeps toolchains (ELAN_HOME)."
    )
    project_dir: Path = Field(
        SOURCE_ROOT, description="The root Lake project (`default` environment)."
    )
    data_dir: Path = Field(default_factory=_default_data_dir, description="Cache, jobs, keys.")
    repl_command: str | None = Field(
        None,
        description="Override the REPL command (shell words); default `lake env <repl binary>`.",
    )

    # --- downloads (settings so tests can point them at loopback) --------------------------
    elan_installer_url: str = (
        "https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh"
    )
    toolchain_release_url: str = "https://github.com/leanprover/lean4/releases"
    mathlib_cache_url: str | None = Field(
        None,
        description=(
            "Mathlib cache mirror: a host serving Mathlib's whole cache namespace, passed to "
            "`lake exe cache get` as MATHLIB_CACHE_BASE_URL (older Mathlib revisions hard-code "
            "their location; `setup` refuses a mirror the checked-out Mathlib would ignore)."
        ),
    )
    download_timeout: float = Field(10.0, gt=0, description="Seconds before a download gives up.")

    # --- pool ----------------------------------------------------------------------------
    workers: int = Field(default_factory=_default_workers, ge=1, le=256)
    spare_workers: int = Field(1, ge=0, le=16, description="Warm spares kept for recovery.")
    max_queue: int = Field(256, ge=1, description="Requests waiting for a worker before 503.")
    max_workers_per_tenant: int | None = Field(
        None,
        ge=1,
        description="Busy workers one tenant (API key) may hold while another tenant waits "
        "(default: half of `workers`, at least 1).",
    )
    max_queue_per_tenant: int | None = Field(
        None,
        ge=1,
        description="Requests one tenant may have waiting while another tenant is active, "
        "before 429 (default: half of `max_queue`, at least 1).",
    )
    min_workers_per_environment: int = Field(
        1,
        ge=0,
        le=256,
        description="Busy workers each environment's waiting requests may claim however loaded "
        "the others are: a slot freed by an environment over it goes to one under it (0: none).",
    )
    queue_wait: float = Field(30.0, gt=0, description="Seconds a request may wait for a worker.")
    prewarm_headers: NameList = Field(default_factory=lambda: ["import Mathlib"])
    request_timeout: float = Field(60.0, gt=0, le=3600, description="Wall-clock seconds a check.")
    import_timeout: float = Field(300.0, gt=0, description="Seconds a header import may take.")
    memory_limit_mb: int = Field(8192, ge=64, description="Private memory cap of one worker.")
    recycle_after: int = Field(200, ge=1, description="Requests a worker serves before recycling.")

    # --- proof sessions (proofgate.sessions) ----------------------------------------------
    session_ttl: float = Field(
        1800.0,
        gt=0,
        le=86_400,
        description="Seconds a proof session may sit idle before it expires.",
    )
    max_sessions_per_key: int = Field(
        8, ge=1, le=4096, description="Open sessions one API key (or the keyless caller) may hold."
    )
    max_sessions: int = Field(256, ge=1, description="Open proof sessions in all.")
    max_session_states: int = Field(
        5000, ge=2, description="Proof states one session may create before it must start over."
    )
    session_workers: int = Field(
        2, ge=1, le=64, description="Long-lived REPL processes that serve sessions, in all."
    )
    session_recycle_after: int = Field(
        5000, ge=1, description="Commands a session worker runs before it is replaced (replayed)."
    )

    # --- sandbox -------------------------------------------------------------------------
    sandbox: Literal["auto", "bwrap", "none"] = Field(
        "auto", description="`none` runs Lean unjailed: local development only."
    )
    max_processes: int = Field(
        64,
        ge=4,
        description="Processes (and threads) one worker or compile may have; raised to fit "
        "`lean_threads` (`proofgate.lean.launch.process_cap`).",
    )
    lean_threads: int = Field(
        1,
        ge=1,
        le=256,
        description="Task-manager threads of every Lean process the service starts (`-j` for "
        "`lean`, LEAN_NUM_THREADS for the REPL, Lake and the checkers). Lean's default is the "
        "core count; 1 keeps one busy thread per worker, as the pool already runs one worker a "
        "core and a submission is one small file, and keeps the process caps small.",
    )

    # --- verification --------------------------------------------------------------------
    policy: Literal["strict", "permissive"] = "strict"
    allowed_axioms: NameList = Field(
        default_factory=lambda: ["propext", "Classical.choice", "Quot.sound"]
    )
    heartbeat_cap: int = Field(
        1_000_000, ge=1, description="Highest maxHeartbeats allowed (0 would mean no limit)."
    )
    cache_enabled: bool = True
    report_key: str | None = Field(
        None,
        repr=False,
        description="Signs reproducible reports (HMAC-SHA256); unset: a key made on first use "
        "in DATA_DIR/report.key (mode 0600).",
    )
    audit_timeout: float = Field(120.0, gt=0)
    checker_command: str | None = Field(
        None,
        description="The trusted checker (shell words); default `lake env "
        "<environment>/.lake/build/bin/proofgate-checker`.",
    )
    compile_command: str = Field(
        "lake env lean", description="Compiles one file to an .olean for the audit (shell words)."
    )
    audit_checker: Literal["oneshot", "warm"] = Field(
        "oneshot",
        description="How the audit's trusted checker runs. `oneshot`: one checker process a "
        "check reads both .olean files (contract 1). `warm`: each .olean is turned into an "
        "export by `proofgate-export` in a jail, and a pool of long-lived checkers (Mathlib "
        "imported once) judges the exports (contract 2, docs/audit-design.md step 4). `warm` "
        "is untested against real Lean.",
    )
    export_command: str | None = Field(
        None,
        description="The exporter (shell words), for `audit_checker=warm`; default `lake env "
        "<environment>/.lake/build/bin/proofgate-export`.",
    )
    audit_compiler: Literal["lean", "elab", "zygote"] = Field(
        "lean",
        description="What elaborates the submission and the locked statement for the audit. "
        "`lean`: `lean -o` compiles each to an .olean (with `audit_checker=warm`, exported by "
        "`proofgate-export` in the same jail). `elab`: one `proofgate-elab` process each (import, "
        "elaborate, reply, export: docs/audit-design.md step 6). `zygote`: a child forked from a "
        "zygote that imported the header once elaborates each, and `/v1/check` takes its "
        "feedback from that child instead of a REPL worker (step 8). Both need "
        "`audit_checker=warm`; both are untested against real Lean.",
    )
    elab_command: str | None = Field(
        None,
        description="The one-shot elaborator (shell words), for `audit_compiler=elab`; default "
        "`lake env <environment>/.lake/build/bin/proofgate-elab`.",
    )
    zygote_command: str | None = Field(
        None,
        description="The elaboration zygote (shell words), for `audit_compiler=zygote`; default "
        "`lake env <environment>/.lake/build/bin/proofgate-elab --zygote`.",
    )
    zygotes: int = Field(
        2, ge=1, le=64, description="Live zygotes (one per environment and header), at most."
    )
    checkers: int = Field(
        2, ge=1, le=64, description="Warm checkers per environment (`audit_checker=warm`)."
    )
    checker_recycle: int = Field(
        1_000, ge=1, description="A warm checker is replaced after this many checks."
    )
    audit_check_timeout: float = Field(
        20.0, gt=0, le=3600, description="Seconds a warm checker may take over one check."
    )
    leanchecker: bool = Field(
        False,
        description="Replay the submission's module a second time with the toolchain's "
        "`leanchecker` (Lean v4.28+) and name it in the verdict when it disagrees: a second "
        "opinion on the kernel, not a defence against a tampered .olean (it rebuilds nothing).",
    )
    leanchecker_command: str = Field(
        "lake env leanchecker",
        min_length=1,
        description="Runs leanchecker (shell words); the module name is appended.",
    )

    # --- triage (proofgate.triage) ----------------------------------------------------------
    triage_closers: NameList = Field(
        default_factory=lambda: [
            "decide",
            "norm_num",
            "simp",
            "omega",
            "linarith",
            "positivity",
            "aesop",
        ],
        description="Cheap closers triage tries, in order (JSON list, or comma-separated).",
    )
    triage_budget: float = Field(
        10.0, gt=0, le=3600, description="Seconds all of one statement's probes may take."
    )
    triage_probe_timeout: float = Field(
        5.0, gt=0, le=3600, description="Wall-clock seconds one probe may take."
    )
    triage_heartbeats: int = Field(
        100_000, ge=0, description="maxHeartbeats of one probe (0: Lean's default; <= the cap)."
    )

    # --- reward mode (proofgate.rewards, `POST /v1/rewards`) ---------------------------------
    reward_proved: float = Field(
        1.0, allow_inf_nan=False, description="The reward of a `proved` completion."
    )
    reward_other: float = Field(
        0.0,
        allow_inf_nan=False,
        description="The reward of every other decided status (`no_proof` included).",
    )
    reward_cheat_penalty: float = Field(
        0.0, allow_inf_nan=False, description="Subtracted from a reward when a cheat is named."
    )
    reward_no_proof_penalty: float = Field(
        0.0, allow_inf_nan=False, description="Subtracted from the reward of `no_proof`."
    )
    reward_log: Path | None = Field(
        None,
        description="Append every record the reward routes answer to this NDJSON reward log "
        "(`proofgate report LOG` reads it); unset: no log.",
    )

    @field_validator("triage_closers")
    @classmethod
    def _closers_are_one_line_tactics(cls, value: list[str]) -> list[str]:
        for closer in value:
            if not closer.strip() or len(closer) > 200 or "\n" in closer or "\r" in closer:
                raise ValueError(f"{closer!r}: a closer is one line of tactic, at most 200 chars")
            if "--" in closer or "/-" in closer:
                raise ValueError(f"{closer!r}: a closer may not contain a comment")
        if not value:
            raise ValueError("give at least one closer")
        if len(set(value)) != len(value):
            raise ValueError("closers must be distinct")
        return value

    @field_validator("prewarm_headers", "allowed_axioms", "triage_closers", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        """Accept `a,b` from the environment as well as a JSON list (the way to give an item with
        a comma in it, such as the closer `simp [a, b]`)."""
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator(
        "repl_command",
        "checker_command",
        "compile_command",
        "export_command",
        "elab_command",
        "zygote_command",
    )
    @classmethod
    def _non_empty(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty (unset it to use the default)")
        return value

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        if self.api_keys_file is None:
            self.api_keys_file = self.data_dir / "keys.json"
        return self

    @model_validator(mode="after")
    def _audit_combination(self) -> Settings:
        if (problem := audit_settings_problem(self)) is not None:
            raise ValueError(problem)
        return self

    @property
    def cache_path(self) -> Path:
        return self.data_dir / "cache.sqlite3"

    @property
    def lean_projects_dir(self) -> Path:
        return self.project_dir / "LeanProjects"

    @property
    def tenant_worker_cap(self) -> int:
        """`max_workers_per_tenant`, or its default: half the pool, at least 1."""
        return self.max_workers_per_tenant or max(1, self.workers // 2)

    @property
    def batch_items_at_once(self) -> int:
        """`batch_concurrency`, or its default: twice the workers (a job's items, a reward group's
        completions, a Kimina request's snippets)."""
        return self.batch_concurrency or 2 * self.workers

    @property
    def tenant_queue_cap(self) -> int:
        """`max_queue_per_tenant`, or its default: half the queue, at least 1."""
        return self.max_queue_per_tenant or max(1, self.max_queue // 2)


def audit_settings_problem(settings: Settings) -> str | None:
    """Why the audit's settings cannot run together, if they cannot: the one-shot elaborator
    writes exports only, which only the warm checkers read (checked when the settings are read,
    and again by the auditor, since settings can be changed after)."""
    compiler = settings.audit_compiler
    if compiler in ("elab", "zygote") and settings.audit_checker != "warm":
        return (
            f"PROOFGATE_AUDIT_COMPILER={compiler} needs PROOFGATE_AUDIT_CHECKER=warm (it is "
            f"{settings.audit_checker!r}): proofgate-elab writes an export, which only the warm "
            "checkers read; set both, or PROOFGATE_AUDIT_COMPILER=lean"
        )
    return None


def is_loopback_host(host: str) -> bool:
    """Whether binding `host` serves this machine only (`localhost` or a loopback address)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
