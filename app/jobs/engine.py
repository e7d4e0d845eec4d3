"""The run engine: a workflow is a list of named async steps, executed in order with a
checkpoint after each, so a run resumes at its first unfinished step on any worker.

A run is held by one worker at a time through a lease in its document, renewed by a
heartbeat; a worker that dies stops renewing, and the reaper hands the run to another.
Pause and stop are requests recorded on the run; the engine honours them between steps and
wherever a step calls `checkpoint()`. Transient errors are retried with backoff; a run that
exceeds its timeout fails with the reason in its log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import AutoReconnect

from app.errors import Conflict
from app.models import TenantScope
from app.models.base import utcnow
from app.models.run import (
    FINAL_STATUSES,
    LogLevel,
    OrchestrationRun,
    RunStatus,
    RunStep,
    StepStatus,
)
from app.resolvers import run as runs
from app.resolvers.ctx import system_ctx
from app.runtime import Services
from app.workflows.base import StepContext, StepRefused, TransientError, Workflow
from app.workflows.registry import WORKFLOWS

log = logging.getLogger(__name__)
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Interrupted(Exception):
    def __init__(self, requested: str) -> None:
        super().__init__(requested)
        self.requested = requested


class RunTimedOut(Exception):
    pass


class Engine:
    def __init__(self, services: Services, tenant_id: str, owner: str = WORKER_ID) -> None:
        self.services = services
        self.scope = TenantScope(tenant_id)
        self.ctx = system_ctx(services, tenant_id)
        self.owner = owner
        self.lease = timedelta(seconds=services.settings.run_lease_seconds)

    # --- state changes, each one atomic on the run document ------------------------------

    def _runs(self) -> Any:
        return OrchestrationRun.get_pymongo_collection()

    async def _update(
        self, run: OrchestrationRun, changes: dict[str, Any], where: dict[str, Any] | None = None
    ) -> OrchestrationRun | None:
        stored = await self._runs().find_one_and_update(
            self.scope.filter({"_id": run.id, **(where or {})}),
            {"$set": {**changes, "updated_at": utcnow()}, "$inc": {"revision": 1}},
            return_document=ReturnDocument.AFTER,
        )
        return OrchestrationRun.model_validate(stored) if stored else None

    async def acquire(self, run_id: Any) -> OrchestrationRun | None:
        """Take the run's lease unless a live worker holds it or the run is over."""
        now = utcnow()
        stored = await self._runs().find_one_and_update(
            self.scope.filter(
                {
                    "_id": run_id,
                    "status": {"$in": [RunStatus.QUEUED, RunStatus.RUNNING]},
                    "$or": [
                        {"lease_owner": None},
                        {"lease_owner": self.owner},
                        {"lease_until": {"$lt": now}},
                    ],
                }
            ),
            {"$set": {"lease_owner": self.owner, "lease_until": now + self.lease}},
            return_document=ReturnDocument.AFTER,
        )
        return OrchestrationRun.model_validate(stored) if stored else None

    async def renew(self, run: OrchestrationRun) -> bool:
        renewed = await self._update(
            run, {"lease_until": utcnow() + self.lease}, {"lease_owner": self.owner}
        )
        return renewed is not None

    async def release(self, run: OrchestrationRun) -> None:
        await self._update(
            run, {"lease_owner": None, "lease_until": None}, {"lease_owner": self.owner}
        )

    async def log(
        self, run: OrchestrationRun, level: LogLevel, message: str, step: str | None = None
    ) -> None:
        await runs.append_log(self.ctx, run, level, message, step)

    async def set_status(
        self, run: OrchestrationRun, status: RunStatus, **changes: Any
    ) -> OrchestrationRun:
        if status in FINAL_STATUSES:
            changes["finished_at"] = utcnow()
        updated = await self._update(run, {"status": status, **changes})
        if updated is None:
            raise LookupError(f"run {run.id} vanished")
        await runs.publish_update(self.ctx, updated)
        return updated

    # --- control ----------------------------------------------------------------------

    async def check(self, run: OrchestrationRun) -> None:
        current = await self.scope.get(OrchestrationRun, run.id or "")
        if current is None:
            raise Interrupted("stop")
        if current.requested in ("pause", "stop"):
            raise Interrupted(current.requested)
        if current.lease_owner != self.owner:
            raise Interrupted("lost")  # another worker took over: this one must stop
        if deadline(current) < utcnow():
            raise RunTimedOut(f"timed out after {current.timeout_seconds} s")

    # --- execution --------------------------------------------------------------------

    async def execute(self, run_id: Any) -> str:
        run = await self.acquire(run_id)
        if run is None:
            return "not runnable here"
        if not await self.services.slots.acquire(self.scope.tenant_id, str(run.id)):
            await self.release(run)
            await self.services.queue.enqueue(
                runs.EXECUTE,
                job_id=f"{run.id}:{uuid.uuid4().hex}",
                defer_seconds=2.0,
                tenant_id=self.scope.tenant_id,
                run_id=str(run.id),
            )
            return "deferred: tenant at its concurrent run limit"
        heartbeat = asyncio.create_task(self._heartbeat(run))
        try:
            return await self._execute(run)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await self.services.slots.release(self.scope.tenant_id, str(run.id))
            await self.release(run)

    async def _heartbeat(self, run: OrchestrationRun) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            with contextlib.suppress(Exception):
                await self.renew(run)
                await self.services.slots.renew(self.scope.tenant_id, str(run.id))

    async def _execute(self, run: OrchestrationRun) -> str:
        workflow = WORKFLOWS[run.workflow]
        try:
            run = await self._start(run, workflow)
            for step in run.steps:
                if step.status == StepStatus.COMPLETED:
                    continue  # a checkpoint: resumed runs never repeat a finished step
                await self.check(run)
                run = await self._run_step(run, workflow, step)
            await self._end(run, RunStatus.COMPLETED, f"{run.name} completed", requested=None)
            return "completed"
        except Interrupted as interrupt:
            return await self._interrupted(run, interrupt.requested)
        except (RunTimedOut, StepFailed) as failure:
            message = f"{run.name} failed: {failure}"
            await self._end(run, RunStatus.FAILED, message, error=str(failure))
            return "failed"

    async def _end(
        self, run: OrchestrationRun, status: RunStatus, message: str, **changes: Any
    ) -> None:
        """Release what the run held, then record how it ended: whoever sees the final
        status sees it released."""
        await runs.release(self.ctx, run)
        run = await self.set_status(run, status, **changes)
        level = {RunStatus.COMPLETED: LogLevel.SUCCESS, RunStatus.FAILED: LogLevel.ERROR}
        await self.log(run, level.get(status, LogLevel.WARN), message)

    async def _start(self, run: OrchestrationRun, workflow: Workflow) -> OrchestrationRun:
        if not run.steps:
            steps = await workflow.plan(self.ctx, run)
            planned = await self._update(
                run, {"steps": [s.model_dump() for s in steps]}, {"steps": {"$size": 0}}
            )
            run = planned or run
        if run.status != RunStatus.RUNNING:
            run = await self.set_status(
                run, RunStatus.RUNNING, started_at=run.started_at or utcnow()
            )
            await self.log(run, LogLevel.INFO, f"{run.name} started: {len(run.steps)} steps")
        else:
            done = sum(s.status == StepStatus.COMPLETED for s in run.steps)
            await self.log(run, LogLevel.WARN, f"resumed after step {done} of {len(run.steps)}")
        return run

    async def _interrupted(self, run: OrchestrationRun, requested: str) -> str:
        if requested == "lost":
            return "handed over"
        if requested == "pause":
            await self.set_status(run, RunStatus.PAUSED, requested=None)
            await self.log(run, LogLevel.WARN, "paused")
            return "paused"
        await self._end(run, RunStatus.CANCELLED, "stopped", requested=None)
        return "cancelled"

    async def _run_step(
        self, run: OrchestrationRun, workflow: Workflow, step: RunStep
    ) -> OrchestrationRun:
        outputs = {s.name: s.output or {} for s in run.steps if s.status == StepStatus.COMPLETED}
        context = StepContext(self.ctx, run, step, self, outputs)
        function = workflow.steps[step.kind]
        backoff = self.services.settings.run_retry_backoff_seconds
        for attempt in range(1, workflow.retries + 2):
            run = await self._mark_step(
                run, step, StepStatus.RUNNING, attempts=step.attempts + attempt
            )
            try:
                remaining = (deadline(run) - utcnow()).total_seconds()
                output = await asyncio.wait_for(function(context), max(remaining, 0.001))
            except TimeoutError:
                raise RunTimedOut(
                    f"timed out after {run.timeout_seconds} s in {step.name}"
                ) from None
            except (TransientError, AutoReconnect, ConnectionError, Conflict) as error:
                if attempt > workflow.retries:
                    await self._fail_step(run, step, error)
                await self.log(
                    run,
                    LogLevel.WARN,
                    f"{step.name}: {error}; retry {attempt} in {backoff:.1f} s",
                    step.name,
                )
                await asyncio.sleep(backoff)
                backoff *= 2
                continue
            except (Interrupted, RunTimedOut):
                await self._mark_step(run, step, StepStatus.PENDING)
                raise
            except StepRefused as refusal:
                await self._fail_step(run, step, refusal, str(refusal), refusal.output)
            except Exception as error:
                await self._fail_step(run, step, error)
            return await self._complete_step(run, step, output)
        raise AssertionError("unreachable")

    async def _mark_step(
        self, run: OrchestrationRun, step: RunStep, status: StepStatus, **changes: Any
    ) -> OrchestrationRun:
        prefix = f"steps.{step.order}"
        values = {f"{prefix}.status": status, **{f"{prefix}.{k}": v for k, v in changes.items()}}
        if status == StepStatus.RUNNING:
            values[f"{prefix}.started_at"] = utcnow()
        updated = await self._update(run, values, {"lease_owner": self.owner})
        if updated is None:
            raise Interrupted("lost")
        if status == StepStatus.RUNNING:
            await runs.publish_update(self.ctx, updated)  # its currentStep: this step
        return updated

    async def _complete_step(
        self, run: OrchestrationRun, step: RunStep, output: dict[str, Any]
    ) -> OrchestrationRun:
        run = await self._mark_step(
            run, step, StepStatus.COMPLETED, output=output, completed_at=utcnow(), error=None
        )
        await runs.publish_step_completed(self.ctx, run, step.order)
        await runs.publish_update(self.ctx, run)
        return run

    async def _fail_step(
        self,
        run: OrchestrationRun,
        step: RunStep,
        error: BaseException,
        detail: str | None = None,
        output: dict[str, Any] | None = None,
    ) -> None:
        message = f"{step.name} failed: {detail or f'{type(error).__name__}: {error}'}"
        await self._mark_step(run, step, StepStatus.FAILED, error=message, output=output)
        await self.log(run, LogLevel.ERROR, message, step.name)
        raise StepFailed(message) from error


class StepFailed(Exception):
    pass


def deadline(run: OrchestrationRun) -> datetime:
    started = run.started_at or utcnow()
    return started + timedelta(seconds=run.timeout_seconds)
