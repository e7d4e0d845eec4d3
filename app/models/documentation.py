"""Product documentation: each source (a URL of the product, or an uploaded file) with its
text's hash, and the chunks it was cut into, with offsets and (when configured) embeddings."""

from __future__ import annotations

from datetime import datetime

from beanie import PydanticObjectId

from app.models.base import TenantDocument


class DocumentSource(TenantDocument):
    product_id: PydanticObjectId
    origin: str  # "url" or "upload"
    location: str  # the URL, or the uploaded file's name
    title: str = ""
    content_type: str = ""
    content_hash: str = ""  # of the extracted text: a change re-indexes the document
    characters: int = 0
    chunks: int = 0
    status: str = "pending"  # pending | indexed | failed
    error: str | None = None
    embedding_model: str | None = None  # None: ranked lexically (BM25)
    fetched_at: datetime | None = None

    class Settings:
        name = "document_sources"
        indexes = [[("tenant_id", 1), ("product_id", 1)]]


class DocChunk(TenantDocument):
    product_id: PydanticObjectId
    document_id: PydanticObjectId
    ordinal: int
    start: int  # offsets into the document's extracted text
    end: int
    text: str
    embedding: list[float] | None = None

    class Settings:
        name = "doc_chunks"
        indexes = [[("tenant_id", 1), ("product_id", 1)], [("tenant_id", 1), ("document_id", 1)]]
