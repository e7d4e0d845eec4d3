"""Product documentation in the API: its sources, search over its chunks, re-indexing, and
the `vectorStoreUpdated` events (the seed's vector_store_updated)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from app.bus import Event
from app.errors import ValidationFailed
from app.models import documentation as models
from app.resolvers import documentation as use_case
from app.schema.context import Info
from app.schema.errors import NotFoundError, ValidationError
from app.schema.fields import mutation, query, subscription
from app.schema.streams import stream


@strawberry.type(description="A documentation source of a product: a URL or an uploaded file.")
class DocumentSource:
    id: strawberry.ID
    product_id: strawberry.ID
    origin: str
    location: str
    title: str
    content_type: str
    content_hash: str
    characters: int
    chunks: int
    status: str
    error: str | None
    embedding_model: str | None
    fetched_at: datetime | None

    @classmethod
    def from_model(cls, doc: models.DocumentSource) -> DocumentSource:
        return cls(
            id=strawberry.ID(str(doc.id)),
            product_id=strawberry.ID(str(doc.product_id)),
            origin=doc.origin,
            location=doc.location,
            title=doc.title,
            content_type=doc.content_type,
            content_hash=doc.content_hash,
            characters=doc.characters,
            chunks=doc.chunks,
            status=doc.status,
            error=doc.error,
            embedding_model=doc.embedding_model,
            fetched_at=doc.fetched_at,
        )


@strawberry.type(description="A ranked chunk: its text, its place in the source, its score.")
class DocHit:
    chunk_id: strawberry.ID
    text: str
    start: int
    end: int
    score: float
    source: DocumentSource


@strawberry.type
class DocSearch:
    ranker: str = strawberry.field(description="bm25 (lexical) or cosine (embeddings).")
    hits: list[DocHit]


@strawberry.type
class DocumentationSync:
    product_id: strawberry.ID
    indexed: int
    unchanged: int
    failed: int
    removed: int
    chunks: int


@strawberry.type
class VectorStoreUpdate:
    product_id: strawberry.ID
    indexed: int
    removed: int
    chunks: int
    cursor: str

    @classmethod
    def from_event(cls, event: Event) -> VectorStoreUpdate:
        return cls(
            product_id=strawberry.ID(event.data["productId"]),
            indexed=event.data["indexed"],
            removed=event.data["removed"],
            chunks=event.data["chunks"],
            cursor=event.id,
        )


SyncResult = Annotated[
    DocumentationSync | NotFoundError, strawberry.union("DocumentationSyncResult")
]
DocumentResult = Annotated[
    DocumentSource | ValidationError | NotFoundError, strawberry.union("DocumentSourceResult")
]
SearchResult = Annotated[
    DocSearch | ValidationError | NotFoundError, strawberry.union("DocSearchResult")
]


@strawberry.type
class DocumentationQuery:
    @query(description="The documentation sources of a product.")
    async def documents(self, info: Info, product_id: strawberry.ID) -> list[DocumentSource]:
        found = await use_case.documents(info.context.ctx, product_id)
        return [DocumentSource.from_model(d) for d in found]

    @query(description="The product's documentation chunks best matching the query.")
    async def search_docs(
        self, info: Info, product_id: strawberry.ID, query: str, first: int = 5
    ) -> SearchResult:
        hits, ranker = await use_case.search(info.context.ctx, product_id, query, first)
        return DocSearch(
            ranker=ranker,
            hits=[
                DocHit(
                    chunk_id=strawberry.ID(str(h.chunk.id)),
                    text=h.chunk.text,
                    start=h.chunk.start,
                    end=h.chunk.end,
                    score=h.score,
                    source=DocumentSource.from_model(h.source),
                )
                for h in hits
            ],
        )


@strawberry.type
class DocumentationMutation:
    @mutation(description="Fetch the product's documentation URLs; re-index what changed.")
    async def sync_documentation(self, info: Info, product_id: strawberry.ID) -> SyncResult:
        report = await use_case.sync_documentation(info.context.ctx, product_id)
        return DocumentationSync(
            product_id=strawberry.ID(report.product_id),
            indexed=report.indexed,
            unchanged=report.unchanged,
            failed=report.failed,
            removed=report.removed,
            chunks=report.chunks,
        )

    @mutation(description="Add (or replace, by name) an HTML, Markdown or text document.")
    async def upload_documentation(
        self, info: Info, product_id: strawberry.ID, file: Upload
    ) -> DocumentResult:
        if not isinstance(file, UploadFile):
            raise ValidationFailed.single("file", "must be a file part of a multipart request")
        limit = info.context.services.settings.max_file_size_mb * 1024 * 1024
        try:
            body = await file.read(limit + 1)
        finally:
            await file.close()
        doc = await use_case.add_document(
            info.context.ctx, product_id, file.filename or "", file.content_type or "", body
        )
        return DocumentSource.from_model(doc)

    @mutation(description="Remove an uploaded document and its chunks.")
    async def remove_document(self, info: Info, id: strawberry.ID) -> DocumentResult:
        return DocumentSource.from_model(await use_case.remove_document(info.context.ctx, id))


@strawberry.type
class DocumentationSubscription:
    @subscription(description="A product's documentation was re-indexed (vector_store_updated).")
    def vector_store_updated(
        self, info: Info, product_id: strawberry.ID, since: str | None = None
    ) -> AsyncGenerator[VectorStoreUpdate, None]:
        events = use_case.follow(info.context.ctx, product_id, since)
        return stream(events, VectorStoreUpdate.from_event)
