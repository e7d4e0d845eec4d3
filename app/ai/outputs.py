"""What a provider returns: strict structured outputs (every field required, nothing extra),
the same types from the OpenAI model and from the offline analyst."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Verdict = Literal["underpriced", "overpriced", "well_priced", "insufficient_data"]
Severity = Literal["low", "medium", "high"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CitationDraft(Strict):
    """Evidence for a claim: a fact key with the number the claim quotes from it, and/or a
    documentation chunk with a verbatim quote."""

    fact_key: str | None
    quoted_value: float | None
    chunk_id: str | None
    quote: str | None


class FindingDraft(Strict):
    statement: str
    severity: Severity
    evidence: list[CitationDraft]


class DiagnosisDraft(Strict):
    verdict: Verdict
    summary: str
    reasoning: str
    findings: list[FindingDraft]


class RecommendationDraft(Strict):
    option_id: str  # one of the options the platform computed
    rationale: str
    findings: list[FindingDraft]


class SectionDraft(Strict):
    """One section of a report: its text, and the findings whose figures it cites."""

    text: str
    findings: list[FindingDraft]
