"""Month arithmetic on the first days of months, the periods revenue is kept in."""

from __future__ import annotations

from datetime import date


def add_months(start: date, months: int) -> date:
    """The first of the month `months` after `start`'s month (before it when negative)."""
    years, month = divmod(start.month - 1 + months, 12)
    return date(start.year + years, month + 1, 1)
