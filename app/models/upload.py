"""Uploaded files kept in MongoDB chunks, so a worker in another process can stream them."""

from __future__ import annotations

from beanie import PydanticObjectId

from app.models.base import TenantDocument

CHUNK_BYTES = 1024 * 1024  # well under MongoDB's 16 MB document limit


class UploadChunk(TenantDocument):
    upload_id: PydanticObjectId
    index: int
    data: bytes

    class Settings:
        name = "upload_chunks"
        indexes = [[("tenant_id", 1), ("upload_id", 1), ("index", 1)]]
