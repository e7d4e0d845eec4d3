"""Runs: start a workflow, watch it, pause, resume or stop it.

Every run is started by `launch`, which takes only what `admit` returns, and `admit` is
where a run is charged to the caller's hourly quota of expensive work: no path can start a
run uncharged. A use case that writes before its run starts admits the run first, so a
refusal leaves nothing written.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from app.bus import Event
from app.errors import Conflict, ValidationFailed
from app.models import Product
from app.models.run import (
    FINAL_STATUSES,
    LogLevel,
    OrchestrationRun,
    RunLog,
    RunStatus,
    StepStatus,
    WorkflowType,
)
from app.models.upload import drop_upload
from app.resolvers.ctx import ResolverCtx
from app.resolvers.usage import charge_expensive
from app.runtime import Services

log = logging.getLogger(__name__)

MAX_PARAMETERS_BYTES = 16_384
DEFAULT_TIMEOUT = 1800
MAX_TIMEOUT = 86_400


# The job that executes a run (app/jobs/runs.py); queued by name, so this layer never
# imports the worker's code.
EXECUTE = "execute_run"


@dataclass(frozen=True)
class WorkflowSpec:
    """What starting a run of a workflow needs, declared by the domain that starts it; the
    workflow (app/workflows/) gives the spec its plan and steps."""

    name: str
    type: WorkflowType
    description: str
    validate: Callable[[dict[str, Any]], None] | None = None  # raises ValidationFailed


@dataclass(frozen=True)
class Admitted:
    """A run validated and paid for, ready to launch."""

    spec: WorkflowSpec
    product: Product | None
    parameters: dict[str, Any]
    timeout_seconds: int


async def start(
    ctx: ResolverCtx,
    spec: WorkflowSpec,
    product_id: str | None,
    parameters: dict[str, Any],
    timeout_seconds: int = DEFAULT_TIMEOUT,
) -> OrchestrationRun:
    """Admit a run and queue it."""
    admitted = await admit(ctx, spec, product_id, parameters, timeout_seconds)
    return await launch(ctx, admitted)


async def admit(
    ctx: ResolverCtx,
    spec: WorkflowSpec,
    product_id: str | None,
    parameters: dict[str, Any],
    timeout_seconds: int = DEFAULT_TIMEOUT,
) -> Admitted:
    """Validate a run and charge it to the caller's quota; RateLimited when it is spent."""
    if not 1 <= timeout_seconds <= MAX_TIMEOUT:
        raise ValidationFailed.single("input.timeoutSeconds", f"must be 1 to {MAX_TIMEOUT}")
    if len(repr(parameters)) > MAX_PARAMETERS_BYTES:
        raise ValidationFailed.single("input.parameters", "too large")
    if spec.validate is not None:
        spec.validate(parameters)
    product = await ctx.scope.require(Product, product_id) if product_id else None
    await charge_expensive(ctx.services, ctx.principal, spec.description, 1)
    return Admitted(spec, product, parameters, timeout_seconds)


async def launch(ctx: ResolverCtx, admitted: Admitted) -> OrchestrationRun:
    """Store and queue an admitted run."""
    spec, product = admitted.spec, admitted.product
    name = spec.name
    run = await ctx.scope.insert(
        OrchestrationRun(
            tenant_id=ctx.tenant_id,
            workflow_type=spec.type,
            workflow=name,
            name=spec.description,
            product_id=product.id if product else None,
            parameters=admitted.parameters,
            timeout_seconds=admitted.timeout_seconds,
            task_details=f"{name} for {product.name if product else 'all products'}",
        )
    )
    ctx.audit.record("OrchestrationRun", run.id, after=run)
    await enqueue_run(ctx.services, ctx.tenant_id, str(run.id))
    return run


async def act(ctx: ResolverCtx, run_id: str, action: str) -> OrchestrationRun:
    """pause, resume or stop; illegal transitions are conflicts."""
    run = await ctx.scope.require(OrchestrationRun, run_id)
    if run.status in FINAL_STATUSES:
        raise Conflict(f"the run is {run.status.value}; it cannot {action}")
    changes: dict[str, Any]
    if action == "resume":
        if run.status != RunStatus.PAUSED:
            raise Conflict(f"only a paused run can resume; this one is {run.status.value}")
        changes = {"status": RunStatus.QUEUED, "requested": None}
    elif action == "pause":
        if run.status == RunStatus.PAUSED:
            raise Conflict("the run is already paused")
        changes = {"requested": "pause"}
    else:
        # Nothing executes a queued or paused run, so it is cancelled here and now.
        idle = run.status in (RunStatus.QUEUED, RunStatus.PAUSED) and run.lease_owner is None
        changes = (
            {"status": RunStatus.CANCELLED, "requested": None} if idle else {"requested": "stop"}
        )
    updated = await ctx.scope.update(run, changes)
    ctx.audit.record("OrchestrationRun", run.id, run, updated)
    if action == "resume":
        await enqueue_run(ctx.services, ctx.tenant_id, str(run.id))
    if updated.status == RunStatus.CANCELLED:
        await release(ctx, updated)
    if updated.status != run.status:
        await publish_update(ctx, updated)
        if updated.status == RunStatus.CANCELLED:
            await append_log(ctx, updated, LogLevel.WARN, "stopped before it ran again")
    return updated


async def enqueue_run(services: Services, tenant_id: str, run_id: str) -> None:
    """Queue the run; if the queue is unreachable the stored run waits for the reaper."""
    try:
        await services.queue.enqueue(
            EXECUTE, job_id=f"run:{run_id}:{uuid.uuid4().hex}", tenant_id=tenant_id, run_id=run_id
        )
    except (RedisError, OSError) as error:
        log.warning("run %s stays queued until the job queue is back: %s", run_id, error)


async def release(ctx: ResolverCtx, run: OrchestrationRun) -> None:
    """Free what a run held, once it has ended, whichever way: an import's uploaded file
    (`parameters.uploadId`) is read by the run only. A failure is logged: the outcome stands."""
    upload_id = run.parameters.get("uploadId")
    if upload_id is None:
        return
    try:
        await drop_upload(ctx.scope, upload_id)
    except Exception:
        log.exception("run %s ended; its upload %s stays", run.id, upload_id)


# --- the runs' events: topics and shapes ------------------------------------------------


def run_topic(run_id: object) -> str:
    return f"run:{run_id}"


def log_topic(run_id: object) -> str:
    return f"run:{run_id}:log"


def run_summary(run: OrchestrationRun) -> dict[str, Any]:
    """The event payload: enough for a live view without reading the run again."""
    done = sum(s.status == StepStatus.COMPLETED for s in run.steps)
    current = next((s.name for s in run.steps if s.status == StepStatus.RUNNING), None)
    return {
        "runId": str(run.id),
        "status": run.status.value,
        "completedSteps": done,
        "totalSteps": len(run.steps),
        "currentStep": current,
        "error": run.error,
    }


async def publish_update(ctx: ResolverCtx, run: OrchestrationRun, type: str = "runUpdated") -> None:
    await ctx.publish(run_topic(run.id), type, run_summary(run))


async def publish_step_completed(ctx: ResolverCtx, run: OrchestrationRun, order: int) -> None:
    step = run.steps[order].model_dump(mode="json")
    await ctx.publish(run_topic(run.id), "stepCompleted", {**run_summary(run), "step": step})


async def append_log(
    ctx: ResolverCtx, run: OrchestrationRun, level: LogLevel, message: str, step: str | None = None
) -> None:
    """A log line; the one that ends a run carries its final status."""
    entry = await ctx.scope.insert(
        RunLog(tenant_id=ctx.tenant_id, run_id=run.id, level=level, message=message, step=step)
    )
    data = {"level": level.value, "message": message, "step": step, "at": entry.at.isoformat()}
    if run.status in FINAL_STATUSES:
        data["status"] = run.status.value
    await ctx.publish(log_topic(run.id), "log", data)


def progress(run: OrchestrationRun) -> dict[str, Any]:
    summary = run_summary(run)
    total = summary["totalSteps"]
    return {
        "completed_steps": summary["completedSteps"],
        "total_steps": total,
        "current_step": summary["currentStep"],
        "percentage": round(100 * summary["completedSteps"] / total, 1) if total else 0.0,
    }


async def follow(
    ctx: ResolverCtx, run_id: str, log: bool, since: str | None
) -> AsyncGenerator[Event, None]:
    """Events of a run (or its log) from `since`, live, until the run ends."""
    run = await ctx.scope.require(OrchestrationRun, run_id)
    topic = log_topic(run_id) if log else run_topic(run_id)
    if run.status in FINAL_STATUSES:  # nothing more will come: the history is all there is
        for event in await ctx.services.bus.history(ctx.tenant_id, topic, since or "0"):
            yield event
        return
    events = ctx.services.bus.subscribe(ctx.tenant_id, topic, since)
    async with aclosing(events):
        async for event in events:
            yield event
            if event.data.get("status") in {s.value for s in FINAL_STATUSES}:
                return
