"""Account scoring in the API (the scoring seed's /api/scoring-scenarios endpoints):
scenarios, account lists (multipart upload, preview, column choice), criteria, calculation
runs, scored accounts with overrides, exports, and `scoringScenarioUpdated` events."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from app.bus import Event
from app.errors import ValidationFailed
from app.models import scoring as models
from app.models.identity import Role
from app.resolvers import account_list, scoring_calc, scoring_export
from app.resolvers import scoring as use_case
from app.resolvers.upload import ImportMode as ImportModeValue
from app.schema.context import Info
from app.schema.errors import ConflictError, NotFoundError, RateLimitedError, ValidationError
from app.schema.fields import mutation, query, subscription
from app.schema.pagination import Connection, Edge, PageInfo, connection
from app.schema.run import Run
from app.schema.streams import stream
from app.schema.upload import ImportMode

ScoringScenarioStatus = strawberry.enum(models.ScenarioStatus, name="ScoringScenarioStatus")
ScoringMethod = strawberry.enum(models.ScoringMethod, name="ScoringMethod")
ScoringRuleKind = strawberry.enum(models.RuleKind, name="ScoringRuleKind")
AccountListFormat = strawberry.enum(models.FileFormat, name="AccountListFormat")
AccountOrder = strawberry.enum(use_case.AccountOrder, name="AccountOrder")
ExportFormat = strawberry.enum(scoring_export.ExportFormat, name="ExportFormat")


def _id(value: object) -> strawberry.ID:
    return strawberry.ID(str(value))


def _maybe_id(value: object | None) -> strawberry.ID | None:
    return None if value is None else _id(value)


@strawberry.type(description="A tier of totals: from `minScore` up to the next tier's bound.")
class TierBand:
    name: str
    min_score: int


@strawberry.input
class TierBandInput:
    name: str
    min_score: int


@strawberry.type(description="An uploaded account list (the seed's account_lists).")
class AccountList:
    filename: str
    format: AccountListFormat  # type: ignore[valid-type]
    bytes: int
    encoding: str | None = strawberry.field(description="CSV: the encoding detected.")
    delimiter: str | None = strawberry.field(description="CSV: the delimiter detected.")
    sheet: str | None = strawberry.field(description="XLSX: the sheet read (null: the first).")
    columns: list[str]
    id_column: str | None
    name_column: str | None
    row_count: int | None = strawberry.field(description="Accounts extracted; null before.")
    extraction_run_id: strawberry.ID | None
    uploaded_at: datetime

    @classmethod
    def from_model(cls, doc: models.AccountList) -> AccountList:
        return cls(
            filename=doc.filename,
            format=doc.format,
            bytes=doc.bytes,
            encoding=doc.encoding,
            delimiter=doc.delimiter,
            sheet=doc.sheet,
            columns=doc.columns,
            id_column=doc.id_column,
            name_column=doc.name_column,
            row_count=doc.row_count,
            extraction_run_id=_maybe_id(doc.extraction_run_id),
            uploaded_at=doc.uploaded_at,
        )


@strawberry.type
class AccountListRow:
    cells: list[str]


@strawberry.type(description="The header and first rows of an uploaded file.")
class AccountListPreview:
    columns: list[str]
    rows: list[AccountListRow]


@strawberry.type
class ScoringBand:
    min: float
    score: int


@strawberry.type
class ScoringValueScore:
    value: str
    score: int


@strawberry.type(description="How a RULE criterion scores a column's cells.")
class ScoringRule:
    kind: ScoringRuleKind  # type: ignore[valid-type]
    column: str
    bands: list[ScoringBand]
    low: float | None
    high: float | None
    values: list[ScoringValueScore]
    default_score: int

    @classmethod
    def from_model(cls, doc: models.Rule) -> ScoringRule:
        return cls(
            kind=doc.kind,
            column=doc.column,
            bands=[ScoringBand(min=b.min, score=b.score) for b in doc.bands],
            low=doc.low,
            high=doc.high,
            values=[ScoringValueScore(value=v.value, score=v.score) for v in doc.values],
            default_score=doc.default_score,
        )


@strawberry.type(description="The quality of a MODEL criterion's last fit.")
class ScoringModelFit:
    auc: float = strawberry.field(description="Cross-validated area under the ROC curve.")
    brier: float
    accounts: int = strawberry.field(description="Accounts with a known outcome it used.")
    positives: int
    fitted_at: datetime


@strawberry.type
class ScoringModel:
    outcome_column: str
    feature_columns: list[str]
    fit: ScoringModelFit | None


@strawberry.type(description="A weighted scoring criterion (the seed's scoring_criteria).")
class ScoringCriterion:
    id: strawberry.ID
    scenario_id: strawberry.ID
    name: str
    description: str
    weight: int = strawberry.field(description="The importance multiplier in the total.")
    method: ScoringMethod  # type: ignore[valid-type]
    rule: ScoringRule | None
    model: ScoringModel | None
    created_at: datetime

    @classmethod
    def from_model(cls, doc: models.ScoringCriterion) -> ScoringCriterion:
        fit = ScoringModelFit(**doc.fit.model_dump()) if doc.fit else None
        model = (
            ScoringModel(
                outcome_column=doc.model.outcome_column,
                feature_columns=doc.model.feature_columns,
                fit=fit,
            )
            if doc.model
            else None
        )
        return cls(
            id=_id(doc.id),
            scenario_id=_id(doc.scenario_id),
            name=doc.name,
            description=doc.description,
            weight=doc.weight,
            method=doc.method,
            rule=ScoringRule.from_model(doc.rule) if doc.rule else None,
            model=model,
            created_at=doc.created_at,
        )


@strawberry.type(description="One criterion's 0-10 score of an account (criterion_scores).")
class CriterionScore:
    criterion_id: strawberry.ID
    score: int
    notes: str
    method: ScoringMethod  # type: ignore[valid-type]
    overridden: bool = strawberry.field(description="Set by an analyst; kept on recalculation.")
    by: str | None
    at: datetime


@strawberry.type(description="Points of the total a criterion adds (+) or takes (-) against 5.")
class ScoreContribution:
    criterion_id: strawberry.ID
    points: float


@strawberry.type
class AccountCell:
    column: str
    value: str


@strawberry.type(description="A scored account (the seed's account_scores).")
class AccountScore:
    id: strawberry.ID
    account_id: str
    account_name: str
    row: int = strawberry.field(description="Its record in the file (the header is row 1).")
    total_score: int | None = strawberry.field(description="0-100; null until calculated.")
    tier: str | None
    cells: list[AccountCell] = strawberry.field(description="The file's original columns.")
    criterion_scores: list[CriterionScore]
    top_positive: list[ScoreContribution]
    top_negative: list[ScoreContribution]
    calculated_at: datetime | None

    @classmethod
    def from_model(cls, doc: models.AccountScore, columns: list[str]) -> AccountScore:
        return cls(
            id=_id(doc.id),
            account_id=doc.account_id,
            account_name=doc.account_name,
            row=doc.row,
            total_score=doc.total_score,
            tier=doc.tier,
            cells=[
                AccountCell(column=c, value=v) for c, v in zip(columns, doc.values, strict=False)
            ],
            criterion_scores=[
                CriterionScore(
                    criterion_id=_id(s.criterion_id),
                    score=s.score,
                    notes=s.notes,
                    method=s.method,
                    overridden=s.overridden,
                    by=s.by,
                    at=s.at,
                )
                for s in doc.criterion_scores
            ],
            top_positive=[_contribution(c) for c in doc.top_positive],
            top_negative=[_contribution(c) for c in doc.top_negative],
            calculated_at=doc.calculated_at,
        )


def _contribution(doc: models.Contribution) -> ScoreContribution:
    return ScoreContribution(criterion_id=_id(doc.criterion_id), points=round(doc.points, 2))


@strawberry.input
class AccountFilterInput:
    tiers: list[str] | None = None
    min_total: int | None = None
    max_total: int | None = None
    search: str | None = strawberry.field(
        default=None, description="A prefix of the account's id or name."
    )


def _offset(after: str | None) -> int:
    if after is None:
        return 0
    try:
        kind, _, number = base64.urlsafe_b64decode(after.encode()).decode().partition(":")
        if kind == "o" and number.isdigit():
            return int(number)
    except (binascii.Error, ValueError):
        pass
    raise ValidationFailed.single("after", "not a cursor returned by this API")


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


@strawberry.type(description="A scoring scenario (the seed's scoring_scenarios).")
class ScoringScenario:
    id: strawberry.ID
    name: str
    description: str
    created_by: str
    archived: bool
    product_id: strawberry.ID | None
    segment_id: strawberry.ID | None
    tiers: list[TierBand]
    account_list: AccountList | None
    calculated_at: datetime | None
    created_at: datetime
    updated_at: datetime
    _doc: strawberry.Private[models.ScoringScenario]

    @classmethod
    def from_model(cls, doc: models.ScoringScenario) -> ScoringScenario:
        return cls(
            id=_id(doc.id),
            name=doc.name,
            description=doc.description,
            created_by=doc.created_by,
            archived=doc.archived,
            product_id=_maybe_id(doc.product_id),
            segment_id=_maybe_id(doc.segment_id),
            tiers=[TierBand(name=t.name, min_score=t.min_score) for t in doc.tiers],
            account_list=AccountList.from_model(doc.account_list) if doc.account_list else None,
            calculated_at=doc.calculated_at,
            created_at=doc.created_at,
            updated_at=doc.updated_at,
            _doc=doc,
        )

    @strawberry.field(description="PENDING, PROCESSING (a run is going), COMPLETED or FAILED.")
    async def status(self, info: Info) -> ScoringScenarioStatus:  # type: ignore[valid-type]
        return await use_case.status_of(info.context.ctx, self._doc)

    @strawberry.field(description="The uploaded file's header and first 10 rows.")
    def preview(self) -> AccountListPreview | None:
        found = self._doc.account_list
        if found is None:
            return None
        rows = [AccountListRow(cells=row) for row in found.preview]
        return AccountListPreview(columns=found.columns, rows=rows)

    @strawberry.field
    async def criteria(self, info: Info) -> list[ScoringCriterion]:
        found = await use_case.criteria_of(info.context.ctx, self._doc.id)
        return [ScoringCriterion.from_model(c) for c in found]

    @strawberry.field(description="The scenario's accounts and their scores.")
    async def accounts(
        self,
        info: Info,
        filter: AccountFilterInput | None = None,
        order_by: AccountOrder = use_case.AccountOrder.TOTAL_DESC,  # type: ignore[valid-type]
        first: int = 20,
        after: str | None = None,
    ) -> Connection[AccountScore]:
        start = _offset(after)
        where = use_case.AccountFilter(**vars(filter)) if filter else use_case.AccountFilter()
        docs, count = await use_case.accounts_page(
            info.context.ctx, self.id, where, order_by, range(start, start + first)
        )
        columns = self._doc.account_list.columns if self._doc.account_list else []
        edges = [
            Edge(node=AccountScore.from_model(d, columns), cursor=_cursor(start + i + 1))
            for i, d in enumerate(docs)
        ]

        async def total() -> int:
            return count

        end = edges[-1].cursor if edges else None
        return Connection(
            edges=edges,
            page_info=PageInfo(has_next_page=start + len(docs) < count, end_cursor=end),
            _count=total,
        )


@strawberry.input
class CreateScoringScenarioInput:
    name: str
    description: str = ""
    product_id: strawberry.ID | None = None
    segment_id: strawberry.ID | None = None
    tiers: list[TierBandInput] | None = strawberry.field(
        default=None, description="Best first; the last starts at 0. Default A 75, B 50, C 25, D 0."
    )


@strawberry.input
class UpdateScoringScenarioInput:
    name: str | None = None
    description: str | None = None
    product_id: strawberry.ID | None = None
    segment_id: strawberry.ID | None = None
    tiers: list[TierBandInput] | None = None


def _scenario_fields(data: CreateScoringScenarioInput | UpdateScoringScenarioInput) -> Any:
    tiers = [models.TierBand(name=t.name, min_score=t.min_score) for t in data.tiers or []]
    return use_case.ScenarioFields(
        name=data.name,
        description=data.description,
        product_id=data.product_id,
        segment_id=data.segment_id,
        tiers=tiers if data.tiers is not None else None,
    )


@strawberry.input
class ScoringBandInput:
    min: float
    score: int


@strawberry.input
class ScoringValueScoreInput:
    value: str
    score: int


@strawberry.input(description="BANDS: bands; LINEAR: low and high; CATEGORY, KEYWORD: values.")
class ScoringRuleInput:
    kind: ScoringRuleKind  # type: ignore[valid-type]
    column: str
    bands: list[ScoringBandInput] = strawberry.field(default_factory=list)
    low: float | None = None
    high: float | None = None
    values: list[ScoringValueScoreInput] = strawberry.field(default_factory=list)
    default_score: int = strawberry.field(
        default=0, description="For a blank, non-numeric or unmatched cell."
    )


@strawberry.input
class ScoringModelInput:
    outcome_column: str = strawberry.field(
        description="1/0, yes/no, true/false, won/lost; blank or other: unknown."
    )
    feature_columns: list[str] = strawberry.field(description="Numeric columns it learns from.")


@strawberry.input
class ScoringCriterionInput:
    name: str
    method: ScoringMethod  # type: ignore[valid-type]
    description: str = ""
    weight: int = 1
    rule: ScoringRuleInput | None = None
    model: ScoringModelInput | None = None


def _criterion_fields(data: ScoringCriterionInput) -> use_case.CriterionFields:
    rule = None
    if data.rule is not None:
        r = data.rule
        rule = models.Rule(
            kind=r.kind,
            column=r.column,
            bands=[models.Band(min=b.min, score=b.score) for b in r.bands],
            low=r.low,
            high=r.high,
            values=[models.ValueScore(value=v.value, score=v.score) for v in r.values],
            default_score=r.default_score,
        )
    model = None
    if data.model is not None:
        model = models.ModelSpec(
            outcome_column=data.model.outcome_column, feature_columns=data.model.feature_columns
        )
    return use_case.CriterionFields(
        name=data.name,
        method=data.method,
        description=data.description,
        weight=data.weight,
        rule=rule,
        model=model,
    )


@strawberry.type(
    description="The file is stored; `run` extracts its accounts if columns were given."
)
class AccountListUploaded:
    scenario: ScoringScenario
    run: Run | None


@strawberry.type(description="A signed download link; it expires at `expiresAt`.")
class ScoringExport:
    url: str = strawberry.field(description="A path on this server: GET it, no token needed.")
    expires_at: datetime
    format: ExportFormat  # type: ignore[valid-type]


@strawberry.type
class ScoringScenarioUpdate:
    scenario_id: strawberry.ID
    change: str = strawberry.field(
        description="updated, archived, criteria, accountList, accounts, calculating, scores "
        "or override."
    )
    status: ScoringScenarioStatus  # type: ignore[valid-type]
    account_id: str | None
    total_score: int | None
    cursor: str

    @classmethod
    def from_event(cls, event: Event) -> ScoringScenarioUpdate:
        data = event.data
        return cls(
            scenario_id=_id(data["scenarioId"]),
            change=data["change"],
            status=models.ScenarioStatus(data["status"]),
            account_id=data.get("accountId"),
            total_score=data.get("totalScore"),
            cursor=event.id,
        )


Errors = ValidationError | NotFoundError | ConflictError
ScenarioResult = Annotated[ScoringScenario | Errors, strawberry.union("ScoringScenarioResult")]
CriterionResult = Annotated[ScoringCriterion | Errors, strawberry.union("ScoringCriterionResult")]
ScoringRunResult = Annotated[Run | Errors | RateLimitedError, strawberry.union("ScoringRunResult")]
UploadResult = Annotated[
    AccountListUploaded | Errors | RateLimitedError, strawberry.union("UploadAccountListResult")
]
OverrideResult = Annotated[AccountScore | Errors, strawberry.union("OverrideAccountScoreResult")]
ExportResult = Annotated[ScoringExport | Errors, strawberry.union("ScoringExportResult")]


@strawberry.type
class ScoringQuery:
    @query(description="Scoring scenarios, oldest first; archived ones on request.")
    async def scoring_scenarios(
        self, info: Info, include_archived: bool = False, first: int = 20, after: str | None = None
    ) -> Connection[ScoringScenario]:
        page = await use_case.scenarios(info.context.ctx, include_archived, (first, after))
        return connection(page, ScoringScenario.from_model)

    @query()
    async def scoring_scenario(self, info: Info, id: strawberry.ID) -> ScoringScenario | None:
        found = await use_case.scenario_or_none(info.context.ctx, id)
        return ScoringScenario.from_model(found) if found else None


def _file(file: Any) -> UploadFile:
    if not isinstance(file, UploadFile):  # a plain value where the file part belongs
        raise ValidationFailed.single("file", "must be a file part of a multipart request")
    return file


@strawberry.type
class ScoringMutation:
    @mutation(description="Create a scoring scenario (PENDING until scores are calculated).")
    async def create_scoring_scenario(
        self, info: Info, input: CreateScoringScenarioInput
    ) -> ScenarioResult:
        doc = await use_case.create_scenario(info.context.ctx, _scenario_fields(input))
        return ScoringScenario.from_model(doc)

    @mutation(description="Change a scenario's name, description, product, segment or tiers.")
    async def update_scoring_scenario(
        self, info: Info, id: strawberry.ID, input: UpdateScoringScenarioInput
    ) -> ScenarioResult:
        doc = await use_case.update_scenario(info.context.ctx, id, _scenario_fields(input))
        return ScoringScenario.from_model(doc)

    @mutation(description="Archive a scenario (never deleted); it can no longer change.")
    async def archive_scoring_scenario(self, info: Info, id: strawberry.ID) -> ScenarioResult:
        return ScoringScenario.from_model(await use_case.archive_scenario(info.context.ctx, id))

    @mutation(
        description="Upload an account list (CSV or XLSX, multipart) to a scenario: stored, "
        "its encoding and delimiter detected and its preview read. With `idColumn` and "
        "`nameColumn`, its accounts are extracted by a run; without, choose them after the "
        "preview with `mapAccountListColumns`. Replaces the scenario's earlier list."
    )
    async def upload_account_list(
        self,
        info: Info,
        scenario_id: strawberry.ID,
        file: Upload,
        id_column: str | None = None,
        name_column: str | None = None,
        sheet: Annotated[
            str | None, strawberry.argument(description="XLSX: a sheet's name (default: first).")
        ] = None,
        mode: ImportMode = ImportMode.KEEP_VALID,
    ) -> UploadResult:
        upload = _file(file)
        ctx = info.context.ctx
        columns = (id_column, name_column) if id_column and name_column else None
        try:
            name = upload.filename or "upload.csv"
            doc = await account_list.upload(ctx, scenario_id, name, upload.read, sheet, columns)
        finally:
            await upload.close()
        run = None
        if columns:
            mode_ = ImportModeValue(mode.value)
            run = Run.from_model(await account_list.extract(ctx, scenario_id, *columns, mode_))
            doc = await use_case.scenario(ctx, scenario_id)
        return AccountListUploaded(scenario=ScoringScenario.from_model(doc), run=run)

    @mutation(description="Choose the id and name columns of the uploaded list and extract it.")
    async def map_account_list_columns(
        self,
        info: Info,
        scenario_id: strawberry.ID,
        id_column: str,
        name_column: str,
        mode: ImportMode = ImportMode.KEEP_VALID,
    ) -> ScoringRunResult:
        run = await account_list.extract(
            info.context.ctx, scenario_id, id_column, name_column, ImportModeValue(mode.value)
        )
        return Run.from_model(run)

    @mutation(description="Add a criterion: MANUAL, RULE (over a column), AI or MODEL.")
    async def add_scoring_criterion(
        self, info: Info, scenario_id: strawberry.ID, input: ScoringCriterionInput
    ) -> CriterionResult:
        doc = await use_case.add_criterion(info.context.ctx, scenario_id, _criterion_fields(input))
        return ScoringCriterion.from_model(doc)

    @mutation(
        description="Replace a criterion's definition; scores follow at the next calculation."
    )
    async def update_scoring_criterion(
        self, info: Info, id: strawberry.ID, input: ScoringCriterionInput
    ) -> CriterionResult:
        doc = await use_case.update_criterion(info.context.ctx, id, _criterion_fields(input))
        return ScoringCriterion.from_model(doc)

    @mutation(description="Remove a criterion and its scores.")
    async def remove_scoring_criterion(self, info: Info, id: strawberry.ID) -> CriterionResult:
        return ScoringCriterion.from_model(await use_case.remove_criterion(info.context.ctx, id))

    @mutation(description="Score every account against every criterion, as a run; keeps overrides.")
    async def calculate_scores(self, info: Info, scenario_id: strawberry.ID) -> ScoringRunResult:
        return Run.from_model(await scoring_calc.start(info.context.ctx, scenario_id))

    @mutation(description="Set one account's score on one criterion, with notes (audited, live).")
    async def override_account_score(
        self,
        info: Info,
        scenario_id: strawberry.ID,
        account_id: str,
        criterion_id: strawberry.ID,
        score: int,
        notes: str = "",
    ) -> OverrideResult:
        ctx = info.context.ctx
        doc = await use_case.override_score(
            ctx, scenario_id, account_id, criterion_id, score, notes
        )
        found = await use_case.scenario(ctx, scenario_id)
        return AccountScore.from_model(
            doc, found.account_list.columns if found.account_list else []
        )

    @mutation(Role.VIEWER, description="A signed, expiring link to the scored list (CSV/XLSX).")
    async def export_scored_accounts(
        self,
        info: Info,
        scenario_id: strawberry.ID,
        format: ExportFormat = scoring_export.ExportFormat.CSV,  # type: ignore[valid-type]
    ) -> ExportResult:
        link = await scoring_export.export_link(info.context.ctx, scenario_id, format)
        return ScoringExport(url=link.path, expires_at=link.expires_at, format=link.format)


@strawberry.type
class ScoringSubscription:
    @subscription(description="A scenario changed: criteria, accounts, scores or an override.")
    def scoring_scenario_updated(
        self, info: Info, scenario_id: strawberry.ID, since: str | None = None
    ) -> AsyncGenerator[ScoringScenarioUpdate, None]:
        return stream(
            use_case.follow(info.context.ctx, scenario_id, since), ScoringScenarioUpdate.from_event
        )
