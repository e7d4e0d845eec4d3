"""The GraphQL schema: every domain's queries, mutations and subscriptions, and the limits."""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.extensions.disable_introspection import DisableIntrospection
from strawberry.tools import merge_types

from app.schema.api_key import ApiKeyMutation, ApiKeyQuery
from app.schema.audit import AuditQuery
from app.schema.auth import AuthMutation, AuthQuery
from app.schema.errors import EXCEPTION_HANDLERS, ErrorPolicy
from app.schema.job import JobMutation, JobSubscription
from app.schema.product import ProductMutation, ProductQuery, ProductSubscription
from app.schema.project import ProjectMutation, ProjectQuery
from app.schema.secret import SecretMutation, SecretQuery
from app.schema.segment import SegmentQuery
from app.schema.usage import UsageQuery, UsageSubscription
from app.schema.user import UserMutation, UserQuery
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
        JobMutation,
    ),
)
Subscription = merge_types(
    "Subscription", (UsageSubscription, ProductSubscription, JobSubscription)
)


def build_schema(settings: Settings) -> strawberry.Schema:
    extensions: list = [
        lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
        lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        ParserCache,
        ValidationCache,
        ErrorPolicy,
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        exception_handlers=EXCEPTION_HANDLERS,
    )
