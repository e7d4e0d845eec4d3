"""Runs: start a workflow, watch it, pause, resume or stop it.

Every run is started by `launch`, which takes only what `admit` returns, and `admit` is
where a run is charged to the caller's hourly quota of expensive work: no path can start a
run uncharged. A use case that writes before its run starts admits the run first, so a
refusal leaves nothing written.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import app.workflows  # noqa: F401 - registers the workflows
from app.bus import Event
from app.errors import Conflict, ValidationFailed
from app.jobs.engine import WORKFLOWS, Engine, log_topic, run_summary, run_topic
from app.jobs.runs import enqueue_run
from app.models import Product
from app.models.run import FINAL_STATUSES, LogLevel, OrchestrationRun, RunStatus, WorkflowType
from app.resolvers.ctx import ResolverCtx
from app.resolvers.usage import charge_expensive

MAX_PARAMETERS_BYTES = 16_384
DEFAULT_TIMEOUT = 1800
MAX_TIMEOUT = 86_400


def workflow_for(workflow_type: WorkflowType, name: str | None) -> str:
    candidates = [w.name for w in WORKFLOWS.values() if w.type == workflow_type]
    if name is None and len(candidates) == 1:
        return candidates[0]
    if name in candidates:
        return name
    known = ", ".join(candidates) or "none yet"
    raise ValidationFailed.single("input.workflow", f"workflows of {workflow_type}: {known}")


@dataclass(frozen=True)
class Admitted:
    """A run validated and paid for, ready to launch."""

    workflow_type: WorkflowType
    workflow: str
    product: Product | None
    parameters: dict[str, Any]
    timeout_seconds: int


async def start(
    ctx: ResolverCtx,
    workflow_type: WorkflowType,
    product_id: str | None,
    parameters: dict[str, Any],
    workflow: str | None = None,
    timeout_seconds: int = DEFAULT_TIMEOUT,
) -> OrchestrationRun:
    """Admit a run and queue it."""
    admitted = await admit(ctx, workflow_type, product_id, parameters, workflow, timeout_seconds)
    return await launch(ctx, admitted)


async def admit(
    ctx: ResolverCtx,
    workflow_type: WorkflowType,
    product_id: str | None,
    parameters: dict[str, Any],
    workflow: str | None = None,
    timeout_seconds: int = DEFAULT_TIMEOUT,
) -> Admitted:
    """Validate a run and charge it to the caller's quota; RateLimited when it is spent."""
    name = workflow_for(workflow_type, workflow)
    if not 1 <= timeout_seconds <= MAX_TIMEOUT:
        raise ValidationFailed.single("input.timeoutSeconds", f"must be 1 to {MAX_TIMEOUT}")
    if len(repr(parameters)) > MAX_PARAMETERS_BYTES:
        raise ValidationFailed.single("input.parameters", "too large")
    validate = WORKFLOWS[name].validate
    if validate is not None:
        validate(parameters)
    product = await ctx.scope.require(Product, product_id) if product_id else None
    await charge_expensive(ctx.services, ctx.principal, WORKFLOWS[name].description, 1)
    return Admitted(workflow_type, name, product, parameters, timeout_seconds)


async def launch(ctx: ResolverCtx, admitted: Admitted) -> OrchestrationRun:
    """Store and queue an admitted run."""
    name, product = admitted.workflow, admitted.product
    run = await ctx.scope.insert(
        OrchestrationRun(
            tenant_id=ctx.tenant_id,
            workflow_type=admitted.workflow_type,
            workflow=name,
            name=WORKFLOWS[name].description,
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
    if updated.status != run.status:
        engine = Engine(ctx.services, ctx.tenant_id)
        await engine.publish(updated, "runUpdated")
        if updated.status == RunStatus.CANCELLED:
            await engine.log(updated, LogLevel.WARN, "stopped before it ran again")
            await engine.ended(updated)
    return updated


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
