"""The GraphQL schema: every domain's queries, mutations and subscriptions, and the limits."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from app.schema.ai import AiMutation, AiQuery
from app.schema.alert import AlertMutation, AlertQuery, AlertSubscription
from app.schema.api_key import ApiKeyMutation, ApiKeyQuery
from app.schema.audit import AuditQuery
from app.schema.auth import AuthMutation, AuthQuery
from app.schema.customer import CustomerMutation, CustomerQuery
from app.schema.diagnosis import DiagnosisMutation, DiagnosisQuery, DiagnosisSubscription
from app.schema.documentation import (
    DocumentationMutation,
    DocumentationQuery,
    DocumentationSubscription,
)
from app.schema.errors import EXCEPTION_HANDLERS, ErrorPolicy
from app.schema.experiment import ExperimentMutation, ExperimentQuery, ExperimentSubscription
from app.schema.insight import InsightQuery
from app.schema.limits import Limits, document_limits_rule
from app.schema.link import LinkMutation, LinkQuery, LinkSubscription
from app.schema.money import CENTS_SCALAR, Cents
from app.schema.plan import PlanMutation, PlanQuery
from app.schema.product import ProductMutation, ProductQuery, ProductSubscription
from app.schema.project import ProjectMutation, ProjectQuery
from app.schema.projection import ProjectionQuery
from app.schema.recommendation import RecommendationMutation, RecommendationQuery
from app.schema.revenue import RevenueMutation, RevenueQuery, RevenueSubscription
from app.schema.run import RunMutation, RunQuery, RunSubscription
from app.schema.search import SearchQuery
from app.schema.secret import SecretMutation, SecretQuery
from app.schema.segment import SegmentMutation, SegmentQuery, SegmentSubscription
from app.schema.usage import UsageQuery, UsageSubscription
from app.schema.user import UserMutation, UserQuery
from app.schema.wtp import WtpMutation, WtpQuery
from app.settings import Settings

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
        PlanQuery,
        LinkQuery,
        SearchQuery,
        RunQuery,
        RevenueQuery,
        ProjectionQuery,
        InsightQuery,
        AlertQuery,
        ExperimentQuery,
        AiQuery,
        DocumentationQuery,
        DiagnosisQuery,
        RecommendationQuery,
        WtpQuery,
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
        RunMutation,
        RevenueMutation,
        AlertMutation,
        ExperimentMutation,
        AiMutation,
        DocumentationMutation,
        DiagnosisMutation,
        RecommendationMutation,
        WtpMutation,
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
    ),
)


class SafeParserCache(ParserCache):
    """Strawberry's parse cache, except that a syntax error is left to the regular parse,
    which reports it as a GraphQL error (over WebSocket too) instead of raising."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        with contextlib.suppress(GraphQLError):
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        yield


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
    rules = list(limit_rules(settings))
    extensions: list[Any] = [
        lambda: AddValidationRules(rules),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        SafeParserCache,
        ValidationCache,
        ErrorPolicy,
    ]
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        exception_handlers=EXCEPTION_HANDLERS,
        config=StrawberryConfig(scalar_map={Cents: CENTS_SCALAR}),
    )
