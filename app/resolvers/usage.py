"""Rate limits per tenant and plan tier, usage counters per day, approaching-limit warnings.

Without Redis (zero-config development) nothing is limited or counted.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from redis.exceptions import RedisError

from app.errors import RateLimited
from app.ratelimit import TIER_LIMITS, Decision, Tally, limits_for
from app.resolvers.principal import Principal
from app.runtime import Services

log = logging.getLogger(__name__)
MINUTE = 60.0
WARN_AT = 0.1  # warn when less than 10% of a window's quota is left
USAGE_TOPIC = "usage"
USAGE_RETENTION_DAYS = 400
COUNTERS = ("apiCalls", "expensiveOperations")
SYSTEM = "system"  # the principal kind of jobs and the CLI (resolvers/ctx.py system_ctx)


@dataclass(frozen=True)
class UsageDay:
    day: date
    api_calls: int
    expensive_operations: int


async def admit_operation(services: Services, principal: Principal | None, client_ip: str) -> None:
    """Consume one operation of the caller's per-minute quota (per IP when anonymous), or
    raise RateLimited. Every operation passes here, whatever its transport: an HTTP request,
    or each `subscribe` message of a WebSocket (queries and mutations sent over it too).

    Limits fail open: while Redis is down requests are served, not counted.
    """
    if services.limiter is None:
        return
    try:
        decision = await _admit(services, principal, client_ip)
    except (RedisError, OSError) as error:
        log.warning("rate limit not applied, Redis unavailable: %s", error)
        return
    if not decision.allowed:
        raise RateLimited("requests per minute", decision.retry_after)


async def _admit(services: Services, principal: Principal | None, client_ip: str) -> Decision:
    assert services.limiter is not None
    window = services.settings.request_window_seconds
    if principal is None:
        limit = TIER_LIMITS["free"].requests_per_minute
        return await services.limiter.hit(f"ip:{client_ip}:requests", limit, window)
    what = "requests per minute"
    limit = limits_for(principal.tier).requests_per_minute
    decision = await services.limiter.hit(
        f"t:{principal.tenant_id}:requests",
        limit,
        window,
        tally=_tally(services, principal.tenant_id, "apiCalls", 1),
        warn_below=_warn_below(limit),
    )
    await _warn(services, principal.tenant_id, what, decision)
    return decision


async def charge_expensive(
    services: Services, principal: Principal, operation: str, cost: int
) -> None:
    """Take `cost` from the hourly quota of expensive work (AI, reports, uploads, runs) or
    refuse. Work the system starts itself (the follow-ups of charged work) is not charged."""
    if services.limiter is None or principal.kind == SYSTEM:
        return
    window = services.settings.expensive_window_seconds
    limit = limits_for(principal.tier).expensive_per_hour
    decision = await services.limiter.hit(
        f"t:{principal.tenant_id}:expensive",
        limit,
        window,
        min(cost, limit),
        tally=_tally(services, principal.tenant_id, "expensiveOperations", cost),
        warn_below=_warn_below(limit),
    )
    if not decision.allowed:
        raise RateLimited(operation, decision.retry_after)
    await _warn(services, principal.tenant_id, "expensive operations per hour", decision)


async def admit_login(services: Services, email: str, client_ip: str) -> None:
    """Slow down password guessing, per account and per client address."""
    if services.limiter is None:
        return
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    settings = services.settings
    for key, limit, window in (
        (f"login:{account}", settings.login_attempts_per_account, 15 * MINUTE),
        (f"login-ip:{client_ip}", settings.login_attempts_per_ip, MINUTE),
    ):
        decision = await services.limiter.hit(key, limit, window)
        if not decision.allowed:
            raise RateLimited("sign-in attempts", decision.retry_after)


def _usage_key(services: Services, tenant_id: str, day: date) -> str:
    return f"{services.settings.redis_prefix}:usage:{tenant_id}:{day.isoformat()}"


def _tally(services: Services, tenant_id: str, counter: str, amount: int) -> Tally:
    """The day's usage counter an allowed hit adds to, in the limiter's own script."""
    key = _usage_key(services, tenant_id, datetime.now(UTC).date())
    return Tally(key, counter, amount, USAGE_RETENTION_DAYS * 86_400)


async def usage(services: Services, tenant_id: str, days: int) -> list[UsageDay]:
    """Counters of the last `days` days, oldest first (zeros where nothing was counted)."""
    today = datetime.now(UTC).date()
    span = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    if services.redis is None:
        return [UsageDay(day, 0, 0) for day in span]
    async with services.redis.pipeline(transaction=False) as pipe:
        for day in span:
            pipe.hmget(_usage_key(services, tenant_id, day), list(COUNTERS))
        rows = await pipe.execute()
    return [
        UsageDay(day, int(calls or 0), int(expensive or 0))
        for day, (calls, expensive) in zip(span, rows, strict=True)
    ]


def _warn_below(limit: int) -> int:
    return math.floor(limit * WARN_AT)


async def _warn(services: Services, tenant_id: str, what: str, decision: Decision) -> None:
    """Tell the tenant's subscribers, once per window, that a quota is nearly spent."""
    if decision.warn:
        await services.bus.publish(
            tenant_id,
            USAGE_TOPIC,
            "usageWarning",
            {"limit": what, "quota": decision.limit, "remaining": decision.remaining},
        )
