"""Willingness-to-pay surveys of a product's segment: the answers, stored by column.

Columns (one entry per respondent, or per ladder answer) rather than one sub-document per
response: a survey of thousands of respondents stays a small document that loads straight
into the analysis's arrays.
"""

from __future__ import annotations

from beanie import PydanticObjectId
from pydantic import BaseModel, Field

from app.models.base import TenantDocument


class PsmAnswers(BaseModel):
    """Van Westendorp's four prices per respondent (cents), with the Newton-Miller-Smith
    purchase intents (1 to 5) at the cheap and expensive prices when they were asked."""

    too_cheap_cents: list[int] = Field(default_factory=list)
    cheap_cents: list[int] = Field(default_factory=list)
    expensive_cents: list[int] = Field(default_factory=list)
    too_expensive_cents: list[int] = Field(default_factory=list)
    intent_cheap: list[int] | None = None
    intent_expensive: list[int] | None = None


class LadderAnswers(BaseModel):
    """Gabor-Granger: each answer is a respondent's purchase intent (1 to 5) at a price."""

    respondent: list[int] = Field(default_factory=list)
    price_cents: list[int] = Field(default_factory=list)
    intent: list[int] = Field(default_factory=list)


class WtpSurvey(TenantDocument):
    product_id: PydanticObjectId
    segment_id: PydanticObjectId
    plan_id: PydanticObjectId | None = None  # the plan priced: its unit cost gives profit
    name: str
    respondents: int
    psm: PsmAnswers | None = None
    ladder: LadderAnswers | None = None
    intent_calibration: list[float]  # probability of buying at intents 5, 4, 3, 2, 1

    class Settings:
        name = "wtp_surveys"
