"""Facts the platform computed, and the check of every claim a provider makes about them.

A citation names a fact key (it must exist, and the number it quotes must equal the fact
once shown the way people write it: cents as currency, ratios as percentages) and/or a
documentation chunk with a quote (the chunk must be one the provider was given, and the
quote must appear in it verbatim, whitespace aside). A finding keeps its verified citations;
one with a failed citation, or whose statement carries a number no fact supports, is not
verified. Numbers in the summary and reasoning are checked against the facts the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from app.ai.outputs import CitationDraft, FindingDraft

NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?![\w])")
RELATIVE_TOLERANCE = 0.01  # a number within 1% of the fact (rounding in prose)


class Unit(StrEnum):
    CENTS = "cents"
    RATIO = "ratio"  # 0.25 is written 25%
    COUNT = "count"
    NUMBER = "number"


@dataclass(frozen=True)
class Fact:
    value: float
    unit: Unit
    label: str

    def forms(self) -> tuple[float, ...]:
        """The ways the value may be written: as stored, and as a reader would see it."""
        if self.unit == Unit.CENTS:
            return (self.value, self.value / 100)
        if self.unit == Unit.RATIO:
            return (self.value, self.value * 100)
        return (self.value,)

    def shown(self) -> str:
        if self.unit == Unit.CENTS:
            return f"${self.value / 100:,.2f}"
        if self.unit == Unit.RATIO:
            return f"{self.value * 100:.1f}%"
        if self.unit == Unit.COUNT:
            return f"{self.value:,.0f}"
        return f"{self.value:.2f}"


Facts = Mapping[str, Fact]


class CitationStatus(StrEnum):
    VERIFIED = "verified"
    UNKNOWN_FACT = "unknown_fact"
    WRONG_NUMBER = "wrong_number"
    UNKNOWN_CHUNK = "unknown_chunk"
    QUOTE_NOT_FOUND = "quote_not_found"
    EMPTY = "empty"


@dataclass(frozen=True)
class CheckedCitation:
    draft: CitationDraft
    status: CitationStatus
    detail: str = ""


@dataclass
class CheckedFinding:
    draft: FindingDraft
    citations: list[CheckedCitation]
    unsupported_numbers: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        good = [c for c in self.citations if c.status == CitationStatus.VERIFIED]
        return bool(good) and len(good) == len(self.citations) and not self.unsupported_numbers


def close(written: float, value: float) -> bool:
    return abs(written - value) <= max(RELATIVE_TOLERANCE * abs(value), 0.005)


def numbers_in(text: str) -> list[tuple[str, float]]:
    """Numbers a reader would take as figures: not single digits, years or ids."""
    found = []
    for match in NUMBER.finditer(text):
        raw = match.group()
        value = float(raw.replace(",", ""))
        is_integer = "." not in raw
        if is_integer and (abs(value) < 10 or 1990 <= value <= 2100):
            continue
        found.append((raw, value))
    return found


def supported(value: float, facts: Iterable[Fact]) -> bool:
    return any(close(value, form) or close(-value, form) for f in facts for form in f.forms())


def normalise(text: str) -> str:
    return " ".join(text.split())


def check_citation(
    draft: CitationDraft, facts: Facts, chunks: Mapping[str, str]
) -> CheckedCitation:
    if draft.fact_key is None and draft.chunk_id is None:
        return CheckedCitation(draft, CitationStatus.EMPTY, "cites nothing")
    if draft.fact_key is not None:
        fact = facts.get(draft.fact_key)
        if fact is None:
            return CheckedCitation(draft, CitationStatus.UNKNOWN_FACT, draft.fact_key)
        if draft.quoted_value is not None and not any(
            close(draft.quoted_value, form) for form in fact.forms()
        ):
            detail = f"quoted {draft.quoted_value:g}, the platform has {fact.shown()}"
            return CheckedCitation(draft, CitationStatus.WRONG_NUMBER, detail)
    if draft.chunk_id is not None:
        text = chunks.get(draft.chunk_id)
        if text is None:
            return CheckedCitation(draft, CitationStatus.UNKNOWN_CHUNK, draft.chunk_id)
        if not draft.quote or normalise(draft.quote) not in normalise(text):
            return CheckedCitation(draft, CitationStatus.QUOTE_NOT_FOUND, draft.quote or "")
    return CheckedCitation(draft, CitationStatus.VERIFIED)


def check_finding(draft: FindingDraft, facts: Facts, chunks: Mapping[str, str]) -> CheckedFinding:
    citations = [check_citation(c, facts, chunks) for c in draft.evidence]
    return CheckedFinding(draft, citations, unsupported_numbers(draft.statement, facts))


def unsupported_numbers(text: str, facts: Facts) -> list[str]:
    """Figures in free text (a summary, a rationale) that no fact supports."""
    return [raw for raw, value in numbers_in(text) if not supported(value, facts.values())]
