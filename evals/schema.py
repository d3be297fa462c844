"""The schema of ``results.json`` as pydantic models (documented in ``evals/SCHEMA.md``).

:func:`validate` checks a results document; :func:`json_schema` gives the JSON Schema
(draft 2020-12) that ``python -m evals schema`` prints.

Example:
    >>> from evals.schema import SCHEMA_ID, json_schema
    >>> json_schema()["title"], SCHEMA_ID
    ('Results', 'agentpatterns.evals/results/v1')
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SCHEMA_ID", "Episode", "Group", "Metrics", "Results", "json_schema", "validate"]

SCHEMA_ID = "agentpatterns.evals/results/v1"


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Dist(_M):
    """A distribution of measurements (ms): count, mean, percentiles, max."""

    n: int
    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None


class CheckpointBytes(_M):
    mean: float | None
    max: int | None


class Measured(_M):
    """Wall-clock and size measurements (vary between runs; not part of determinism)."""

    checkpoint_bytes: CheckpointBytes
    episode_ms: Dist
    tool_call_ms: Dist
    recovery_ms: Dist
    log_collection_ms: Dist
    audit_retrieval_ms: Dist
    handoff_ms: Dist
    transition_ms: Dist


class SideEffects(_M):
    executed: int = Field(description="write-log rows (business writes that ran)")
    duplicates: int = Field(description="rows beyond the fault-free replay's per action")
    duplicate_effect_keys: int = Field(description="rows beyond 1 per idempotency key")
    lost: int = Field(description="expected writes missing although the run said done")
    missing: int = Field(description="expected writes missing, whatever the run said")
    misreported: int = Field(description="committed writes whose call was reported failed")


class Metrics(_M):
    """Metrics of one (configuration, fault profile) over all its tasks and trials."""

    episodes: int
    tasks: int
    trials: int
    successes: int
    success_rate: float | None
    pass_hat_k: dict[str, float] = Field(description='"k" -> pass^k, k = 1..trials')
    status: dict[str, int]
    calls: dict[str, int]
    tool_success_rate: float | None
    attempts_per_call: float | None
    retry_success_rate: float | None
    side_effects: SideEffects
    rollback_rate: float | None
    rollbacks: int
    rollback_correct_rate: float | None
    transitions: int
    transition_success_rate: float | None
    log_coverage: float | None
    kills: int
    faults_injected: dict[str, int]
    measured: Measured


class TargetCheck(_M):
    metric: str
    label: str
    target: str
    source: Literal["guide", "ours"]
    value: Any
    passed: bool | None = Field(alias="pass")
    measured: bool

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Group(_M):
    config: str
    profile: str
    fault_rate: float
    metrics: Metrics
    targets: list[TargetCheck]


class Audit(_M):
    coverage: float
    collection_ms: float | None
    retrieval_ms: float | None


class Rollback(_M):
    happened: bool
    correct: bool | None


class Transitions(_M):
    total: int
    failed: int


class Episode(_M):
    """One run of one task (or scenario) under one configuration and fault profile."""

    suite: str
    config: str
    profile: str
    task: str
    trial: int
    seed: int
    success: bool
    status: str
    error: str | None
    wall_ms: float
    calls: dict[str, int]
    call_latency_ms: list[float]
    recovery_ms: list[float]
    side_effects: dict[str, int]
    rollback: Rollback
    transitions: Transitions
    transition_ms: list[float] = Field(default_factory=list[float])
    handoff_ms: list[float] = Field(default_factory=list[float])
    checkpoint_bytes: int | None
    audit: Audit | None
    faults: dict[str, int]
    kills: int
    detail: dict[str, Any] = Field(default_factory=dict[str, Any])


class Run(_M):
    suite: str
    split: str
    profiles: list[str]
    configs: list[str]
    trials: int
    seed: int
    workers: int
    limit: int | None
    tasks: list[str]
    out: str | None
    full_hash: bool
    keep_work: bool
    started: str
    elapsed_s: float
    episodes: int
    cpus: int | None
    versions: dict[str, str]


class Results(_M):
    """``results.json``."""

    schema_id: Literal["agentpatterns.evals/results/v1"] = Field(alias="schema")
    run: Run
    groups: list[Group]
    episodes: list[Episode]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def validate(doc: dict[str, Any]) -> Results:
    """Parse a results document; raises ``pydantic.ValidationError`` when it breaks the schema."""
    return Results.model_validate(doc)


def json_schema() -> dict[str, Any]:
    """JSON Schema of ``results.json``."""
    return Results.model_json_schema(by_alias=True)
