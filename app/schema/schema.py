"""The GraphQL schema: every domain's queries, mutations and subscriptions, and the limits."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    parse,
    specified_rules,
    validate,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from app.schema.ai import AiMutation, AiQuery
from app.schema.alert import AlertMutation, AlertQuery, AlertSubscription
from app.schema.api_key import ApiKeyMutation, ApiKeyQuery
from app.schema.assignment import AssignmentMutation
from app.schema.audit import AuditQuery
from app.schema.auth import AuthMutation, AuthQuery
from app.schema.competitor import CompetitorMutation, CompetitorQuery
from app.schema.customer import CustomerMutation, CustomerQuery
from app.schema.customer_value import CustomerValueMutation, CustomerValueQuery
from app.schema.diagnosis import DiagnosisMutation, DiagnosisQuery, DiagnosisSubscription
from app.schema.documentation import (
    DocumentationMutation,
    DocumentationQuery,
    DocumentationSubscription,
)
from app.schema.errors import EXCEPTION_HANDLERS, ErrorPolicy
from app.schema.experiment import ExperimentMutation, ExperimentQuery, ExperimentSubscription
from app.schema.experiment_compare import ExperimentCompareQuery
from app.schema.experiment_events import ExperimentEventMutation
from app.schema.insight import InsightQuery
from app.schema.limits import Limits, document_limits_rule
from app.schema.link import LinkMutation, LinkQuery, LinkSubscription
from app.schema.money import CENTS_SCALAR, Cents
from app.schema.plan import PlanMutation, PlanQuery
from app.schema.product import ProductMutation, ProductQuery, ProductSubscription
from app.schema.project import ProjectMutation, ProjectQuery
from app.schema.projection import ProjectionQuery
from app.schema.recommendation import RecommendationMutation, RecommendationQuery
from app.schema.report import ReportMutation, ReportQuery, ReportSubscription
from app.schema.revenue import RevenueMutation, RevenueQuery, RevenueSubscription
from app.schema.run import RunMutation, RunQuery, RunSubscription
from app.schema.scoring import ScoringMutation, ScoringQuery, ScoringSubscription
from app.schema.search import SearchQuery
from app.schema.secret import SecretMutation, SecretQuery
from app.schema.segment import SegmentMutation, SegmentQuery, SegmentSubscription
from app.schema.usage import UsageQuery, UsageSubscription
from app.schema.user import UserMutation, UserQuery
from app.schema.wtp import WtpMutation, WtpQuery
from app.settings import Settings

CACHED_DOCUMENTS = 1024  # distinct document texts kept parsed and validated

Query = merge_types(
    "Query",
    (
        AuthQuery,
        UserQuery,
        ApiKeyQuery,
        SecretQuery,
        AuditQuery,
        UsageQuery,
        ProjectQuery,
        ProductQuery,
        SegmentQuery,
        CustomerQuery,
        CustomerValueQuery,
        PlanQuery,
        LinkQuery,
        SearchQuery,
        RunQuery,
        RevenueQuery,
        ProjectionQuery,
        InsightQuery,
        AlertQuery,
        ExperimentQuery,
        ExperimentCompareQuery,
        AiQuery,
        DocumentationQuery,
        DiagnosisQuery,
        CompetitorQuery,
        RecommendationQuery,
        ReportQuery,
        WtpQuery,
        ScoringQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        AuthMutation,
        UserMutation,
        ApiKeyMutation,
        SecretMutation,
        ProjectMutation,
        ProductMutation,
        PlanMutation,
        SegmentMutation,
        LinkMutation,
        CustomerMutation,
        CustomerValueMutation,
        RunMutation,
        RevenueMutation,
        AlertMutation,
        ExperimentMutation,
        AssignmentMutation,
        ExperimentEventMutation,
        AiMutation,
        DocumentationMutation,
        DiagnosisMutation,
        CompetitorMutation,
        RecommendationMutation,
        ReportMutation,
        WtpMutation,
        ScoringMutation,
    ),
)
Subscription = merge_types(
    "Subscription",
    (
        UsageSubscription,
        ProductSubscription,
        AlertSubscription,
        RunSubscription,
        ExperimentSubscription,
        SegmentSubscription,
        LinkSubscription,
        RevenueSubscription,
        DocumentationSubscription,
        DiagnosisSubscription,
        ReportSubscription,
        ScoringSubscription,
    ),
)


@dataclass(frozen=True)
class Prepared:
    """A document as parsed and validated once: None when its text does not parse."""

    document: DocumentNode | None
    errors: list[GraphQLError]


class Documents:
    """Each distinct document text parsed (within MAX_TOKENS) and validated once, by all
    the rules: Strawberry's, then the limits. A bounded cache: unique texts cannot grow it."""

    def __init__(self, rules: Iterable[type[ASTValidationRule]], max_tokens: int) -> None:
        self.rules = (*specified_rules, *rules)
        self.max_tokens = max_tokens
        self.prepare = functools.lru_cache(maxsize=CACHED_DOCUMENTS)(self._prepare)

    def _prepare(self, schema: GraphQLSchema, query: str) -> Prepared:
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError:
            return Prepared(None, [])
        return Prepared(document, validate(schema, document, self.rules))


class DocumentPolicy(ErrorPolicy):
    """The one extension of every request: its document from the cache (a hit costs a
    lookup) and the error policy. One extension rather than a cache, a limiter and a masker
    each, because Strawberry wraps every hook of every extension on every request."""

    def __init__(self, documents: Documents) -> None:
        super().__init__()
        self.documents = documents

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        # A text that does not parse is left to Strawberry's own parse (which then reports
        # the syntax error as a GraphQL error, over WebSocket too), within the same limit.
        context.parse_options["max_tokens"] = self.documents.max_tokens
        if context.query is not None:
            prepared = self.documents.prepare(context.schema._schema, context.query)
            if prepared.document is not None:
                context.graphql_document = prepared.document
                # Errors already set make Strawberry skip its validation step.
                context.pre_execution_errors = list(prepared.errors)
        yield

    def _process_result(self, result: object) -> None:
        # MaskErrors' own check is a runtime Protocol isinstance, ~20 µs on every request.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]


class Schema(strawberry.Schema):
    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """Queries and mutations only (HTTP): run once, a subscription would end as a null
        root field; its stream comes from `subscribe` (graphql-transport-ws). A subscription
        raises InvalidOperationTypeError, which the HTTP view answers as a client error."""
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES)
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed - {OperationType.SUBSCRIPTION},
            operation_extensions,
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Client mistakes are answered, not logged; ErrorPolicy logs unexpected failures."""


def limit_rules(settings: Settings) -> tuple[Any, ...]:
    """The document limits, built once: the validation cache is keyed by the rule classes."""
    limits = Limits(settings.max_query_depth, settings.max_aliases, settings.max_query_fields)
    rules: list[Any] = [document_limits_rule(limits)]
    if not settings.introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return tuple(rules)


def build_schema(settings: Settings) -> strawberry.Schema:
    documents = Documents(limit_rules(settings), settings.max_tokens)
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[lambda: DocumentPolicy(documents)],
        exception_handlers=EXCEPTION_HANDLERS,
        config=StrawberryConfig(scalar_map={Cents: CENTS_SCALAR}),
    )
