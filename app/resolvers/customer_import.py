"""Bulk import of customer records from CSV: the upload, and the row parser the import
workflow (app/workflows/customer_import.py) streams through.

Columns: `external_id` and `signup_at` are required; `region`, `company_size`, `plan_id`
(a plan's id or name), `monthly_revenue_cents`, `usage`, `churned_at` are optional;
`attributes.<key>` columns fill `attributes` (key as in the segment filter language).
"""

from __future__ import annotations

import codecs
import csv
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from beanie import PydanticObjectId

from app.errors import ValidationFailed
from app.models import PricingPlan, Product, UploadChunk
from app.models.base import TenantScope
from app.models.run import OrchestrationRun, WorkflowType
from app.models.upload import CHUNK_BYTES
from app.ratelimit import limits_for
from app.resolvers.ctx import ResolverCtx
from app.resolvers.segment_filter import ATTRIBUTE_KEY

REQUIRED = ("external_id", "signup_at")
OPTIONAL = ("region", "company_size", "plan_id", "monthly_revenue_cents", "usage", "churned_at")
TEXT_MAX = 200
MAX_REPORTED_ERRORS = 1000


class ImportMode(StrEnum):
    KEEP_VALID = "keep_valid"  # write the valid rows, report the others
    ALL_OR_NOTHING = "all_or_nothing"  # any invalid row rejects the whole file


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based line of the file, the header being row 1
    column: str
    message: str


async def start_import(
    ctx: ResolverCtx,
    product_id: str,
    read: Callable[[int], Awaitable[bytes]],
    mode: ImportMode,
) -> OrchestrationRun:
    """Store the upload in chunks (within the tier's upload limit), then start the run."""
    from app.resolvers.run import start  # run -> workflows -> this module

    product = await ctx.scope.require(Product, product_id)
    limit = limits_for(ctx.principal.tier).max_upload_bytes
    upload_id, size, index = PydanticObjectId(), 0, 0
    try:
        while data := await read(CHUNK_BYTES):
            size += len(data)
            if size > limit:
                raise ValidationFailed.single("file", f"larger than the plan's {limit} bytes")
            chunk = UploadChunk(
                tenant_id=ctx.tenant_id, upload_id=upload_id, index=index, data=data
            )
            await ctx.scope.insert(chunk)
            index += 1
        if size == 0:
            raise ValidationFailed.single("file", "is empty")
        parameters = {"uploadId": str(upload_id), "mode": mode.value, "bytes": size}
        return await start(
            ctx, WorkflowType.DATA_SYNC, str(product.id), parameters, workflow="customer_import"
        )
    except BaseException:
        await drop_upload(ctx.scope, upload_id)
        raise


async def drop_upload(scope: TenantScope, upload_id: Any) -> None:
    await UploadChunk.get_pymongo_collection().delete_many(scope.filter({"upload_id": upload_id}))


async def records(scope: TenantScope, upload_id: Any) -> AsyncIterator[list[str]]:
    """The CSV records of an upload, streamed chunk by chunk (one chunk in memory)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    pending, record = "", ""
    index = 0
    while True:
        chunk = await scope.find(
            UploadChunk, {"upload_id": upload_id, "index": index}
        ).first_or_none()
        text = decoder.decode(chunk.data if chunk else b"", final=chunk is None)
        lines = (pending + text).split("\n")
        pending = "" if chunk is None else lines.pop()
        for line in lines:
            record += line + "\n"
            if record.count('"') % 2 == 0:  # a quoted field may hold line breaks
                if record.strip():
                    yield next(csv.reader([record]))
                record = ""
        if chunk is None:
            break
        index += 1
    if record.strip():
        yield next(csv.reader([record]))


def check_header(header: list[str]) -> list[str]:
    names = [h.strip() for h in header]
    problems = [n for n in names if not _known(n)]
    if problems:
        raise ValidationFailed.single("file", f"unknown columns: {', '.join(problems)}")
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        raise ValidationFailed.single("file", f"missing columns: {', '.join(missing)}")
    if len(set(names)) != len(names):
        raise ValidationFailed.single("file", "a column appears twice")
    return names


def _known(name: str) -> bool:
    prefix, _, key = name.partition(".")
    return (
        name in REQUIRED
        or name in OPTIONAL
        or (prefix == "attributes" and bool(ATTRIBUTE_KEY.fullmatch(key)))
    )


def _date(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _cents(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _usage(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError("must be a finite number, 0 or more")
    return value


class RowParser:
    """Turns a record into the fields of a Customer, or row errors."""

    def __init__(self, names: list[str], plans: list[PricingPlan]) -> None:
        self.names = names
        self.plans = {str(p.id): p.id for p in plans} | {p.name: p.id for p in plans}

    def parse(self, row: int, values: list[str]) -> tuple[dict[str, Any] | None, list[RowError]]:
        if len(values) != len(self.names):
            return None, [RowError(row, "", f"{len(values)} values for {len(self.names)} columns")]
        fields: dict[str, Any] = {"attributes": {}}
        errors = []
        for name, raw in zip(self.names, values, strict=True):
            try:
                self._set(fields, name, raw.strip())
            except ValueError as error:
                errors.append(RowError(row, name, str(error) or "invalid value"))
        churned = fields.get("churned_at")
        if churned and "signup_at" in fields and churned < fields["signup_at"]:
            errors.append(RowError(row, "churned_at", "is before signup_at"))
        return (None, errors) if errors else (fields, [])

    def _set(self, fields: dict[str, Any], name: str, raw: str) -> None:
        if len(raw) > TEXT_MAX:
            raise ValueError(f"at most {TEXT_MAX} characters")
        if name in REQUIRED and not raw:
            raise ValueError("is required")
        if not raw:
            return
        if name in ("signup_at", "churned_at"):
            fields[name] = _date(raw)
        elif name == "monthly_revenue_cents":
            fields[name] = _cents(raw)
        elif name == "usage":
            fields[name] = _usage(raw)
        elif name == "plan_id":
            if raw not in self.plans:
                raise ValueError("not a plan of this product")
            fields[name] = self.plans[raw]
        elif name.startswith("attributes."):
            fields["attributes"][name.partition(".")[2]] = raw
        else:
            fields[name] = raw
