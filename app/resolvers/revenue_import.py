"""Bulk import of revenue contributions from CSV: the columns and the row parser the import
workflow (app/workflows/revenue_import.py) streams the upload (app/resolvers/upload.py)
through.

One row is one month of a contribution; every column is required:

- `plan`, `segment`: an id or a name, of the product's plans and segments;
- `period`: the month, as `YYYY-MM`, or its first day (`YYYY-MM-01`, or midnight UTC of it);
- `revenue_cents`: a whole number, 0 or more, of minor units of `currency` (cents; yen for
  JPY), as in the API; a decimal point is refused, so an amount in major units is never
  read as cents;
- `active_subscriptions`: a whole number, 0 or more;
- `currency`: the contribution's currency if it is stored already, else its plan's.

Rows of the same plan, segment and month are summed, as
`upsertRevenueContribution` sums the points of one call (a billing export may split a
month); the months of the file then replace those stored, and other stored months stay.
Importing the same file twice therefore leaves the data as importing it once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from app.models import CustomerSegment, PricingPlan
from app.resolvers.revenue import CURRENCY_CODES, PointInput
from app.resolvers.upload import Lookup, RowError, check_header, import_spec, parse_cells

IMPORT_RUN = import_spec("revenue_import", "Import revenue contributions from a CSV upload")
COLUMNS = ("plan", "segment", "period", "revenue_cents", "active_subscriptions", "currency")
MAX_AMOUNT = 10**13  # far above any real month, far below MongoDB's 64-bit integers
MONTH = re.compile(r"(\d{4})-(\d{2})")


def header(values: list[str]) -> list[str]:
    return check_header(values, COLUMNS, lambda name: name in COLUMNS)


@dataclass(frozen=True)
class RevenueRow:
    plan_id: Any
    segment_id: Any
    currency: str
    point: PointInput

    @property
    def key(self) -> tuple[Any, Any]:
        return self.plan_id, self.segment_id


def month(text: str) -> date:
    if matched := MONTH.fullmatch(text):
        return date(int(matched[1]), int(matched[2]), 1)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("not a month: use YYYY-MM or YYYY-MM-01") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    if moment.day != 1 or moment.time() != time():
        raise ValueError("must be the first day of a month")
    return moment.date()


def whole(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError("must be a whole number (minor units for money)") from None
    if value < 0:
        raise ValueError("must not be negative")
    if value > MAX_AMOUNT:
        raise ValueError(f"at most {MAX_AMOUNT}")
    return value


def currency_code(text: str) -> str:
    if text not in CURRENCY_CODES:
        raise ValueError(f"use one of {', '.join(sorted(CURRENCY_CODES))}")
    return text


class RowParser:
    """Turns a record into a RevenueRow, or row errors."""

    def __init__(
        self,
        names: list[str],
        plans: list[PricingPlan],
        segments: list[CustomerSegment],
        stored: dict[tuple[Any, Any], str],
    ) -> None:
        self.names = names
        self.columns: dict[str, Callable[[str], Any]] = {
            "plan": Lookup(plans, "plan"),
            "segment": Lookup(segments, "segment"),
            "period": month,
            "revenue_cents": whole,
            "active_subscriptions": whole,
            "currency": currency_code,
        }
        self.plan_currency = {plan.id: plan.currency for plan in plans}
        self.stored = stored  # the currency of each stored contribution, by (plan, segment)

    def parse(self, row: int, values: list[str]) -> tuple[RevenueRow | None, list[RowError]]:
        cells: dict[str, Any] = {}

        def parse_cell(name: str, raw: str) -> None:
            cells[name] = self.columns[name](raw)

        errors = parse_cells(self.names, COLUMNS, row, values, parse_cell)
        if errors:
            return None, errors
        if problem := self._currency_problem(cells):
            return None, [RowError(row, "currency", problem)]
        point = PointInput(cells["period"], cells["revenue_cents"], cells["active_subscriptions"])
        return RevenueRow(cells["plan"], cells["segment"], cells["currency"], point), []

    def _currency_problem(self, cells: dict[str, Any]) -> str | None:
        stored = self.stored.get((cells["plan"], cells["segment"]))
        if stored is not None and cells["currency"] != stored:
            return f"this contribution is stored in {stored}"
        priced = self.plan_currency[cells["plan"]]
        if stored is None and cells["currency"] != priced:
            return f"the plan is priced in {priced}"
        return None
