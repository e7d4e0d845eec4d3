"""Runs: every long piece of work, as ordered steps with checkpoints, progress and logs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from beanie import PydanticObjectId
from pydantic import BaseModel, Field

from app.models.base import TenantDocument, parse_id, utcnow

__all__ = ["PydanticObjectId", "parse_id", "utcnow"]


class WorkflowType(StrEnum):
    PRICING_ANALYSIS = "pricing_analysis"
    CUSTOMER_SEGMENTATION = "customer_segmentation"
    REVENUE_FORECAST = "revenue_forecast"
    REPORT_GENERATION = "report_generation"
    DATA_SYNC = "data_sync"
    SCORING = "scoring"


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATUSES = {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED}


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class LogLevel(StrEnum):
    INFO = "info"
    WARN = "warn"
    ERROR = "error"
    SUCCESS = "success"


class RunStep(BaseModel):
    """One step; its output is the checkpoint a resumed run starts from."""

    name: str
    kind: str  # which of the workflow's step functions runs it
    order: int
    status: StepStatus = StepStatus.PENDING
    input: dict[str, Any] = Field(default_factory=dict)
    output: dict[str, Any] | None = None
    attempts: int = 0
    error: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None


class OrchestrationRun(TenantDocument):
    api_name: ClassVar[str] = "Run"
    workflow_type: WorkflowType
    workflow: str  # the registered workflow's name
    name: str
    product_id: PydanticObjectId | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    status: RunStatus = RunStatus.QUEUED
    # What users asked for; the engine acts on it between steps and at cooperative checks.
    requested: str | None = None  # pause | stop
    steps: list[RunStep] = Field(default_factory=list)
    task_details: str = ""
    error: str | None = None
    timeout_seconds: int = 1800
    queued_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # A lease: which worker executes the run, until when; an expired lease means a dead worker.
    lease_owner: str | None = None
    lease_until: datetime | None = None
    participants: int | None = None
    conversion: float | None = None

    class Settings:
        name = "orchestration_runs"
        indexes = [[("tenant_id", 1), ("status", 1), ("queued_at", -1)]]


class RunLog(TenantDocument):
    api_name: ClassVar[str] = "RunLogEntry"
    run_id: PydanticObjectId
    level: LogLevel
    message: str
    step: str | None = None
    at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "run_logs"
        indexes = [[("tenant_id", 1), ("run_id", 1), ("at", 1)]]
