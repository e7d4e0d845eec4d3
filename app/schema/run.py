"""Runs in the API: start workflows, list and inspect runs, control them, follow them live."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from app.bus import Event
from app.models import run as models
from app.models.identity import Role
from app.models.run import LogLevel, RunStatus, StepStatus, WorkflowType
from app.resolvers import run as use_case
from app.resolvers.segment import METRICS_RUN
from app.schema.context import Info
from app.schema.errors import ConflictError, NotFoundError, RateLimitedError, ValidationError
from app.schema.fields import json_value, mutation, query, subscription
from app.schema.pagination import Connection, paginate
from app.schema.streams import stream
from app.workflows.registry import workflow_for


@strawberry.type(description="One step of a run (the seed's OrchestrationResult).")
class RunStep:
    name: str
    order: int
    status: StepStatus
    input: JSON
    output: JSON | None
    attempts: int
    error: str | None
    started_at: datetime | None
    completed_at: datetime | None


@strawberry.type
class RunProgress:
    completed_steps: int
    total_steps: int
    current_step: str | None
    percentage: float


@strawberry.type
class RunLogEntry:
    level: LogLevel
    message: str
    step: str | None
    at: datetime


@strawberry.type(description="A long piece of work, as ordered steps (the seed's CurrentRun).")
class Run:
    id: strawberry.ID
    name: str
    workflow_type: WorkflowType
    workflow: str
    status: RunStatus
    product_id: strawberry.ID | None
    parameters: JSON
    steps: list[RunStep]
    progress: RunProgress
    task_details: str
    error: str | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    participants: int | None
    conversion: float | None

    @strawberry.field(description="The run's log, oldest first.")
    async def logs(
        self, info: Info, first: int = 100, after: str | None = None
    ) -> Connection[RunLogEntry]:
        scope = info.context.scope
        query = {"run_id": models.PydanticObjectId(self.id)}
        return await paginate(scope, models.RunLog, query, (first, after), log_entry)

    @classmethod
    def from_model(cls, doc: models.OrchestrationRun) -> Run:
        summary = use_case.progress(doc)
        end = doc.finished_at or models.utcnow()
        return cls(
            id=strawberry.ID(str(doc.id)),
            name=doc.name,
            workflow_type=doc.workflow_type,
            workflow=doc.workflow,
            status=doc.status,
            product_id=strawberry.ID(str(doc.product_id)) if doc.product_id else None,
            parameters=json_value(doc.parameters),
            steps=[step(s) for s in doc.steps],
            progress=RunProgress(**summary),
            task_details=doc.task_details,
            error=doc.error,
            queued_at=doc.queued_at,
            started_at=doc.started_at,
            finished_at=doc.finished_at,
            duration_seconds=(end - doc.started_at).total_seconds()
            if end and doc.started_at
            else None,
            participants=doc.participants,
            conversion=doc.conversion,
        )


def step(s: models.RunStep) -> RunStep:
    return RunStep(
        name=s.name,
        order=s.order,
        status=s.status,
        input=json_value(s.input),
        output=json_value(s.output),
        attempts=s.attempts,
        error=s.error,
        started_at=s.started_at,
        completed_at=s.completed_at,
    )


def log_entry(doc: models.RunLog) -> RunLogEntry:
    return RunLogEntry(level=doc.level, message=doc.message, step=doc.step, at=doc.at)


@strawberry.input
class StartOrchestrationInput:
    workflow_type: WorkflowType
    product_id: strawberry.ID | None = None
    parameters: JSON | None = None
    workflow: str | None = strawberry.field(
        default=None, description="Which workflow of the type, when there are several."
    )
    timeout_seconds: int = use_case.DEFAULT_TIMEOUT


@strawberry.input
class RunFilter:
    status: RunStatus | None = None
    workflow_type: WorkflowType | None = None
    product_id: strawberry.ID | None = None


StartRunResult = Annotated[
    Run | ValidationError | NotFoundError | RateLimitedError, strawberry.union("StartRunResult")
]
RunActionResult = Annotated[
    Run | NotFoundError | ConflictError, strawberry.union("RunActionResult")
]


@strawberry.type
class RunUpdate:
    run_id: strawberry.ID
    status: RunStatus
    completed_steps: int
    total_steps: int
    current_step: str | None
    error: str | None
    cursor: str

    @classmethod
    def from_event(cls, event: Event) -> RunUpdate | None:
        if event.type != "runUpdated":
            return None
        return cls(
            run_id=strawberry.ID(event.data["runId"]),
            status=models.RunStatus(event.data["status"]),
            completed_steps=event.data["completedSteps"],
            total_steps=event.data["totalSteps"],
            current_step=event.data["currentStep"],
            error=event.data["error"],
            cursor=event.id,
        )


@strawberry.type
class RunStepCompleted:
    run_id: strawberry.ID
    step: RunStep
    cursor: str

    @classmethod
    def from_event(cls, event: Event) -> RunStepCompleted | None:
        if event.type != "stepCompleted":
            return None
        done = models.RunStep.model_validate(event.data["step"])
        return cls(run_id=strawberry.ID(event.data["runId"]), step=step(done), cursor=event.id)


@strawberry.type
class RunLogEvent:
    level: LogLevel
    message: str
    step: str | None
    at: datetime
    cursor: str = strawberry.field(description="Pass as `since` to resume after this line.")

    @classmethod
    def from_event(cls, event: Event) -> RunLogEvent:
        return cls(
            level=models.LogLevel(event.data["level"]),
            message=event.data["message"],
            step=event.data["step"],
            at=datetime.fromisoformat(event.data["at"]),
            cursor=event.id,
        )


@strawberry.type
class RunQuery:
    @query()
    async def runs(
        self, info: Info, filter: RunFilter | None = None, first: int = 20, after: str | None = None
    ) -> Connection[Run]:
        f = filter or RunFilter()
        conditions: dict[str, Any] = {}
        if f.status is not None:
            conditions["status"] = f.status
        if f.workflow_type is not None:
            conditions["workflow_type"] = f.workflow_type
        if f.product_id is not None:
            conditions["product_id"] = models.parse_id(f.product_id)
        scope = info.context.scope
        return await paginate(
            scope, models.OrchestrationRun, conditions, (first, after), Run.from_model
        )

    @query()
    async def run(self, info: Info, id: strawberry.ID) -> Run | None:
        doc = await info.context.scope.get(models.OrchestrationRun, id)
        return Run.from_model(doc) if doc else None


@strawberry.type
class RunMutation:
    @mutation(Role.ANALYST, description="Start a workflow as a run.")
    async def start_orchestration(
        self, info: Info, input: StartOrchestrationInput
    ) -> StartRunResult:
        parameters: dict[str, Any] = input.parameters if isinstance(input.parameters, dict) else {}
        spec = workflow_for(input.workflow_type, input.workflow).spec
        doc = await use_case.start(
            info.context.ctx, spec, input.product_id, parameters, input.timeout_seconds
        )
        return Run.from_model(doc)

    @mutation(Role.ANALYST, description="Recompute every segment's metrics (a run).")
    async def recompute_segment_metrics(
        self,
        info: Info,
        product_id: strawberry.ID | None = None,
        growth_period_days: Annotated[
            int | None,
            strawberry.argument(description="Growth period from now back; kept per segment."),
        ] = None,
    ) -> StartRunResult:
        parameters = {} if growth_period_days is None else {"growthPeriodDays": growth_period_days}
        doc = await use_case.start(info.context.ctx, METRICS_RUN, product_id, parameters)
        return Run.from_model(doc)

    @mutation(Role.ANALYST)
    async def pause_run(self, info: Info, id: strawberry.ID) -> RunActionResult:
        return Run.from_model(await use_case.act(info.context.ctx, id, "pause"))

    @mutation(Role.ANALYST)
    async def resume_run(self, info: Info, id: strawberry.ID) -> RunActionResult:
        return Run.from_model(await use_case.act(info.context.ctx, id, "resume"))

    @mutation(Role.ANALYST)
    async def stop_run(self, info: Info, id: strawberry.ID) -> RunActionResult:
        return Run.from_model(await use_case.act(info.context.ctx, id, "stop"))


@strawberry.type
class RunSubscription:
    @subscription(description="Status and progress of a run until it ends.")
    def run_updated(
        self, info: Info, run_id: strawberry.ID, since: str | None = None
    ) -> AsyncGenerator[RunUpdate, None]:
        return stream(use_case.follow(info.context.ctx, run_id, False, since), RunUpdate.from_event)

    @subscription(description="Each step of a run as it completes.")
    def run_step_completed(
        self, info: Info, run_id: strawberry.ID, since: str | None = None
    ) -> AsyncGenerator[RunStepCompleted, None]:
        events = use_case.follow(info.context.ctx, run_id, False, since)
        return stream(events, RunStepCompleted.from_event)

    @subscription(description="A run's log: first what was missed since `since`, then live.")
    def run_log(
        self, info: Info, run_id: strawberry.ID, since: str | None = "0"
    ) -> AsyncGenerator[RunLogEvent, None]:
        return stream(
            use_case.follow(info.context.ctx, run_id, True, since), RunLogEvent.from_event
        )
