"""Projects (workspaces) inside a tenant: their members, the products they cover, where their
data comes from, standing AI instructions and environment settings."""

from __future__ import annotations

import re
from typing import Any

from app.errors import Conflict, FieldIssue, NotFound, ValidationFailed
from app.models import Product
from app.models.identity import Member, Project, ProjectProduct, ProjectProductRole, Role, User
from app.resolvers.ctx import ResolverCtx
from app.resolvers.page import Page, PageArgs, find_page
from app.resolvers.product import DESCRIPTION_MAX, NAME_MAX
from app.resolvers.version import load_at

SOURCE_MAX = 1000
AI_INSTRUCTIONS_MAX = 8000
CONFIG_KEYS_MAX = 50
CONFIG_VALUE_MAX = 1000
CONFIG_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
# Credentials are encrypted tenant secrets; a config entry named like one is refused, so it
# is never stored in clear nor returned to every viewer.
SECRET_LIKE = re.compile(r"secret|password|passwd|token|api[_-]?key|private[_-]?key", re.I)
TEXTS = {"description": DESCRIPTION_MAX, "ai_instructions": AI_INSTRUCTIONS_MAX}


def _config_issues(config: Any) -> list[FieldIssue]:
    path = ("input", "environmentConfig")
    if not isinstance(config, dict):
        return [FieldIssue(path, "must be an object")]
    if len(config) > CONFIG_KEYS_MAX:
        return [FieldIssue(path, f"at most {CONFIG_KEYS_MAX} entries")]
    issues = []
    for key, value in config.items():
        if not CONFIG_KEY.fullmatch(key):
            issues.append(FieldIssue((*path, key), "names are letters, digits, _ . -"))
        elif SECRET_LIKE.search(key):
            issues.append(FieldIssue((*path, key), "credentials go in setSecret, not here"))
        elif not isinstance(value, str | int | float | bool):
            issues.append(FieldIssue((*path, key), "must be a string, number or boolean"))
        elif isinstance(value, str) and len(value) > CONFIG_VALUE_MAX:
            issues.append(FieldIssue((*path, key), f"at most {CONFIG_VALUE_MAX} characters"))
    return issues


def project_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The given fields, validated; all issues are reported at once."""
    out = {key: value for key, value in fields.items() if value is not None}
    issues = []
    if "name" in out:
        out["name"] = out["name"].strip()
        if not 1 <= len(out["name"]) <= NAME_MAX:
            issues.append(FieldIssue(("input", "name"), f"1 to {NAME_MAX} characters"))
    for key, limit in TEXTS.items():
        if len(out.get(key, "")) > limit:
            issues.append(FieldIssue(("input", key), f"at most {limit} characters"))
    for key, value in (out.get("data_sources") or {}).items():
        if len(value) > SOURCE_MAX:
            issues.append(FieldIssue(("input", "dataSources", key), f"at most {SOURCE_MAX}"))
    if "environment_config" in out:
        issues.extend(_config_issues(out["environment_config"]))
    if issues:
        raise ValidationFailed(issues)
    return out


async def _name_free(ctx: ResolverCtx, name: str, project: Project | None = None) -> None:
    taken = await ctx.scope.find(Project, {"name": name}).first_or_none()
    if taken is not None and (project is None or taken.id != project.id):
        raise Conflict(f"a project named {name!r} already exists")


async def create_project(ctx: ResolverCtx, fields: dict[str, Any]) -> Project:
    values = project_fields({"name": "", **fields})
    await _name_free(ctx, values["name"])
    members = []
    if ctx.principal.kind == "user":
        members.append(Member(user_id=ctx.principal.id, role=Role.ADMIN))
    project = await ctx.scope.insert(Project(tenant_id=ctx.tenant_id, members=members, **values))
    ctx.audit.record("Project", project.id, after=project)
    return project


async def update_project(
    ctx: ResolverCtx, project_id: str, revision: int, fields: dict[str, Any]
) -> Project:
    project = await load_at(ctx.scope, Project, project_id, revision)
    values = project_fields(fields)
    if "name" in values:
        await _name_free(ctx, values["name"], project)
    updated = await ctx.scope.update(project, values)
    ctx.audit.record("Project", project.id, project, updated)
    return updated


async def set_member(ctx: ResolverCtx, project_id: str, user_id: str, role: Role) -> Project:
    project = await ctx.scope.require(Project, project_id)
    user = await ctx.scope.get(User, user_id)
    if user is None:
        raise NotFound("User", user_id)
    members = [m for m in project.members if m.user_id != user.id]
    members.append(Member(user_id=user.id, role=role))
    updated = await ctx.scope.update(project, {"members": [m.model_dump() for m in members]})
    ctx.audit.record("Project", project.id, project, updated)
    return updated


async def set_product(
    ctx: ResolverCtx, project_id: str, product_id: str, role: ProjectProductRole | None
) -> Project:
    """Add a product to the project in a role, change its role, or (role None) remove it."""
    project = await ctx.scope.require(Project, project_id)
    product = await ctx.scope.require(Product, product_id)
    products = [p for p in project.products if p.product_id != product.id]
    if role is not None:
        products.append(ProjectProduct(product_id=product.id, role=role))
    updated = await ctx.scope.update(project, {"products": [p.model_dump() for p in products]})
    ctx.audit.record("Project", project.id, project, updated)
    return updated


async def list_projects(ctx: ResolverCtx, page: PageArgs) -> Page[Project]:
    return await find_page(ctx.scope, Project, {}, page)


async def get_project(ctx: ResolverCtx, project_id: str) -> Project | None:
    return await ctx.scope.get(Project, project_id)
