"""API usage per day and approaching-limit warnings, for admins."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator

import strawberry

from app.errors import ValidationFailed
from app.models import identity
from app.ratelimit import limits_for
from app.resolvers import usage as use_case
from app.schema.context import Info
from app.schema.fields import query, subscription
from app.schema.streams import stream

MAX_DAYS = 400


@strawberry.type
class UsageDay:
    day: dt.date
    api_calls: int
    expensive_operations: int


@strawberry.type
class PlanLimits:
    requests_per_minute: int
    expensive_operations_per_hour: int
    max_upload_bytes: int
    max_users: int


@strawberry.type
class Usage:
    days: list[UsageDay]
    limits: PlanLimits


@strawberry.type
class UsageWarning:
    limit: str
    quota: int
    remaining: int
    cursor: str


@strawberry.type
class UsageQuery:
    @query(identity.Role.ADMIN)
    async def usage(self, info: Info, days: int = 30) -> Usage:
        if not 1 <= days <= MAX_DAYS:
            raise ValidationFailed.single("days", f"must be between 1 and {MAX_DAYS}")
        ctx = info.context.ctx
        counted = await use_case.usage(ctx.services, ctx.tenant_id, days)
        limits = limits_for(ctx.principal.tier)
        return Usage(
            days=[
                UsageDay(
                    day=d.day, api_calls=d.api_calls, expensive_operations=d.expensive_operations
                )
                for d in counted
            ],
            limits=PlanLimits(
                requests_per_minute=limits.requests_per_minute,
                expensive_operations_per_hour=limits.expensive_per_hour,
                max_upload_bytes=limits.max_upload_bytes,
                max_users=limits.max_users,
            ),
        )


@strawberry.type
class UsageSubscription:
    @subscription(identity.Role.ADMIN, description="Warnings when a quota is nearly used up.")
    def usage_warnings(
        self, info: Info, since: str | None = None
    ) -> AsyncGenerator[UsageWarning, None]:
        events = info.context.ctx.follow(use_case.USAGE_TOPIC, since)
        return stream(events, lambda event: UsageWarning(cursor=event.id, **event.data))
