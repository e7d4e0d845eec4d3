"""Who may call a field, declared on the field: viewers read, analysts write, admins manage.

Every root field either names a role with `requires(...)` or is listed in PUBLIC_FIELDS; a
test walks the schema and fails when a new root field does neither.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from app.errors import Forbidden, Unauthenticated
from app.models.identity import Role

PUBLIC_FIELDS = {"signUp", "login", "refreshSession", "acceptInvite"}


class _RolePermission(BasePermission):
    required: Role = Role.VIEWER

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        principal = info.context.principal
        if principal is None:
            raise Unauthenticated("sign in first: send 'Authorization: Bearer <token or key>'")
        if not principal.allows(self.required):
            raise Forbidden(f"this needs the {self.required.value} role")
        return True


class CanRead(_RolePermission):
    required = Role.VIEWER


class CanWrite(_RolePermission):
    required = Role.ANALYST


class CanAdmin(_RolePermission):
    required = Role.ADMIN


ROLE_PERMISSIONS: dict[Role, type[BasePermission]] = {
    Role.VIEWER: CanRead,
    Role.ANALYST: CanWrite,
    Role.ADMIN: CanAdmin,
}


def requires(role: Role) -> list[type[BasePermission]]:
    return [ROLE_PERMISSIONS[role]]


def field_role(permissions: list[Any]) -> Role | None:
    """The role a field's permission classes demand (for the schema walk in tests)."""
    for permission in permissions:
        if isinstance(permission, _RolePermission):
            return permission.required
    return None
