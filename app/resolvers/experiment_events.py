"""Event ingestion: exposures, conversions, revenue, refunds and churn per unit.

The API path touches Redis only: one Lua call per batch claims each event id
(`SET NX EX`, so a repeated id is a counted and ignored duplicate) and adds the event to
a per-experiment pending hash (`HINCRBY "arm|kind|unit"`), atomically. The engine job
flushes that hash into `ExperimentUnit` documents: RENAME it aside (new events start a
fresh hash), upsert one document per unit (`$inc` revenue, `$max` the 0/1 flags), delete
it. Per-unit totals are what make sums of squares right: a unit's revenue is squared
after all its events are added up. Late events simply add to their unit; a conversion
that arrives before its exposure counts once the exposure arrives. The arm is never
taken from the client: it is recomputed from the assignment hash.

A `pre_period_revenue` event records what the unit spent before the experiment (CUPED's
covariate); its amounts add up in the unit's `covariate`, idempotent by event id too.

A flush holds the experiment's flush lock (Redis, so across the API and the workers) from
the RENAME to the DEL: a flush that starts while another is writing waits for it, so when
it returns, every event acknowledged before it started is in the unit documents. That is
what `recomputeExperiment` promises, while the engine flushes in a worker at any moment.

Trade-off: if the process dies between the Mongo upserts and the DEL, the aside hash is
left for an operator (logged), never applied twice; the flags are idempotent anyway.
Without Redis (single-process development) a dict stands in for the hash.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from enum import StrEnum

from bson import ObjectId
from pymongo import UpdateOne
from redis.exceptions import ResponseError

from app.errors import ValidationFailed
from app.models.base import parse_id, utcnow
from app.models.experiment import Experiment, ExperimentArm, ExperimentUnit
from app.models.segment import CustomerSegment
from app.resolvers.assignment import arm_for
from app.resolvers.ctx import ResolverCtx
from app.resolvers.experiment import ACCEPTS_EVENTS
from app.runtime import Services

log = logging.getLogger(__name__)
MAX_EVENTS = 1000
ID_MAX = 200
MAX_AMOUNT = 100_000_000_00  # a billion in cents per event
DEDUPE_TTL = 7 * 24 * 3600  # an event id repeated after a week counts again
FLUSH_LOCK_SECONDS = 120.0  # far above a flush of a large backlog
_MEMORY: dict[str, Counter[str]] = defaultdict(Counter)
CLAIM_AND_COUNT = """
local dups = 0
local i = 2
while i <= #ARGV do
  local n = tonumber(ARGV[i + 2])
  if redis.call('SET', ARGV[i], '1', 'NX', 'EX', ARGV[1]) then
    for j = 0, n - 1 do
      redis.call('HINCRBY', ARGV[i + 1], ARGV[i + 3 + 2 * j], ARGV[i + 4 + 2 * j])
    end
  else
    dups = dups + 1
  end
  i = i + 3 + 2 * n
end
return dups
"""


class EventKind(StrEnum):
    EXPOSURE = "exposure"
    CONVERSION = "conversion"
    REVENUE = "revenue"
    REFUND = "refund"
    CHURN = "churn"
    PRE_PERIOD_REVENUE = "pre_period_revenue"


FLAGS = {
    EventKind.EXPOSURE: "exposed",
    EventKind.CONVERSION: "converted",
    EventKind.REFUND: "refunded",
    EventKind.CHURN: "churned",
}
SEGMENT = "segment="
# Where an event's amount goes; refunds subtract.
AMOUNTS = {EventKind.PRE_PERIOD_REVENUE: "covariate"}


@dataclass(frozen=True)
class EventIn:
    event_id: str
    experiment_id: str
    unit_id: str
    kind: EventKind
    amount_cents: int = 0
    segment_id: str | None = None


@dataclass
class IngestReport:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def increments(event: EventIn, arm: str) -> list[tuple[str, int]]:
    """Hash fields ("arm|kind|unit") and amounts one event adds; a stated segment is the
    field "arm|segment=<id>|unit", whose value is only a marker."""
    unit = f"{arm}|{{}}|{event.unit_id}"
    out = [(unit.format(FLAGS[event.kind]), 1)] if event.kind in FLAGS else []
    if event.segment_id is not None:
        out.append((unit.format(SEGMENT + event.segment_id), 1))
    sign = -1 if event.kind == EventKind.REFUND else 1
    if event.amount_cents:
        amount = AMOUNTS.get(event.kind, "revenue")
        out.append((unit.format(amount), sign * event.amount_cents))
    return out


def _check(events: list[EventIn]) -> None:
    if not 1 <= len(events) <= MAX_EVENTS:
        raise ValidationFailed.single("events", f"send 1 to {MAX_EVENTS} events per call")
    for i, event in enumerate(events):
        for name, value in (("eventId", event.event_id), ("unitId", event.unit_id)):
            if not 1 <= len(value) <= ID_MAX:
                raise ValidationFailed.single(f"events.{i}.{name}", f"must be 1 to {ID_MAX} long")
        if not 0 <= event.amount_cents <= MAX_AMOUNT:
            raise ValidationFailed.single(f"events.{i}.amountCents", "must be >= 0")
        if event.amount_cents and event.kind in (EventKind.EXPOSURE, EventKind.CHURN):
            raise ValidationFailed.single(f"events.{i}.amountCents", f"{event.kind} has none")


async def _check_segments(
    ctx: ResolverCtx, events: list[EventIn], experiments: dict[str, Experiment]
) -> None:
    """A stated segment is a segment of the experiment's product (a target, when the
    experiment has targets); anything else rejects the batch."""
    stated = {e.segment_id for e in events if e.segment_id is not None}
    if not stated:
        return
    ids = {sid: parse_id(sid) for sid in stated}
    found = await ctx.scope.get_many(CustomerSegment, [oid for oid in ids.values() if oid])
    for i, event in enumerate(events):
        if event.segment_id is None:
            continue
        experiment = experiments[event.experiment_id]
        oid = ids[event.segment_id]
        segment = found.get(oid) if oid is not None else None
        targets = experiment.target_segment_ids
        if segment is None or segment.product_id != experiment.product_id:
            problem = "no such segment of the experiment's product"
        elif targets and segment.id not in targets:
            problem = "the experiment does not target this segment"
        else:
            continue
        raise ValidationFailed.single(f"events.{i}.segmentId", problem)


async def _experiments(ctx: ResolverCtx, events: list[EventIn]) -> dict[str, Experiment]:
    found: dict[str, Experiment] = {}
    for i, event in enumerate(events):
        if event.experiment_id not in found:
            doc = await ctx.scope.get(Experiment, event.experiment_id)
            if doc is None:
                raise ValidationFailed.single(f"events.{i}.experimentId", "no such experiment")
            found[event.experiment_id] = doc
    return found


def pending_key(services: Services, tenant_id: str, experiment_id: str) -> str:
    return f"{services.settings.redis_prefix}:xp:{tenant_id}:{experiment_id}:pending"


async def record(ctx: ResolverCtx, events: list[EventIn]) -> IngestReport:
    """Count a batch once per event id; the whole batch is rejected on malformed input."""
    _check(events)
    experiments = await _experiments(ctx, events)
    await _check_segments(ctx, events, experiments)
    report = IngestReport(received=len(events))
    prefixes = {xid: pending_key(ctx.services, ctx.tenant_id, xid) for xid in experiments}
    # A unit sends several events per batch; hash it once (two sha256 per unit).
    arms: dict[tuple[str, str], ExperimentArm | None] = {}
    batch: list[tuple[str, str, list[tuple[str, int]]]] = []
    for i, event in enumerate(events):
        experiment = experiments[event.experiment_id]
        unit = (event.experiment_id, event.unit_id)
        if unit not in arms:
            arms[unit] = arm_for(experiment, event.unit_id)
        arm = arms[unit]
        if experiment.status not in ACCEPTS_EVENTS:
            report.rejected.append((i, f"the experiment is {experiment.status}"))
        elif arm is None:
            report.rejected.append((i, "the unit is outside the rollout"))
        else:
            prefix = prefixes[event.experiment_id]
            batch.append((f"{prefix}:seen:{event.event_id}", prefix, increments(event, arm.key)))
    report.duplicates = await _claim_and_count(ctx.services, batch)
    report.accepted = len(batch) - report.duplicates
    return report


async def _claim_and_count(
    services: Services, batch: list[tuple[str, str, list[tuple[str, int]]]]
) -> int:
    if not batch:
        return 0
    if services.redis is None:
        return await _memory_claim_and_count(services, batch)
    args: list[str] = [str(DEDUPE_TTL)]
    for seen_key, hash_key, fields in batch:
        args += [seen_key, hash_key, str(len(fields))]
        for name, amount in fields:
            args += [name, str(amount)]
    return int(await services.redis.eval(CLAIM_AND_COUNT, 0, *args))  # type: ignore[misc]


async def _memory_claim_and_count(
    services: Services, batch: list[tuple[str, str, list[tuple[str, int]]]]
) -> int:
    duplicates = 0
    for seen_key, hash_key, fields in batch:
        if not await services.kv.claim(seen_key, DEDUPE_TTL):
            duplicates += 1
            continue
        for name, amount in fields:
            _MEMORY[hash_key][name] += amount
    return duplicates


async def _take_pending(services: Services, key: str) -> tuple[dict[str, int], str | None]:
    """Move the pending counters aside atomically: (counters, the aside key to delete)."""
    if services.redis is None:
        return dict(_MEMORY.pop(key, Counter())), None
    aside = f"{key}:flushing:{uuid.uuid4().hex}"
    try:
        await services.redis.rename(key, aside)
    except ResponseError:  # no such key: nothing pending
        return {}, None
    values = await services.redis.hgetall(aside)  # type: ignore[misc]
    return {name: int(value) for name, value in values.items()}, aside


def unit_updates(
    tenant_id: str, experiment: Experiment, pending: dict[str, int]
) -> list[UpdateOne]:
    units: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    segments: dict[tuple[str, str], ObjectId] = {}
    for name, amount in pending.items():
        arm, kind, unit_id = name.split("|", 2)
        counts = units[(arm, unit_id)]  # a unit that only stated its segment is a unit too
        if kind.startswith(SEGMENT):
            segments[(arm, unit_id)] = ObjectId(kind.removeprefix(SEGMENT))
        else:
            counts[kind] = amount
    now = utcnow()
    updates = []
    for key, counts in units.items():
        arm, unit_id = key
        flags = {k: 1 for k in FLAGS.values() if counts.get(k)}
        sums = {"revenue_cents": counts.get("revenue", 0), "covariate": counts.get("covariate", 0)}
        stated = {"segment_id": segments[key]} if key in segments else {}
        updates.append(
            UpdateOne(
                {"tenant_id": tenant_id, "experiment_id": experiment.id, "unit_id": unit_id},
                {
                    "$inc": {**sums, "revision": 1},
                    "$max": flags or {"exposed": 0},
                    "$set": {"updated_at": now, **stated},
                    "$setOnInsert": {"arm": arm, "created_at": now},
                },
                upsert=True,
            )
        )
    return updates


async def flush(services: Services, experiment: Experiment) -> int:
    """Apply the experiment's pending counters to its unit documents, once a flush under
    way has written its own; units touched."""
    key = pending_key(services, experiment.tenant_id, str(experiment.id))
    async with services.kv.lock(
        f"xp-flush:{experiment.tenant_id}:{experiment.id}", FLUSH_LOCK_SECONDS
    ):
        return await _apply_pending(services, experiment, key)


async def _apply_pending(services: Services, experiment: Experiment, key: str) -> int:
    pending, aside = await _take_pending(services, key)
    if pending:
        updates = unit_updates(experiment.tenant_id, experiment, pending)
        try:
            await ExperimentUnit.get_pymongo_collection().bulk_write(updates, ordered=False)
        except Exception:
            log.error("flush of %s failed; its counters stay in %s", experiment.id, aside)
            raise
    if aside is not None:
        await services.redis.delete(aside)  # type: ignore[union-attr]
    return len(pending)
