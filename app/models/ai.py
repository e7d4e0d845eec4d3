"""AI bookkeeping shared by the analyses: each provider call with its tokens and estimated
cost, a tenant's prompt overrides, and the stored (verified) form of findings and citations."""

from __future__ import annotations

from datetime import datetime

from beanie import PydanticObjectId
from pydantic import BaseModel, Field

from app.models.base import TenantDocument, utcnow


class KeySource:
    BYOK = "byok"  # the tenant's own key (setSecret name "openai")
    MANAGED = "managed"  # the platform's OPENAI_API_KEY
    NONE = "none"  # no key: the offline analyst


class AiCall(TenantDocument):
    operation: str  # gap_diagnosis | pricing_recommendation | embeddings
    source: str  # openai | offline
    model: str
    key_source: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0  # estimated from the configured per-token prices
    outcome: str = "ok"  # ok, or the failure kind
    run_id: PydanticObjectId | None = None
    at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "ai_calls"
        indexes = [[("tenant_id", 1), ("at", -1)]]


class PromptOverride(TenantDocument):
    name: str  # a template's name
    instructions: str

    class Settings:
        name = "prompt_overrides"
        indexes = [[("tenant_id", 1), ("name", 1)]]


class Citation(BaseModel):
    fact_key: str | None = None
    quoted_value: float | None = None
    fact_value: float | None = None  # the platform's figure, stored beside the quote
    chunk_id: str | None = None
    quote: str | None = None
    status: str = "verified"  # see app.ai.citations.CitationStatus
    detail: str = ""


class Finding(BaseModel):
    statement: str
    severity: str
    verified: bool
    evidence: list[Citation] = Field(default_factory=list)  # verified citations
    unsupported_numbers: list[str] = Field(default_factory=list)


class Provenance(BaseModel):
    """Who wrote the words and how far they were verified."""

    source: str  # openai | offline
    model: str
    key_source: str
    prompt: str  # template name
    prompt_version: int
    run_id: PydanticObjectId | None = None
    claims: int = 0
    verified_claims: int = 0
    rejected: list[Citation] = Field(default_factory=list)  # citations that failed the check
    unsupported_numbers: list[str] = Field(default_factory=list)  # in summary / rationale
    input_tokens: int = 0
    output_tokens: int = 0
