"""Data versions of plans and segments in the API."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from app import models
from app.resolvers import version
from app.schema.context import Info


@strawberry.type(description="A plan's or segment's editable fields after one change.")
class DataVersion:
    number: int
    snapshot: JSON
    actor: str
    reason: str
    created_at: datetime

    @classmethod
    def from_model(cls, doc: models.DataVersion) -> DataVersion:
        return cls(
            number=doc.number,
            snapshot=cast(JSON, doc.snapshot),
            actor=doc.actor,
            reason=doc.reason,
            created_at=doc.created_at,
        )


async def versions_of(info: Info, entity_id: str) -> list[DataVersion]:
    """Earlier versions of a plan or segment, newest first."""
    return [
        DataVersion.from_model(v) for v in await version.versions(info.context.scope, entity_id)
    ]
