"""Every mutation leaves an audit entry: who, what, before/after, where from."""

from __future__ import annotations

from strawberry.utils.str_converters import to_camel_case

from app.models import TenantScope
from app.models.audit import AuditEntry
from app.resolvers.audit import ANONYMOUS_TENANT
from app.schema.schema import Mutation
from tests.support.tenants import PASSWORD, SignedUp, sign_up
from tests.support.walk import INTROSPECT, Walker

AUDIT = """
query($filter: AuditFilter) { auditLog(filter: $filter, first: 100) { nodes {
  action outcome entityType entityId diff before after ip userAgent requestId
  actor { kind id label } } } }
"""


async def test_every_mutation_leaves_an_audit_entry(api: str):
    signed_up = await sign_up(api, "Audited")
    client = signed_up.client
    walk = Walker.from_introspection(await client.data(INTROSPECT), ["000000000000000000000000"])
    operations = {name: op for name, *op in walk.operations("Mutation", "mutation")}
    names = [
        name
        for name in (to_camel_case(f.name) for f in Mutation.__strawberry_definition__.fields)
        if name in operations
    ]
    for name in sorted(names, key=lambda n: n == "logout"):
        document, variables = operations[name]
        await client.execute(document, variables)

    relogin = signed_up.client.as_(None)
    login = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
        ... on AuthPayload { accessToken } } }"""
    token = (await relogin.data(login, {"e": signed_up.email, "p": PASSWORD}))["login"]
    admin = client.as_(token["accessToken"])
    entries = (await admin.data(AUDIT))["auditLog"]["nodes"]
    in_tenant = {entry["action"] for entry in entries}
    anonymous = await TenantScope(ANONYMOUS_TENANT).find(AuditEntry).to_list()
    everywhere = in_tenant | {entry.action for entry in anonymous}
    assert set(names) <= everywhere, set(names) - everywhere
    await client.close()


async def test_audit_entry_records_who_changed_what_from_where(admin: SignedUp):
    client = admin.client
    invite = await client.data(
        'mutation { inviteUser(input: {email: "audited@example.com", role: VIEWER}) '
        "{ ... on Invitation { token } } }"
    )
    anonymous = client.as_(None)
    accepted = await anonymous.data(
        "mutation($t: String!) { acceptInvite(input: {token: $t, password: "
        '"a long enough password"}) { ... on AuthPayload { user { id } } } }',
        {"t": invite["inviteUser"]["token"]},
    )
    user_id = accepted["acceptInvite"]["user"]["id"]
    await client.data(
        "mutation($id: ID!) { changeUserRole(userId: $id, role: ANALYST) { __typename } }",
        {"id": user_id},
    )
    entries = (
        await client.data(AUDIT, {"filter": {"action": "changeUserRole", "entityId": user_id}})
    )["auditLog"]["nodes"]
    [entry] = entries
    assert entry["outcome"] == "ok"
    assert entry["entityType"] == "User"
    assert entry["diff"] == {"role": {"from": "viewer", "to": "analyst"}}
    assert entry["actor"] == {"kind": "user", "id": admin.user_id, "label": admin.user_id}
    assert entry["ip"] == "127.0.0.1" and entry["userAgent"].startswith("python-httpx")
    assert len(entry["requestId"]) == 32
    assert "password_hash" not in entry["before"]


async def test_refused_mutation_is_audited_with_its_outcome(admin: SignedUp):
    await admin.client.data('mutation { createProduct(input: {name: ""}) { __typename } }')
    entries = await admin.client.data(AUDIT, {"filter": {"action": "createProduct"}})
    outcomes = {entry["outcome"] for entry in entries["auditLog"]["nodes"]}
    assert "VALIDATION" in outcomes
