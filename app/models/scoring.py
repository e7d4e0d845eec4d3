"""Account scoring (the scoring seed's scoring_scenarios, account_lists, scoring_criteria,
account_scores and criterion_scores): a scenario holds its uploaded account list's metadata,
its criteria score every account 0-10, and each account gets a weighted 0-100 total.

An account list is embedded in its scenario (a scenario has one current list); a criterion
score is embedded in its account, so (scenario, account, criterion) is unique by shape.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from beanie import PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

from app.models.base import TenantDocument, utcnow


class ScenarioStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class TierBand(BaseModel):
    name: str
    min_score: int  # the lowest total (0-100) of the tier


DEFAULT_TIERS = [
    TierBand(name="A", min_score=75),
    TierBand(name="B", min_score=50),
    TierBand(name="C", min_score=25),
    TierBand(name="D", min_score=0),
]


class FileFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


class AccountList(BaseModel):
    """The uploaded file (kept in upload chunks under `file_id`) and how it reads."""

    file_id: PydanticObjectId
    filename: str
    format: FileFormat
    bytes: int
    encoding: str | None = None  # CSV only: as detected
    delimiter: str | None = None  # CSV only: as detected
    sheet: str | None = None  # XLSX only: the sheet read
    columns: list[str]
    preview: list[list[str]] = Field(default_factory=list)  # the first rows after the header
    id_column: str | None = None  # chosen after the preview
    name_column: str | None = None
    row_count: int | None = None  # accounts extracted
    extraction_run_id: PydanticObjectId | None = None
    uploaded_at: datetime = Field(default_factory=utcnow)


class ScoringScenario(TenantDocument):
    name: str
    description: str = ""
    status: ScenarioStatus = ScenarioStatus.PENDING
    created_by: str
    archived: bool = False
    product_id: PydanticObjectId | None = None
    segment_id: PydanticObjectId | None = None
    tiers: list[TierBand] = Field(default_factory=lambda: list(DEFAULT_TIERS))
    account_list: AccountList | None = None
    active_run_id: PydanticObjectId | None = None  # the last extraction or calculation
    calculated_at: datetime | None = None

    class Settings:
        name = "scoring_scenarios"
        indexes = [[("tenant_id", 1), ("archived", 1), ("_id", 1)]]


class ScoringMethod(StrEnum):
    MANUAL = "manual"
    RULE = "rule"
    AI = "ai"
    MODEL = "model"


class RuleKind(StrEnum):
    BANDS = "bands"  # the score of the highest band whose lower bound the value reaches
    LINEAR = "linear"  # 0 at `low`, 10 at `high`, clipped
    CATEGORY = "category"  # a score per value
    KEYWORD = "keyword"  # the best score of the keywords the value contains


class Band(BaseModel):
    min: float
    score: int


class ValueScore(BaseModel):
    value: str  # a category or a keyword
    score: int


class Rule(BaseModel):
    kind: RuleKind
    column: str
    bands: list[Band] = Field(default_factory=list)
    low: float | None = None
    high: float | None = None
    values: list[ValueScore] = Field(default_factory=list)
    default_score: int = 0  # for a blank or unmatched value


class ModelSpec(BaseModel):
    outcome_column: str  # 1/0, yes/no, true/false, won/lost; blank = unknown
    feature_columns: list[str]


class ModelFit(BaseModel):
    auc: float  # cross-validated, on the accounts with a known outcome
    brier: float
    accounts: int
    positives: int
    fitted_at: datetime = Field(default_factory=utcnow)


class ScoringCriterion(TenantDocument):
    scenario_id: PydanticObjectId
    name: str
    description: str = ""
    weight: int = 1  # the seed's importance multiplier
    method: ScoringMethod
    rule: Rule | None = None
    model: ModelSpec | None = None
    fit: ModelFit | None = None

    class Settings:
        name = "scoring_criteria"
        indexes = [[("tenant_id", 1), ("scenario_id", 1), ("_id", 1)]]


class CriterionScore(BaseModel):
    criterion_id: PydanticObjectId
    score: int  # 0-10
    notes: str = ""
    method: ScoringMethod
    overridden: bool = False  # set by an analyst: kept by re-calculation
    by: str | None = None
    at: datetime = Field(default_factory=utcnow)


class Contribution(BaseModel):
    criterion_id: PydanticObjectId
    points: float  # points of the 0-100 total above (+) or below (-) a neutral 5 of 10


class AccountScore(TenantDocument):
    scenario_id: PydanticObjectId
    row: int  # the account's record in the file, the header being row 1
    account_id: str
    account_name: str
    values: list[str]  # the file's cells, in the order of AccountList.columns
    total_score: int | None = None  # 0-100; None until calculated or with nothing scored
    tier: str | None = None
    tier_rank: int | None = None  # 0 for the first tier, for sorting
    criterion_scores: list[CriterionScore] = Field(default_factory=list)
    top_positive: list[Contribution] = Field(default_factory=list)
    top_negative: list[Contribution] = Field(default_factory=list)
    calculated_at: datetime | None = None

    class Settings:
        name = "account_scores"
        indexes = [
            IndexModel(
                [("tenant_id", ASCENDING), ("scenario_id", ASCENDING), ("account_id", ASCENDING)],
                unique=True,
            ),
            [("tenant_id", 1), ("scenario_id", 1), ("row", 1)],
            [("tenant_id", 1), ("scenario_id", 1), ("total_score", -1), ("_id", 1)],
        ]
