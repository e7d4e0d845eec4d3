"""Workflows that exist only in the test process (its in-process worker runs them)."""

from __future__ import annotations

import asyncio
from typing import Any

from app.jobs.engine import StepContext, TransientError, Workflow, register
from app.models.run import LogLevel, OrchestrationRun, RunStep, WorkflowType
from app.resolvers.ctx import ResolverCtx


async def plan(ctx: ResolverCtx, run: OrchestrationRun) -> list[RunStep]:
    count = int(run.parameters.get("steps", 3))
    return [RunStep(name=f"step {i}", kind="work", order=i) for i in range(count)]


async def slow(step: StepContext) -> dict[str, Any]:
    await step.log(LogLevel.INFO, f"working on {step.step.name}")
    for _ in range(int(step.run.parameters.get("ticks", 5))):
        await asyncio.sleep(0.1)
        await step.checkpoint()
    return {"done": step.step.order}


async def flaky(step: StepContext) -> dict[str, Any]:
    await step.log(LogLevel.INFO, "calling a provider that keeps failing")
    raise TransientError("provider answered 503")


SLOW = register(
    Workflow("test_slow", WorkflowType.DATA_SYNC, "Slow test work", plan, {"work": slow})
)
FLAKY = register(
    Workflow("test_flaky", WorkflowType.DATA_SYNC, "Flaky test work", plan, {"work": flaky}, 2)
)
