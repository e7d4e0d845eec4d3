"""Import customer records from an uploaded CSV: validate every row, write the valid ones
(or none, in ALL_OR_NOTHING mode), recompute the product's segment metrics, drop the upload.

Each step can run again after a crash: `write` first removes what this run wrote before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from app.errors import ValidationFailed
from app.jobs.engine import StepContext, Workflow, register
from app.models import Customer, CustomerSegment, PricingPlan
from app.models.base import ENCODER, parse_id, utcnow
from app.models.run import LogLevel, OrchestrationRun, RunStep, WorkflowType
from app.resolvers.ctx import ResolverCtx
from app.resolvers.customer_import import (
    MAX_REPORTED_ERRORS,
    ImportMode,
    RowError,
    RowParser,
    check_header,
    drop_upload,
    records,
)
from app.resolvers.segment import refresh_metrics

BATCH = 5000
PROGRESS_EVERY = 20_000


def validate(parameters: dict[str, Any]) -> None:
    if parameters.get("mode") not in {m.value for m in ImportMode}:
        raise ValidationFailed.single("input.parameters.mode", "keep_valid or all_or_nothing")
    if not parse_id(str(parameters.get("uploadId", ""))):
        raise ValidationFailed.single("input.parameters.uploadId", "must be an upload id")


async def plan(ctx: ResolverCtx, run: OrchestrationRun) -> list[RunStep]:
    kinds = ("validate", "write", "metrics", "cleanup")
    return [RunStep(name=kind, kind=kind, order=i) for i, kind in enumerate(kinds)]


Rows = AsyncIterator[tuple[int, dict[str, Any] | None, list[RowError]]]


async def _rows(step: StepContext) -> Rows:
    """(row number, customer fields or None, errors) for every data row."""
    scope, run = step.ctx.scope, step.run
    plans = await scope.find(PricingPlan, {"product_id": run.product_id}).to_list()
    stream = records(scope, parse_id(run.parameters["uploadId"]))
    parser: RowParser | None = None
    row = 0
    async for values in stream:
        row += 1
        if parser is None:
            parser = RowParser(check_header(values), plans)
            continue
        fields, errors = parser.parse(row, values)
        yield row, fields, errors


async def _existing_ids(step: StepContext) -> set[str]:
    query = {"product_id": step.run.product_id, "import_id": {"$ne": step.run.id}}
    cursor = Customer.get_pymongo_collection().find(
        step.ctx.scope.filter(query), {"external_id": 1, "_id": 0}
    )
    return {doc["external_id"] async for doc in cursor}


async def _checked(step: StepContext) -> Rows:
    """Rows with the duplicate checks added (within the file and against stored customers)."""
    seen = await _existing_ids(step)
    async for row, fields, errors in _rows(step):
        if fields is not None:
            if fields["external_id"] in seen:
                errors = [_duplicate(row)]
                fields = None
            else:
                seen.add(fields["external_id"])
        yield row, fields, errors


def _duplicate(row: int) -> RowError:
    return RowError(row, "external_id", "already exists for this product")


async def validate_step(step: StepContext) -> dict[str, Any]:
    valid = invalid = 0
    reported: list[dict[str, Any]] = []
    try:
        async for row, fields, errors in _checked(step):
            valid += fields is not None
            invalid += fields is None
            reported += [vars(e) for e in errors][: MAX_REPORTED_ERRORS - len(reported)]
            if row % PROGRESS_EVERY == 0:
                await step.log(LogLevel.INFO, f"validated {row} rows")
                await step.checkpoint()
    except ValidationFailed as error:  # the header: nothing can be imported
        reported = [{"row": 1, "column": "", "message": error.issues[0].message}]
        invalid = max(invalid, 1)
    rejected = bool(invalid) and step.run.parameters["mode"] == ImportMode.ALL_OR_NOTHING
    rejected = rejected or any(e["row"] == 1 for e in reported)
    level = LogLevel.WARN if invalid else LogLevel.INFO
    await step.log(level, f"{valid} valid rows, {invalid} invalid rows")
    return {"valid": valid, "invalid": invalid, "rejected": rejected, "errors": reported}


async def write_step(step: StepContext) -> dict[str, Any]:
    run, scope = step.run, step.ctx.scope
    collection = Customer.get_pymongo_collection()
    await collection.delete_many(scope.filter({"import_id": run.id}))  # a repeated step
    if step.outputs["validate"]["rejected"]:
        await step.log(LogLevel.WARN, "import rejected: nothing written")
        return {"written": 0}
    batch: list[dict[str, Any]] = []
    written = 0
    async for _, fields, _ in _checked(step):
        if fields is None:
            continue
        batch.append(_document(step, fields))
        if len(batch) == BATCH:
            written += await _flush(collection, batch)
            await step.log(LogLevel.INFO, f"wrote {written} customers")
            await step.checkpoint()
    written += await _flush(collection, batch)
    return {"written": written}


def _document(step: StepContext, fields: dict[str, Any]) -> dict[str, Any]:
    now = utcnow()
    customer = Customer(
        tenant_id=step.ctx.tenant_id,
        product_id=step.run.product_id,
        import_id=step.run.id,
        created_at=now,
        updated_at=now,
        **fields,
    )
    return dict(ENCODER.encode(customer.model_dump(exclude={"id"})))


async def _flush(collection: Any, batch: list[dict[str, Any]]) -> int:
    if batch:
        await collection.insert_many(batch, ordered=False)
    count = len(batch)
    batch.clear()
    return count


async def metrics_step(step: StepContext) -> dict[str, Any]:
    if not step.outputs["write"]["written"]:
        return {"segments": 0}
    scope = step.ctx.scope
    segments = await scope.find(CustomerSegment, {"product_id": step.run.product_id}).to_list()
    for segment in segments:
        updated = await refresh_metrics(scope, segment)
        data = {"segmentId": str(updated.id), "productId": str(updated.product_id)}
        await step.ctx.publish("segments", "segmentMetricsUpdated", data)
    await step.log(LogLevel.INFO, f"metrics of {len(segments)} segments recomputed")
    return {"segments": len(segments)}


async def cleanup_step(step: StepContext) -> dict[str, Any]:
    await drop_upload(step.ctx.scope, parse_id(step.run.parameters["uploadId"]))
    return {}


WORKFLOW = register(
    Workflow(
        name="customer_import",
        type=WorkflowType.DATA_SYNC,
        description="Import customers from a CSV upload",
        plan=plan,
        steps={
            "validate": validate_step,
            "write": write_step,
            "metrics": metrics_step,
            "cleanup": cleanup_step,
        },
        validate=validate,
    )
)
