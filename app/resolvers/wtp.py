"""Willingness-to-pay surveys: created from JSON responses or imported from a CSV file,
analysed on read (app.analytics.wtp) against the unit cost of the plan they price.

A response may carry Van Westendorp's four prices (all four or none; with the
Newton-Miller-Smith intents at the cheap and expensive prices, both or neither, for every
such response or none) and a Gabor-Granger ladder (purchase intent at prices, each price
once). The CSV import has one row per respondent: the columns too_cheap_cents,
cheap_cents, expensive_cents, too_expensive_cents, intent_at_cheap, intent_at_expensive,
and one `intent_at_<cents>` column per ladder price; an empty cell is a question not asked.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from app.analytics.wtp import (
    INTENT_CALIBRATION,
    GaborGrangerResult,
    LadderAnswer,
    PsmResult,
    gabor_granger,
    van_westendorp,
)
from app.errors import FieldIssue, ValidationFailed
from app.models import CustomerSegment, PricingPlan, Product, TenantScope
from app.models.base import parse_id
from app.models.wtp import LadderAnswers, PsmAnswers, WtpSurvey
from app.ratelimit import limits_for
from app.resolvers import upload
from app.resolvers.ctx import ResolverCtx
from app.resolvers.page import Page, PageArgs, find_page
from app.resolvers.product import AMOUNT_MAX, NAME_MAX

ENTITY = "WtpSurvey"
MAX_RESPONSES = 20_000
MAX_RUNGS = 50  # ladder prices of one respondent
MAX_REPORTED = 20  # row errors of a file named in the validation error
READ_BYTES = 64 * 1024
PSM_FIELDS = ("too_cheap_cents", "cheap_cents", "expensive_cents", "too_expensive_cents")
INTENT_FIELDS = ("intent_at_cheap", "intent_at_expensive")
LADDER_COLUMN = re.compile(r"intent_at_(\d+)")


@dataclass(frozen=True)
class Paths:
    """Where errors point: the responses as a whole, and one field of one response."""

    whole: tuple[str, ...]
    item: Callable[[int, str], tuple[str, ...]]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


INPUT_PATHS = Paths(
    ("input", "responses"), lambda i, name: ("input", "responses", str(i), _camel(name))
)
FILE_PATHS = Paths(("file",), lambda i, column: ("file", f"row {i + 2}", column))


@dataclass(frozen=True)
class ResponseInput:
    too_cheap_cents: int | None = None
    cheap_cents: int | None = None
    expensive_cents: int | None = None
    too_expensive_cents: int | None = None
    intent_at_cheap: int | None = None
    intent_at_expensive: int | None = None
    ladder: Sequence[tuple[int, int]] = field(default_factory=tuple)  # (price cents, intent)

    def has_psm(self) -> bool:
        return any(getattr(self, name) is not None for name in PSM_FIELDS)

    def has_intents(self) -> bool:
        return any(getattr(self, name) is not None for name in INTENT_FIELDS)


def _price_issue(cents: int) -> str | None:
    return None if 1 <= cents <= AMOUNT_MAX else f"must be 1 to {AMOUNT_MAX} cents"


def _intent_issue(intent: int) -> str | None:
    return None if 1 <= intent <= 5 else "a purchase intent from 1 to 5"


def _response_issues(i: int, r: ResponseInput, paths: Paths) -> list[FieldIssue]:
    issues: list[FieldIssue] = []

    def check(name: str, problem: str | None) -> None:
        if problem:
            issues.append(FieldIssue(paths.item(i, name), problem))

    if r.has_psm():
        for name in PSM_FIELDS:
            value = getattr(r, name)
            check(name, "give all four prices or none" if value is None else _price_issue(value))
    for name in INTENT_FIELDS:
        value = getattr(r, name)
        if value is not None:
            check(name, _intent_issue(value) if r.has_psm() else "needs the four prices")
        elif r.has_intents():
            check(name, "give both intents or neither")
    prices = [price for price, _ in r.ladder]
    if len(prices) > MAX_RUNGS:
        check("ladder", f"at most {MAX_RUNGS} prices")
    if len(set(prices)) != len(prices):
        check("ladder", "each price once")
    for price, intent in r.ladder:
        check("ladder", _price_issue(price) or _intent_issue(intent))
    return issues


def _psm_columns(responses: Sequence[ResponseInput]) -> PsmAnswers | None:
    asked = [r for r in responses if r.has_psm()]
    if not asked:
        return None
    columns: dict[str, Any] = {n: [getattr(r, n) for r in asked] for n in PSM_FIELDS}
    if asked[0].has_intents():  # then every one has them (checked)
        columns["intent_cheap"] = [r.intent_at_cheap for r in asked]
        columns["intent_expensive"] = [r.intent_at_expensive for r in asked]
    return PsmAnswers(**columns)


def _ladder_columns(responses: Sequence[ResponseInput]) -> LadderAnswers | None:
    answers = [(i, p, intent) for i, r in enumerate(responses) for p, intent in r.ladder]
    if not answers:
        return None
    who, prices, intents = zip(*answers, strict=True)
    return LadderAnswers(respondent=list(who), price_cents=list(prices), intent=list(intents))


def _columns(
    responses: Sequence[ResponseInput], paths: Paths
) -> tuple[PsmAnswers | None, LadderAnswers | None]:
    """The answers by column; ValidationFailed (nothing stored) for any bad answer."""
    if not 1 <= len(responses) <= MAX_RESPONSES:
        raise ValidationFailed([FieldIssue(paths.whole, f"1 to {MAX_RESPONSES} responses")])
    issues = [issue for i, r in enumerate(responses) for issue in _response_issues(i, r, paths)]
    with_psm = [i for i, r in enumerate(responses) if r.has_psm()]
    without_intents = [i for i in with_psm if not responses[i].has_intents()]
    if without_intents and len(without_intents) < len(with_psm):
        message = "intents at cheap and expensive for every response, or for none"
        issues.append(FieldIssue(paths.item(without_intents[0], INTENT_FIELDS[0]), message))
    if issues:
        raise ValidationFailed(issues[:MAX_REPORTED])
    return _psm_columns(responses), _ladder_columns(responses)


def _calibration(values: Sequence[float] | None) -> list[float]:
    if values is None:
        return list(INTENT_CALIBRATION)
    ordered = all(a >= b for a, b in pairwise(values))
    if len(values) != 5 or not ordered or not all(0.0 <= v <= 1.0 for v in values):
        raise ValidationFailed.single(
            "input.intentCalibration",
            "five probabilities from 0 to 1, for intents 5 down to 1, not increasing",
        )
    return list(values)


def psm_of(survey: WtpSurvey) -> PsmResult | None:
    """Van Westendorp (with NMS when intents were asked) on the stored prices, in cents."""
    a = survey.psm
    if a is None:
        return None
    table = np.column_stack([getattr(a, n) for n in PSM_FIELDS])
    intents = (
        np.column_stack([a.intent_cheap, a.intent_expensive])
        if a.intent_cheap is not None and a.intent_expensive is not None
        else None
    )
    return van_westendorp(table, intents, survey.intent_calibration)


def ladder_of(survey: WtpSurvey, unit_cost_cents: int) -> GaborGrangerResult | None:
    """Gabor-Granger on the stored ladder answers, in cents."""
    ladder = survey.ladder
    if ladder is None:
        return None
    answers = [
        LadderAnswer(*row)
        for row in zip(ladder.respondent, ladder.price_cents, ladder.intent, strict=True)
    ]
    return gabor_granger(answers, float(unit_cost_cents), survey.intent_calibration)


async def unit_cost_of(scope: TenantScope, survey: WtpSurvey) -> int:
    plan = await scope.get(PricingPlan, survey.plan_id) if survey.plan_id else None
    return plan.unit_cost_cents if plan else 0


async def _owners(
    ctx: ResolverCtx, product_id: str, segment_id: str, plan_id: str | None
) -> tuple[Product, CustomerSegment, PricingPlan | None]:
    product = await ctx.scope.require(Product, product_id)
    segment = await ctx.scope.get(CustomerSegment, segment_id)
    if segment is None or segment.product_id != product.id:
        raise ValidationFailed.single("segmentId", "no such segment of the product")
    plan = await ctx.scope.get(PricingPlan, plan_id) if plan_id else None
    if plan_id and (plan is None or plan.product_id != product.id):
        raise ValidationFailed.single("planId", "no such plan of the product")
    return product, segment, plan


async def create_survey(
    ctx: ResolverCtx,
    product_id: str,
    segment_id: str,
    plan_id: str | None,
    name: str,
    responses: Sequence[ResponseInput],
    calibration: Sequence[float] | None = None,
    paths: Paths = INPUT_PATHS,
) -> WtpSurvey:
    if len(name) > NAME_MAX:
        raise ValidationFailed.single("input.name", f"at most {NAME_MAX} characters")
    product, segment, plan = await _owners(ctx, product_id, segment_id, plan_id)
    psm, ladder = _columns(responses, paths)
    survey = WtpSurvey(
        tenant_id=ctx.tenant_id,
        product_id=product.id,
        segment_id=segment.id,
        plan_id=plan.id if plan else None,
        name=name.strip() or f"Survey of {segment.name}",
        respondents=len(responses),
        psm=psm,
        ladder=ladder,
        intent_calibration=_calibration(calibration),
    )
    try:
        psm_of(survey)
        ladder_of(survey, 0)
    except ValueError as error:  # every answer of a method inconsistent
        raise ValidationFailed([FieldIssue(paths.whole, str(error))], str(error)) from None
    stored = await ctx.scope.insert(survey)
    ctx.audit.record(ENTITY, stored.id, after={"name": stored.name, "respondents": len(responses)})
    return stored


# --- CSV import ------------------------------------------------------------------------


async def _limited(read: Callable[[int], Awaitable[bytes]], limit: int) -> AsyncIterator[bytes]:
    size = 0
    while data := await read(READ_BYTES):
        size += len(data)
        if size > limit:
            raise ValidationFailed.single("file", f"larger than the plan's {limit} bytes")
        yield data
    if size == 0:
        raise ValidationFailed.single("file", "is empty")


def _known(column: str) -> bool:
    return column in PSM_FIELDS or column in INTENT_FIELDS or bool(LADDER_COLUMN.fullmatch(column))


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError("must be a whole number (cents for prices)") from None


def _row(names: list[str], row: int, values: list[str]) -> tuple[ResponseInput, list[Any]]:
    cells: dict[str, int] = {}

    def parse(name: str, raw: str) -> None:
        cells[name] = _whole(raw)

    errors = upload.parse_cells(names, (), row, values, parse)
    ladder = tuple(
        (int(matched[1]), intent)
        for name, intent in cells.items()
        if (matched := LADDER_COLUMN.fullmatch(name))
    )
    fixed = {k: v for k, v in cells.items() if not LADDER_COLUMN.fullmatch(k)}
    return ResponseInput(**fixed, ladder=ladder), errors


async def read_responses(
    read: Callable[[int], Awaitable[bytes]], limit: int
) -> list[ResponseInput]:
    """One response per CSV record after the header; ValidationFailed naming the rows."""
    responses: list[ResponseInput] = []
    errors: list[Any] = []
    names: list[str] | None = None
    try:
        async for values in upload.parse_records(_limited(read, limit)):
            if names is None:
                names = upload.check_header(values, (), _known)
                continue
            if len(responses) >= MAX_RESPONSES:
                raise ValidationFailed.single("file", f"at most {MAX_RESPONSES} respondents")
            response, row_errors = _row(names, len(responses) + 2, values)
            responses.append(response)
            errors.extend(row_errors)
    except upload.UnreadableFile as unreadable:
        raise ValidationFailed.single("file", str(unreadable)) from None
    if errors:
        issues = [FieldIssue(("file", f"row {e.row}", e.column), e.message) for e in errors]
        raise ValidationFailed(issues[:MAX_REPORTED], f"{len(errors)} invalid cells")
    return responses


async def import_survey(
    ctx: ResolverCtx,
    product_id: str,
    segment_id: str,
    plan_id: str | None,
    name: str,
    read: Callable[[int], Awaitable[bytes]],
) -> WtpSurvey:
    await _owners(ctx, product_id, segment_id, plan_id)  # before reading the file
    responses = await read_responses(read, limits_for(ctx.principal.tier).max_upload_bytes)
    return await create_survey(
        ctx,
        product_id,
        segment_id,
        plan_id,
        name,
        responses,
        paths=FILE_PATHS,
    )


def survey_filter(product_id: str | None, segment_id: str | None) -> dict[str, Any]:
    given = {"product_id": product_id, "segment_id": segment_id}
    return {key: parse_id(value) for key, value in given.items() if value is not None}


async def list_surveys(
    ctx: ResolverCtx, product_id: str | None, segment_id: str | None, page: PageArgs
) -> Page[WtpSurvey]:
    return await find_page(ctx.scope, WtpSurvey, survey_filter(product_id, segment_id), page)


async def get_survey(ctx: ResolverCtx, survey_id: str) -> WtpSurvey | None:
    return await ctx.scope.get(WtpSurvey, survey_id)
