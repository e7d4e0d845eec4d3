"""Bulk import of customer records from CSV: the columns and the row parser the import
workflow (app/workflows/customer_import.py) streams the upload (app/resolvers/upload.py)
through.

Columns: `external_id` and `signup_at` are required; `region`, `company_size`, `plan_id`
(a plan's id or name; a name two plans share must be given as the id),
`monthly_revenue_cents`, `usage`, `churned_at` are optional; `attributes.<key>` columns fill
`attributes` (key as in the segment filter language).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from app.models import PricingPlan
from app.resolvers.segment_filter import ATTRIBUTE_KEY
from app.resolvers.upload import Lookup, RowError, check_header, import_spec, parse_cells

IMPORT_RUN = import_spec("customer_import", "Import customers from a CSV upload")
REQUIRED = ("external_id", "signup_at")
OPTIONAL = ("region", "company_size", "plan_id", "monthly_revenue_cents", "usage", "churned_at")


def header(values: list[str]) -> list[str]:
    return check_header(values, REQUIRED, _known)


def _known(name: str) -> bool:
    prefix, _, key = name.partition(".")
    return (
        name in REQUIRED
        or name in OPTIONAL
        or (prefix == "attributes" and bool(ATTRIBUTE_KEY.fullmatch(key)))
    )


def _date(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _cents(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _usage(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError("must be a finite number, 0 or more")
    return value


class RowParser:
    """Turns a record into the fields of a Customer, or row errors."""

    def __init__(self, names: list[str], plans: list[PricingPlan]) -> None:
        self.names = names
        self.plans = Lookup(plans, "plan")

    def parse(self, row: int, values: list[str]) -> tuple[dict[str, Any] | None, list[RowError]]:
        fields: dict[str, Any] = {"attributes": {}}
        errors = parse_cells(
            self.names, REQUIRED, row, values, lambda name, raw: self._set(fields, name, raw)
        )
        churned = fields.get("churned_at")
        if churned and "signup_at" in fields and churned < fields["signup_at"]:
            errors.append(RowError(row, "churned_at", "is before signup_at"))
        return (None, errors) if errors else (fields, [])

    def _set(self, fields: dict[str, Any], name: str, raw: str) -> None:
        if name in ("signup_at", "churned_at"):
            fields[name] = _date(raw)
        elif name == "monthly_revenue_cents":
            fields[name] = _cents(raw)
        elif name == "usage":
            fields[name] = _usage(raw)
        elif name == "plan_id":
            fields[name] = self.plans(raw)
        elif name.startswith("attributes."):
            fields["attributes"][name.partition(".")[2]] = raw
        else:
            fields[name] = raw
