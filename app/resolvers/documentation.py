"""Product documentation: fetch (through the SSRF guard) or upload, extract text, cut into
chunks, embed when a provider can, and search.

A document is re-indexed only when the hash of its text changed; chunks of documentation
URLs removed from the product are deleted with their source. Every change is announced on
the product's `vectorStoreUpdated` events. Ranking is exact cosine over the chunks'
embeddings when every chunk of the product has one from the tenant's provider, else BM25.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.ai.provider import AiFailure, ProviderBusy
from app.ai.retrieval import bm25, chunk, content_hash, cosine, to_text, top
from app.bus import Event
from app.errors import DomainError, ValidationFailed
from app.models import Product
from app.models.base import parse_id, utcnow
from app.models.documentation import DocChunk, DocumentSource
from app.resolvers.ai import provider_for
from app.resolvers.ctx import ResolverCtx
from app.security.outbound import fetch

log = logging.getLogger(__name__)
TOPIC = "documentation"
MAX_RESULTS = 50
QUERY_MAX = 1000
NAME_MAX = 300
TEXT_TYPES = ("text/", "application/xhtml", "application/json", "application/markdown")


@dataclass(frozen=True)
class SyncReport:
    product_id: str
    indexed: int  # documents (re-)indexed
    unchanged: int
    failed: int
    removed: int
    chunks: int  # of the product, after the sync


@dataclass(frozen=True)
class Hit:
    chunk: DocChunk
    source: DocumentSource
    score: float


async def _chunks_of(ctx: ResolverCtx, query: dict[str, Any]) -> list[DocChunk]:
    return await ctx.scope.find(DocChunk, query).sort("document_id", "ordinal").to_list()


async def _drop_chunks(ctx: ResolverCtx, source: DocumentSource) -> None:
    await DocChunk.get_pymongo_collection().delete_many(
        ctx.scope.filter({"document_id": source.id})
    )


async def _embed(ctx: ResolverCtx, texts: list[str]) -> tuple[np.ndarray | None, str | None]:
    """Embeddings from the tenant's provider; None (lexical ranking) when it has none or
    fails: search keeps working on BM25 rather than not at all."""
    provider, _ = await provider_for(ctx)
    try:
        vectors = await provider.embed(texts) if texts else None
    except (AiFailure, ProviderBusy) as error:
        log.warning("embeddings unavailable, ranking lexically: %s", error)
        vectors = None
    model = ctx.services.settings.openai_embedding_model if vectors is not None else None
    return vectors, model


async def index(ctx: ResolverCtx, source: DocumentSource, text: str) -> tuple[DocumentSource, bool]:
    """(Re-)index the source's text unless its hash is unchanged; returns (source, changed)."""
    digest = content_hash(text)
    if digest == source.content_hash and source.status == "indexed":
        return await ctx.scope.update(source, {"fetched_at": utcnow(), "error": None}), False
    pieces = chunk(text)
    vectors, model = await _embed(ctx, [text[p.start : p.end] for p in pieces])
    await _drop_chunks(ctx, source)
    for ordinal, piece in enumerate(pieces):
        vector = vectors[ordinal].tolist() if vectors is not None else None
        await ctx.scope.insert(
            DocChunk(
                tenant_id=ctx.tenant_id,
                product_id=source.product_id,
                document_id=source.id or source.product_id,
                ordinal=ordinal,
                start=piece.start,
                end=piece.end,
                text=text[piece.start : piece.end],
                embedding=vector,
            )
        )
    changes = {
        "content_hash": digest,
        "characters": len(text),
        "chunks": len(pieces),
        "status": "indexed",
        "error": None,
        "embedding_model": model,
        "fetched_at": utcnow(),
        "title": source.title or _title(text, source.location),
    }
    return await ctx.scope.update(source, changes), True


def _title(text: str, location: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else location
    return first[:NAME_MAX]


async def _source(ctx: ResolverCtx, product: Product, origin: str, location: str) -> DocumentSource:
    query = {"product_id": product.id, "origin": origin, "location": location}
    found = await ctx.scope.find(DocumentSource, query).first_or_none()
    if found is not None:
        return found
    return await ctx.scope.insert(
        DocumentSource(
            tenant_id=ctx.tenant_id, product_id=product.id, origin=origin, location=location
        )
    )


async def _announce(ctx: ResolverCtx, product: Product, report: SyncReport) -> None:
    await ctx.publish(
        TOPIC,
        "vectorStoreUpdated",
        {
            "productId": str(product.id),
            "indexed": report.indexed,
            "removed": report.removed,
            "chunks": report.chunks,
        },
    )


async def sync_documentation(ctx: ResolverCtx, product_id: str) -> SyncReport:
    """Fetch every documentation URL of the product, re-index what changed, drop what was
    removed from the product. A URL that cannot be fetched keeps its previous chunks."""
    product = await ctx.scope.require(Product, product_id)
    indexed = unchanged = failed = 0
    for url in product.documentation_urls:
        source = await _source(ctx, product, "url", url)
        try:
            fetched = await fetch(url, ctx.services.settings)
            text = to_text(fetched.body, fetched.content_type, url)
            source, changed = await index(ctx, source, text)
        except DomainError as error:
            failed += 1
            status = "indexed" if source.chunks else "failed"
            await ctx.scope.update(source, {"status": status, "error": error.message})
            continue
        indexed, unchanged = indexed + changed, unchanged + (not changed)
    removed = await _remove_stale(ctx, product)
    total = await ctx.scope.find(DocChunk, {"product_id": product.id}).count()
    report = SyncReport(str(product.id), indexed, unchanged, failed, removed, total)
    if indexed or removed:
        await _announce(ctx, product, report)
    return report


async def _remove_stale(ctx: ResolverCtx, product: Product) -> int:
    query = {"product_id": product.id, "origin": "url"}
    stale = [
        s
        for s in await ctx.scope.find(DocumentSource, query).to_list()
        if s.location not in product.documentation_urls
    ]
    for source in stale:
        await _drop_chunks(ctx, source)
        await ctx.scope.delete(DocumentSource, source.id or "")
    return len(stale)


async def add_document(
    ctx: ResolverCtx, product_id: str, name: str, content_type: str, body: bytes
) -> DocumentSource:
    """An uploaded document (HTML, Markdown or text); the same name replaces it."""
    product = await ctx.scope.require(Product, product_id)
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise ValidationFailed.single("file", f"needs a name of 1 to {NAME_MAX} characters")
    limit = ctx.services.settings.max_file_size_mb * 1024 * 1024
    if len(body) > limit:
        raise ValidationFailed.single("file", f"larger than {limit} bytes")
    kind = content_type.lower()
    if kind and not kind.startswith(TEXT_TYPES) and not name.lower().endswith((".md", ".txt")):
        raise ValidationFailed.single("file", "only HTML, Markdown or plain text is read")
    text = to_text(body, kind, name)
    if not text:
        raise ValidationFailed.single("file", "has no text")
    source = await _source(ctx, product, "upload", name)
    source, changed = await index(ctx, source, text)
    ctx.audit.record("DocumentSource", source.id, after=source)
    if changed:
        total = await ctx.scope.find(DocChunk, {"product_id": product.id}).count()
        await _announce(ctx, product, SyncReport(str(product.id), 1, 0, 0, 0, total))
    return source


async def remove_document(ctx: ResolverCtx, document_id: str) -> DocumentSource:
    source = await ctx.scope.require(DocumentSource, document_id)
    if source.origin == "url":
        raise ValidationFailed.single(
            "id", "remove the URL from the product's documentationUrls instead"
        )
    await _drop_chunks(ctx, source)
    await ctx.scope.delete(DocumentSource, source.id or "")
    ctx.audit.record("DocumentSource", source.id, before=source)
    product = await ctx.scope.require(Product, source.product_id)
    total = await ctx.scope.find(DocChunk, {"product_id": product.id}).count()
    await _announce(ctx, product, SyncReport(str(product.id), 0, 0, 0, 1, total))
    return source


async def search(
    ctx: ResolverCtx, product_id: str, query: str, first: int = 5
) -> tuple[list[Hit], str]:
    """The best chunks for `query`, best first, and the ranker used ("bm25" or "cosine")."""
    if not query.strip() or len(query) > QUERY_MAX:
        raise ValidationFailed.single("query", f"must be 1 to {QUERY_MAX} characters")
    if not 1 <= first <= MAX_RESULTS:
        raise ValidationFailed.single("first", f"must be 1 to {MAX_RESULTS}")
    product = await ctx.scope.require(Product, product_id)
    chunks = await _chunks_of(ctx, {"product_id": product.id})
    if not chunks:
        return [], "bm25"
    scores, ranker = await _scores(ctx, query, chunks)
    sources = await ctx.scope.get_many(DocumentSource, list({c.document_id for c in chunks}))
    hits = [
        Hit(chunks[i], sources[chunks[i].document_id], float(scores[i]))
        for i in top(scores, first)
        if chunks[i].document_id in sources
    ]
    return hits, ranker


async def _scores(ctx: ResolverCtx, query: str, chunks: list[DocChunk]) -> tuple[np.ndarray, str]:
    if all(c.embedding is not None for c in chunks):
        vectors, _ = await _embed(ctx, [query])
        if vectors is not None:
            matrix = np.asarray([c.embedding for c in chunks], dtype=np.float32)
            return cosine(vectors[0], matrix), "cosine"
    return bm25(query, [c.text for c in chunks]), "bm25"


def follow(ctx: ResolverCtx, product_id: str, since: str | None) -> AsyncGenerator[Event, None]:
    """Re-indexings of one product's documentation."""
    return ctx.follow(TOPIC, since, lambda event: event.data.get("productId") == product_id)


async def documents(ctx: ResolverCtx, product_id: str) -> list[DocumentSource]:
    """The documentation sources of a product; none for an id that is not one."""
    oid = parse_id(product_id)
    if oid is None:
        return []
    return await ctx.scope.find(DocumentSource, {"product_id": oid}).to_list()
