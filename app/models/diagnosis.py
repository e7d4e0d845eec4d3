"""AI gap diagnoses of pricing plans (the seed's PricingModelAIGapDiagnosis): the words of
the provider around the platform's facts, with verified citations."""

from __future__ import annotations

from beanie import PydanticObjectId
from pydantic import Field

from app.models.ai import Finding, Provenance
from app.models.base import TenantDocument


class GapDiagnosis(TenantDocument):
    plan_id: PydanticObjectId
    product_id: PydanticObjectId
    verdict: str  # underpriced | overpriced | well_priced | insufficient_data
    summary: str
    reasoning: str
    context: str = ""  # what the user asked the analysis to consider
    findings: list[Finding] = Field(default_factory=list)
    facts: dict[str, float] = Field(default_factory=dict)  # the figures it was given
    chunk_ids: list[str] = Field(default_factory=list)  # documentation it was given
    provenance: Provenance

    class Settings:
        name = "gap_diagnoses"
        indexes = [[("tenant_id", 1), ("plan_id", 1), ("created_at", -1)]]
