"""Data versions of plans and segments: a snapshot after every change, and restores.

Also the revision-checked load and delete the catalog's use cases share: a caller names the
revision it read, and a stale one is a Conflict before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic

from beanie import PydanticObjectId

from app.errors import Conflict, NotFound, api_name
from app.models import DataVersion, TenantScope
from app.models.base import D, parse_id
from app.resolvers.ctx import ResolverCtx

REASON_MAX = 500


async def load_at(scope: TenantScope, model: type[D], doc_id: str, revision: int) -> D:
    """The document, if it is still at `revision`."""
    doc = await scope.require(model, doc_id)
    if doc.revision != revision:
        raise Conflict(
            f"{api_name(model)} {doc_id} is at revision {doc.revision}, not {revision}; "
            "reload and retry"
        )
    return doc


async def delete_at(scope: TenantScope, doc: D) -> None:
    result = await (
        type(doc)
        .get_pymongo_collection()
        .delete_one(scope.filter({"_id": doc.id, "revision": doc.revision}))
    )
    if result.deleted_count != 1:
        raise Conflict(f"{api_name(type(doc))} {doc.id} was changed by someone else")


async def record(
    ctx: ResolverCtx, entity: str, entity_id: Any, snapshot: dict[str, Any], reason: str
) -> DataVersion:
    last = (
        await ctx.scope.find(DataVersion, {"entity_id": entity_id}).sort("-number").first_or_none()
    )
    return await ctx.scope.insert(
        DataVersion(
            tenant_id=ctx.tenant_id,
            entity_type=entity,
            entity_id=PydanticObjectId(entity_id),
            number=(last.number + 1) if last else 1,
            snapshot=snapshot,
            actor=ctx.principal.label,
            reason=reason[:REASON_MAX],
        )
    )


@dataclass(frozen=True)
class Restore(Generic[D]):
    """What restoring a version needs: the document as the caller last read it, the
    version's stored fields and the reason to record."""

    doc: D
    snapshot: dict[str, Any]
    reason: str


async def restore_point(
    scope: TenantScope,
    model: type[D],
    entity: str,
    doc_id: str,
    revision: int,
    number: int,
    reason: str = "",
) -> Restore[D]:
    """The document at `revision` (else Conflict) and its version `number` (else NotFound)."""
    doc = await load_at(scope, model, doc_id, revision)
    oid = parse_id(doc_id)
    found = (
        await scope.find(DataVersion, {"entity_id": oid, "number": number}).first_or_none()
        if oid
        else None
    )
    if found is None or found.entity_type != entity:
        raise NotFound("DataVersion", f"{doc_id}@{number}")
    return Restore(doc, dict(found.snapshot), reason or f"restored version {number}")


async def versions(scope: TenantScope, entity_id: str) -> list[DataVersion]:
    oid = parse_id(entity_id)
    if oid is None:
        return []
    return await scope.find(DataVersion, {"entity_id": oid}).sort("-number").to_list()
