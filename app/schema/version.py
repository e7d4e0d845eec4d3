"""Data versions of plans and segments in the API."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from app import models


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
