"""Workflows that exist only in the test process (its in-process worker runs them)."""

from __future__ import annotations

import asyncio
from typing import Any

from app.models.run import LogLevel, OrchestrationRun, RunStep, WorkflowType
from app.resolvers.ctx import ResolverCtx
from app.resolvers.run import WorkflowSpec
from app.workflows.base import StepContext, TransientError, Workflow
from app.workflows.registry import WORKFLOWS


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


SLOW = Workflow(
    WorkflowSpec("test_slow", WorkflowType.DATA_SYNC, "Slow test work"), plan, {"work": slow}
)
FLAKY = Workflow(
    WorkflowSpec("test_flaky", WorkflowType.DATA_SYNC, "Flaky test work"), plan, {"work": flaky}, 2
)
# Registered beside the product's workflows, for this process's engine only.
WORKFLOWS.update({SLOW.name: SLOW, FLAKY.name: FLAKY})
