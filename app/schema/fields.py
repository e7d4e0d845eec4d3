"""Root-field decorators that carry the role a field needs, and the audit of mutations."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.scalars import JSON
from strawberry.types.info import Info as StrawberryInfo

from app.errors import DomainError
from app.models.audit import Actor
from app.models.identity import Role
from app.resolvers.audit import AuditTrail, write_entry
from app.schema.context import Context
from app.schema.errors import Error
from app.schema.permissions import requires

log = logging.getLogger(__name__)


class Audited(FieldExtension):
    """Writes one audit entry per mutation call, whatever its outcome."""

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: StrawberryInfo, **kwargs: Any
    ) -> Any:
        context: Context = info.context
        context.audit = AuditTrail()
        outcome = "failed"
        try:
            result = await next_(source, info, **kwargs)
            outcome = result.code if isinstance(result, Error) else "ok"
            return result
        except DomainError as error:
            outcome = error.code
            raise
        finally:
            await _write(context, info.field_name, outcome)


async def _write(context: Context, action: str, outcome: str) -> None:
    principal = context.principal
    actor = (
        Actor(kind=principal.kind, id=principal.id, label=principal.label)
        if principal
        else Actor(kind="anonymous")
    )
    tenant_id = principal.tenant_id if principal else None
    try:
        await write_entry(context.audit, tenant_id, actor, action, outcome, context.request_info())
    except Exception:  # the change itself stands; a lost entry must at least be loud
        log.exception("audit entry for %s (request %s) not written", action, context.request_id)


def query(role: Role = Role.VIEWER, **options: Any) -> Any:
    return strawberry.field(permission_classes=requires(role), **options)


def mutation(role: Role = Role.ANALYST, *, public: bool = False, **options: Any) -> Any:
    permissions = [] if public else requires(role)
    return strawberry.mutation(permission_classes=permissions, extensions=[Audited()], **options)


def subscription(role: Role = Role.VIEWER, **options: Any) -> Any:
    return strawberry.subscription(permission_classes=requires(role), **options)


def json_value(value: Any) -> JSON:
    """A stored dict or list as the JSON scalar (strawberry's JSON is a NewType of object)."""
    return value
