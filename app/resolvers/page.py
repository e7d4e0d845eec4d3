"""Pages of a tenant's documents: keyset paging on `_id` (creation order), `first` capped.

A list use case returns a `Page`; the schema turns it into a cursor connection. The cursor
is the last document's id, opaque to clients.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias

from bson import ObjectId

from app.errors import ValidationFailed
from app.models.base import D, TenantScope, parse_id

MAX_PAGE = 100
PageArgs: TypeAlias = tuple[int, str | None]  # (first, after): how many, after which cursor


@dataclass(frozen=True)
class Page(Generic[D]):
    docs: list[D]
    has_next: bool
    count: Callable[[], Awaitable[int]]  # the matches across all pages, counted if asked


def encode_cursor(doc_id: ObjectId) -> str:
    return base64.urlsafe_b64encode(doc_id.binary).decode()


def decode_cursor(cursor: str) -> ObjectId:
    try:
        oid = parse_id(base64.urlsafe_b64decode(cursor.encode()).hex())
    except (binascii.Error, ValueError):
        oid = None
    if oid is None:
        raise ValidationFailed.single("after", "not a cursor returned by this API")
    return oid


async def find_page(
    scope: TenantScope, model: type[D], query: Mapping[str, Any], page: PageArgs
) -> Page[D]:
    """One page of `model` documents matching `query`, in creation (`_id`) order."""
    first, after = page
    if not 0 <= first <= MAX_PAGE:
        raise ValidationFailed.single("first", f"must be between 0 and {MAX_PAGE}")
    keyset = {"_id": {"$gt": decode_cursor(after)}} if after else {}
    docs = await scope.find(model, {**query, **keyset}).sort("_id").limit(first + 1).to_list()
    return Page(docs[:first], len(docs) > first, scope.find(model, query).count)
