"""The storage base every tenant-owned document shares, and the only door to it.

Resolvers never call `Model.find` themselves: they go through a `TenantScope`, which adds
the tenant filter to every read and sets `tenant_id` on every write, so a forgotten filter
cannot leak another tenant's data.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from beanie import Document, Indexed, PydanticObjectId
from beanie.odm.queries.find import FindMany
from beanie.odm.utils.encoder import Encoder
from bson import ObjectId
from bson.errors import InvalidId
from pydantic import Field
from pymongo import ReturnDocument

from app.errors import Conflict, NotFound, api_name

ENCODER = Encoder()  # Beanie's own: values stored the way Beanie stores documents


def utcnow() -> datetime:
    return datetime.now(UTC)


class TenantDocument(Document):
    tenant_id: Annotated[str, Indexed()]
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # Optimistic concurrency: every scoped update must name the revision it read.
    revision: int = 0


D = TypeVar("D", bound=TenantDocument)


def parse_id(value: str | ObjectId) -> ObjectId | None:
    if isinstance(value, ObjectId):
        return value
    try:
        return ObjectId(value)
    except (InvalidId, TypeError):
        return None


class TenantScope:
    """Reads and writes of one tenant's documents."""

    def __init__(self, tenant_id: str) -> None:
        if not tenant_id:
            raise ValueError("a tenant scope needs a tenant id")
        self.tenant_id = tenant_id

    def filter(self, query: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return {**(query or {}), "tenant_id": self.tenant_id}

    def find(self, model: type[D], query: Mapping[str, Any] | None = None) -> FindMany[D]:
        return model.find(self.filter(query))

    async def get(self, model: type[D], doc_id: str | ObjectId) -> D | None:
        oid = parse_id(doc_id)
        if oid is None:
            return None
        return await model.find_one(self.filter({"_id": oid}))

    async def get_many(self, model: type[D], ids: list[ObjectId]) -> dict[ObjectId, D]:
        found = await self.find(model, {"_id": {"$in": ids}}).to_list()
        return {doc.id: doc for doc in found if doc.id is not None}

    async def require(self, model: type[D], doc_id: str | ObjectId) -> D:
        doc = await self.get(model, doc_id)
        if doc is None:
            raise NotFound(model, str(doc_id))
        return doc

    async def insert(self, doc: D) -> D:
        doc.tenant_id = self.tenant_id
        doc.created_at = doc.updated_at = utcnow()
        doc.revision = 0
        await doc.insert()
        return doc

    async def update(self, doc: D, changes: Mapping[str, Any]) -> D:
        """Apply `changes` if nobody changed the document since it was read."""
        stored = (
            await type(doc)
            .get_pymongo_collection()
            .find_one_and_update(
                self.filter({"_id": doc.id, "revision": doc.revision}),
                {
                    "$set": {**ENCODER.encode(dict(changes)), "updated_at": utcnow()},
                    "$inc": {"revision": 1},
                },
                return_document=ReturnDocument.AFTER,
            )
        )
        if stored is None:
            raise Conflict(
                f"{api_name(type(doc))} {doc.id} was changed by someone else; reload and retry"
            )
        return type(doc).model_validate(stored)

    async def delete(self, model: type[D], doc_id: str | ObjectId) -> bool:
        oid = parse_id(doc_id)
        if oid is None:
            return False
        result = await model.get_pymongo_collection().delete_one(self.filter({"_id": oid}))
        return result.deleted_count == 1


__all__ = ["D", "PydanticObjectId", "TenantDocument", "TenantScope", "parse_id", "utcnow"]
