"""Uploaded files kept in MongoDB chunks, so a worker in another process can stream them."""

from __future__ import annotations

from typing import Any

from beanie import PydanticObjectId

from app.models.base import TenantDocument, TenantScope, parse_id

CHUNK_BYTES = 1024 * 1024  # well under MongoDB's 16 MB document limit


class UploadChunk(TenantDocument):
    upload_id: PydanticObjectId
    index: int
    data: bytes

    class Settings:
        name = "upload_chunks"
        indexes = [[("tenant_id", 1), ("upload_id", 1), ("index", 1)]]


async def drop_upload(scope: TenantScope, upload_id: Any) -> None:
    """Delete an upload's chunks (an id that is not one deletes nothing)."""
    chunks = UploadChunk.get_pymongo_collection()
    await chunks.delete_many(scope.filter({"upload_id": parse_id(str(upload_id))}))
