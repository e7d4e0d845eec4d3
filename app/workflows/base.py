"""What a workflow is: a spec (app/resolvers/run.py) given a plan and a function per step
kind. The engine that executes workflows (app/jobs/engine.py) hands each step a
`StepContext`; steps reach the engine only through the `Runner` it carries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, Protocol, TypeVar

from app.models.run import LogLevel, OrchestrationRun, RunStep, WorkflowType
from app.resolvers.ctx import ResolverCtx
from app.resolvers.run import WorkflowSpec

P = ParamSpec("P")
R = TypeVar("R")


class TransientError(Exception):
    """A failure worth retrying (a provider's 5xx, a lost connection)."""


class StepRefused(Exception):
    """The step's input cannot be used (a user's mistake, not a fault): the run fails with
    this message, without retries, and the step keeps `output` (what it found)."""

    def __init__(self, message: str, output: dict[str, Any]) -> None:
        super().__init__(message)
        self.output = output


StepFunction = Callable[["StepContext"], Awaitable[dict[str, Any]]]
Planner = Callable[[ResolverCtx, OrchestrationRun], Awaitable[list[RunStep]]]


@dataclass(frozen=True)
class Workflow:
    spec: WorkflowSpec
    plan: Planner  # the steps of a new run, from its parameters and the data
    steps: dict[str, StepFunction]  # by RunStep.kind
    retries: int = 3

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def type(self) -> WorkflowType:
        return self.spec.type


class Runner(Protocol):
    """The engine, as a step sees it."""

    async def log(
        self, run: OrchestrationRun, level: LogLevel, message: str, step: str | None = None
    ) -> None: ...

    async def check(self, run: OrchestrationRun) -> None: ...


@dataclass
class StepContext:
    """What a step function gets: the tenant context, its step, earlier outputs, logging."""

    ctx: ResolverCtx
    run: OrchestrationRun
    step: RunStep
    runner: Runner
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def log(self, level: LogLevel, message: str) -> None:
        await self.runner.log(self.run, level, message, self.step.name)

    async def checkpoint(self) -> None:
        """Cooperative check inside long steps: honours pause, stop and the timeout."""
        await self.runner.check(self.run)

    async def compute(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """CPU-heavy work (model fits, loops over many records) in a worker thread, so that
        the event loop keeps renewing the run's lease and serving other runs (and, without
        Redis, the API itself) meanwhile."""
        return await asyncio.to_thread(function, *args, **kwargs)
