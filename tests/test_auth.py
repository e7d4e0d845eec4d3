"""Sign-up, sign-in, sessions, API keys and roles, as a client of the API sees them."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import websockets

from app.models import TenantScope
from app.models.identity import RefreshToken, User
from app.ratelimit import TIER_LIMITS
from app.security.tokens import issue_access_token
from app.settings import Settings
from tests.support.graphql import GraphQLClient
from tests.support.tenants import PASSWORD, SignedUp, sign_up

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) {
    __typename
    ... on AuthPayload { accessToken refreshToken user { email role } }
    ... on Error { message code }
    ... on RateLimitedError { retryAfter }
  }
}
"""
REFRESH = """
mutation Refresh($token: String!) {
  refreshSession(refreshToken: $token) {
    __typename
    ... on AuthPayload { accessToken refreshToken }
    ... on Error { message code }
  }
}
"""
ME = "{ me { tenantId role kind user { email } } }"
INVITE = """
mutation Invite($email: String!, $role: Role!) {
  inviteUser(input: {email: $email, role: $role}) {
    __typename ... on Invitation { token } ... on Error { message code }
  }
}
"""
ACCEPT = """
mutation Accept($token: String!, $password: String!) {
  acceptInvite(input: {token: $token, password: $password, name: "New"}) {
    __typename ... on AuthPayload { accessToken user { id role } } ... on Error { message code }
  }
}
"""
CREATE_KEY = """
mutation Key($name: String!, $role: Role!) {
  createApiKey(input: {name: $name, role: $role}) {
    __typename
    ... on CreatedApiKey { key apiKey { id hint role lastUsedAt } }
    ... on Error { message code }
  }
}
"""
FREE_USERS = TIER_LIMITS["free"].max_users
CREATE_PRODUCT = """
mutation($name: String!) { createProduct(input: {name: $name}) { __typename } }
"""


async def status_and_body(client: GraphQLClient, query: str) -> tuple[int, dict]:
    response = await client.post(query)
    return response.status_code, response.json()


async def member(admin: SignedUp, role: str) -> GraphQLClient:
    """A user of the admin's tenant with `role`, invited and signed in through the API."""
    email = f"{role}-{datetime.now(UTC).timestamp()}@example.com"
    invite = await admin.client.data(INVITE, {"email": email, "role": role.upper()})
    token = invite["inviteUser"]["token"]
    anonymous = admin.client.as_(None)
    accepted = await anonymous.data(ACCEPT, {"token": token, "password": PASSWORD})
    await anonymous.close()
    return admin.client.as_(accepted["acceptInvite"]["accessToken"])


async def test_sign_up_then_me_shows_the_admin(admin: SignedUp):
    me = (await admin.client.data(ME))["me"]
    assert me == {
        "tenantId": admin.tenant_id,
        "role": "ADMIN",
        "kind": "user",
        "user": {"email": admin.email},
    }


async def test_signing_up_twice_with_one_email_is_a_conflict(admin: SignedUp):
    anonymous = admin.client.as_(None)
    query = """mutation($input: SignUpInput!) { signUp(input: $input) {
        __typename ... on Error { message } } }"""
    variables = {"input": {"tenantName": "B", "email": admin.email, "password": PASSWORD}}
    result = (await anonymous.data(query, variables))["signUp"]
    assert result["__typename"] == "ConflictError"


async def test_weak_password_and_bad_email_are_validation_errors(admin: SignedUp):
    anonymous = admin.client.as_(None)
    query = """mutation($input: SignUpInput!) { signUp(input: $input) {
        __typename ... on ValidationError { fields { path } } } }"""
    variables = {"input": {"tenantName": "", "email": "nope", "password": "short"}}
    result = (await anonymous.data(query, variables))["signUp"]
    paths = {tuple(f["path"]) for f in result["fields"]}
    assert paths == {("input", "tenantName"), ("input", "email"), ("input", "password")}


async def test_login_with_the_right_password_gives_a_working_token(admin: SignedUp):
    anonymous = admin.client.as_(None)
    result = (await anonymous.data(LOGIN, {"email": admin.email, "password": PASSWORD}))["login"]
    assert result["__typename"] == "AuthPayload"
    me = await admin.client.as_(result["accessToken"]).data(ME)
    assert me["me"]["user"]["email"] == admin.email


async def test_wrong_password_and_unknown_email_fail_alike(admin: SignedUp):
    anonymous = admin.client.as_(None)
    wrong = (await anonymous.data(LOGIN, {"email": admin.email, "password": "x" * 12}))["login"]
    unknown = await anonymous.data(LOGIN, {"email": "no@example.com", "password": "x" * 12})
    assert (
        wrong
        == unknown["login"]
        == {
            "__typename": "AuthenticationError",
            "message": "invalid e-mail or password",
            "code": "UNAUTHENTICATED",
        }
    )


async def test_anonymous_caller_is_refused_with_unauthenticated(api: str):
    anonymous = GraphQLClient(api)
    body = await anonymous.execute("{ products(first: 1) { totalCount } }")
    await anonymous.close()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"), id="sig"),
        pytest.param(lambda t: t.split(".")[0] + ".e30." + t.split(".")[2], id="payload"),
        pytest.param(lambda t: "not-a-jwt", id="garbage"),
    ],
)
async def test_tampered_token_is_a_401(admin: SignedUp, mangle):
    client = admin.client.as_(mangle(admin.client.token))
    status, body = await status_and_body(client, ME)
    assert status == 401
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert admin.client.token not in json.dumps(body)


async def test_expired_token_is_a_401(admin: SignedUp, settings: Settings):
    token, _ = issue_access_token(
        settings.jwt_secret.get_secret_value(),
        user_id=admin.user_id,
        tenant_id=admin.tenant_id,
        session_id="expired-login",
        role="admin",
        ttl_seconds=60,
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    status, body = await status_and_body(admin.client.as_(token), ME)
    assert status == 401 and "expired" in body["errors"][0]["message"]


async def test_token_signed_with_another_secret_is_a_401(admin: SignedUp):
    forged = jwt.encode(
        {"sub": admin.user_id, "tid": admin.tenant_id, "role": "admin", "typ": "access"},
        "x" * 64,
        algorithm="HS256",
    )
    status, _ = await status_and_body(admin.client.as_(forged), ME)
    assert status == 401


async def test_logout_revokes_the_access_token_and_its_refresh_token(admin: SignedUp):
    anonymous = admin.client.as_(None)
    session = (await anonymous.data(LOGIN, {"email": admin.email, "password": PASSWORD}))["login"]
    client = admin.client.as_(session["accessToken"])
    await client.data(
        "mutation($t: String) { logout(refreshToken: $t) }", {"t": session["refreshToken"]}
    )
    status, _ = await status_and_body(client, ME)
    assert status == 401
    refreshed = await anonymous.data(REFRESH, {"token": session["refreshToken"]})
    assert refreshed["refreshSession"]["__typename"] == "AuthenticationError"


async def test_refresh_rotates_and_replay_revokes_the_whole_login(
    admin: SignedUp, tenant: TenantScope
):
    anonymous = admin.client.as_(None)
    first = (await anonymous.data(LOGIN, {"email": admin.email, "password": PASSWORD}))["login"]
    second = (await anonymous.data(REFRESH, {"token": first["refreshToken"]}))["refreshSession"]
    assert second["__typename"] == "AuthPayload"
    assert second["refreshToken"] != first["refreshToken"]

    replay = (await anonymous.data(REFRESH, {"token": first["refreshToken"]}))["refreshSession"]
    assert replay["__typename"] == "AuthenticationError"
    # The thief's replay also kills the session that the legitimate rotation produced.
    after = (await anonymous.data(REFRESH, {"token": second["refreshToken"]}))["refreshSession"]
    assert after["__typename"] == "AuthenticationError"
    stored = await tenant.find(RefreshToken, {"user_id": User.id}).to_list()
    assert all("prt_" not in token.token_hash for token in stored)


async def test_replaying_a_spent_refresh_token_ends_the_logins_access_tokens(admin: SignedUp):
    anonymous = admin.client.as_(None)
    first = (await anonymous.data(LOGIN, {"email": admin.email, "password": PASSWORD}))["login"]
    second = (await anonymous.data(REFRESH, {"token": first["refreshToken"]}))["refreshSession"]
    other_login = await anonymous.data(LOGIN, {"email": admin.email, "password": PASSWORD})
    replay = (await anonymous.data(REFRESH, {"token": first["refreshToken"]}))["refreshSession"]
    assert replay["__typename"] == "AuthenticationError"
    for session in (first, second):
        status, body = await status_and_body(admin.client.as_(session["accessToken"]), ME)
        assert status == 401 and "revoked" in body["errors"][0]["message"]
    # Another login of the same user is not the thief's: it keeps working.
    untouched = admin.client.as_(other_login["login"]["accessToken"])
    assert (await status_and_body(untouched, ME))[0] == 200


async def test_viewer_reads_but_cannot_write(admin: SignedUp):
    viewer = await member(admin, "viewer")
    assert "errors" not in await viewer.execute("{ products(first: 1) { totalCount } }")
    body = await viewer.execute(CREATE_PRODUCT, {"name": "Viewer product"})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["data"] is None


async def test_analyst_writes_but_cannot_manage_users(admin: SignedUp):
    analyst = await member(admin, "analyst")
    created = await analyst.data(CREATE_PRODUCT, {"name": f"Analyst {datetime.now(UTC)}"})
    assert created["createProduct"]["__typename"] == "Product"
    body = await analyst.execute(INVITE, {"email": "x@example.com", "role": "ADMIN"})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_changing_a_role_revokes_the_old_tokens(admin: SignedUp):
    analyst = await member(admin, "analyst")
    me = (await analyst.data(ME))["me"]
    assert me["role"] == "ANALYST"
    users = await admin.client.data("{ users(first: 50) { nodes { id email role } } }")
    target = next(u for u in users["users"]["nodes"] if u["email"] == me["user"]["email"])
    change = """mutation($id: ID!) { changeUserRole(userId: $id, role: VIEWER) {
        __typename ... on User { role } } }"""
    result = await admin.client.data(change, {"id": target["id"]})
    assert result["changeUserRole"] == {"__typename": "User", "role": "VIEWER"}
    status, _ = await status_and_body(analyst, ME)
    assert status == 401


async def test_deactivated_user_is_locked_out(admin: SignedUp, tenant: TenantScope):
    viewer = await member(admin, "viewer")
    me = (await viewer.data("{ me { user { email } } }"))["me"]["user"]["email"]
    user = await tenant.find(User, {"email": me}).first_or_none()
    assert user is not None
    result = await admin.client.data(
        "mutation($id: ID!) { deactivateUser(userId: $id) { __typename ... on User { active } } }",
        {"id": str(user.id)},
    )
    assert result["deactivateUser"] == {"__typename": "User", "active": False}
    assert (await status_and_body(viewer, ME))[0] == 401
    login = await admin.client.as_(None).data(LOGIN, {"email": me, "password": PASSWORD})
    assert login["login"]["__typename"] == "AuthenticationError"


async def test_admin_cannot_deactivate_themselves(admin: SignedUp):
    result = await admin.client.data(
        "mutation($id: ID!) { deactivateUser(userId: $id) { __typename } }",
        {"id": admin.user_id},
    )
    assert result["deactivateUser"]["__typename"] == "ForbiddenError"


async def test_api_key_is_shown_once_works_and_stops_working_when_revoked(admin: SignedUp):
    created = await admin.client.data(CREATE_KEY, {"name": "etl", "role": "ANALYST"})
    key, api_key = created["createApiKey"]["key"], created["createApiKey"]["apiKey"]
    assert key.startswith("pk_") and api_key["hint"].endswith(key[-4:])
    scripted = admin.client.as_(key)
    me = (await scripted.data(ME))["me"]
    assert me == {"tenantId": admin.tenant_id, "role": "ANALYST", "kind": "apiKey", "user": None}
    keys = await admin.client.data("{ apiKeys(first: 50) { nodes { id lastUsedAt } } }")
    listed = next(k for k in keys["apiKeys"]["nodes"] if k["id"] == api_key["id"])
    assert listed["lastUsedAt"] is not None
    assert key not in json.dumps(keys)

    await admin.client.data(
        "mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }", {"id": api_key["id"]}
    )
    assert (await status_and_body(scripted, ME))[0] == 401


async def test_nobody_mints_a_key_stronger_than_themselves(admin: SignedUp):
    created = await admin.client.data(CREATE_KEY, {"name": "viewer", "role": "VIEWER"})
    viewer_key = admin.client.as_(created["createApiKey"]["key"])
    result = await viewer_key.data(CREATE_KEY, {"name": "escalate", "role": "ADMIN"})
    assert result["createApiKey"] == {
        "__typename": "ForbiddenError",
        "message": "this needs the admin role",
        "code": "FORBIDDEN",
    }


async def test_subscription_without_credentials_is_rejected(api: str):
    url = api.replace("http", "ws", 1) + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd.code == 4403


async def test_subscription_is_closed_when_its_token_is_revoked(admin: SignedUp):
    anonymous = admin.client.as_(None)
    session = (await anonymous.data(LOGIN, {"email": admin.email, "password": PASSWORD}))["login"]
    client = admin.client.as_(session["accessToken"])
    async with client.subscribe("subscription { productEvents { type } }") as subscription:
        await client.data("mutation { logout }")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(subscription.next_message(), 10)
    assert closed.value.rcvd.code == 4403


REVOKE_INVITE = """
mutation($id: ID!) { revokeInvite(id: $id) {
    __typename ... on Invite { email revokedAt } ... on Error { message code } } }
"""
DEACTIVATE = "mutation($id: ID!) { deactivateUser(userId: $id) { __typename } }"


async def invite(client: GraphQLClient, role: str = "VIEWER") -> dict:
    email = f"invitee-{uuid.uuid4().hex[:10]}@example.com"
    invited = (await client.data(INVITE_WITH_ID, {"email": email, "role": role}))["inviteUser"]
    assert invited["__typename"] == "Invitation", invited
    return invited


INVITE_WITH_ID = """
mutation($email: String!, $role: Role!) { inviteUser(input: {email: $email, role: $role}) {
    __typename ... on Invitation { id email token } ... on Error { message code } } }
"""


async def test_accepting_invites_beyond_the_tiers_user_limit_is_refused(api: str):
    free = await sign_up(api, "Small team")  # free tier: 3 users, the admin is one
    invites = [await invite(free.client) for _ in range(FREE_USERS + 2)]
    anonymous = free.client.as_(None)
    results = [
        (await anonymous.data(ACCEPT, {"token": i["token"], "password": PASSWORD}))["acceptInvite"]
        for i in invites
    ]
    assert [r["__typename"] for r in results[: FREE_USERS - 1]] == ["AuthPayload"] * 2
    refused = results[FREE_USERS - 1 :]
    assert {r["__typename"] for r in refused} == {"ConflictError"}
    assert refused[0]["message"] == f"the free tier allows {FREE_USERS} users; upgrade first"
    users = await free.client.data("{ users(first: 50) { totalCount } }")
    assert users["users"]["totalCount"] == FREE_USERS
    await free.client.close()


async def test_invite_beyond_the_limit_names_the_limit(api: str):
    free = await sign_up(api, "Full team")
    anonymous = free.client.as_(None)
    for _ in range(FREE_USERS - 1):
        token = (await invite(free.client))["token"]
        await anonymous.data(ACCEPT, {"token": token, "password": PASSWORD})
    email = f"one-too-many-{uuid.uuid4().hex[:6]}@example.com"
    refused = (await free.client.data(INVITE, {"email": email, "role": "VIEWER"}))["inviteUser"]
    assert refused == {
        "__typename": "ConflictError",
        "message": f"the free tier allows {FREE_USERS} users; upgrade first",
        "code": "CONFLICT",
    }
    await free.client.close()


async def test_revoked_invite_cannot_be_accepted(admin: SignedUp):
    invited = await invite(admin.client)
    revoked = (await admin.client.data(REVOKE_INVITE, {"id": invited["id"]}))["revokeInvite"]
    assert revoked["__typename"] == "Invite" and revoked["revokedAt"] is not None
    anonymous = admin.client.as_(None)
    accepted = await anonymous.data(ACCEPT, {"token": invited["token"], "password": PASSWORD})
    assert accepted["acceptInvite"]["__typename"] == "AuthenticationError"
    again = (await admin.client.data(REVOKE_INVITE, {"id": invited["id"]}))["revokeInvite"]
    assert again["__typename"] == "ConflictError"


async def test_revoking_an_accepted_or_unknown_invite_is_a_typed_error(admin: SignedUp):
    invited = await invite(admin.client)
    await admin.client.as_(None).data(ACCEPT, {"token": invited["token"], "password": PASSWORD})
    accepted = (await admin.client.data(REVOKE_INVITE, {"id": invited["id"]}))["revokeInvite"]
    assert accepted["__typename"] == "ConflictError" and "accepted" in accepted["message"]
    unknown = await admin.client.data(REVOKE_INVITE, {"id": "0123456789abcdef01234567"})
    assert unknown["revokeInvite"]["__typename"] == "NotFoundError"


async def test_only_admins_revoke_invites(admin: SignedUp):
    invited = await invite(admin.client)
    analyst = await member(admin, "analyst")
    body = await analyst.execute(REVOKE_INVITE, {"id": invited["id"]})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_deactivating_a_user_ends_their_api_keys_and_pending_invites(admin: SignedUp):
    colleague = await member(admin, "admin")
    key = (await colleague.data(CREATE_KEY, {"name": "theirs", "role": "VIEWER"}))["createApiKey"]
    their_invite = await invite(colleague)
    my_key = await admin.client.data(CREATE_KEY, {"name": "mine", "role": "VIEWER"})
    colleague_id = (await colleague.data("{ me { user { id } } }"))["me"]["user"]["id"]
    result = await admin.client.data(DEACTIVATE, {"id": colleague_id})
    assert result["deactivateUser"]["__typename"] == "User"

    assert (await status_and_body(admin.client.as_(key["key"]), ME))[0] == 401
    anonymous = admin.client.as_(None)
    token = their_invite["token"]
    accepted = await anonymous.data(ACCEPT, {"token": token, "password": PASSWORD})
    assert accepted["acceptInvite"]["__typename"] == "AuthenticationError"
    keys = await admin.client.data("{ apiKeys(first: 100) { nodes { id revokedAt } } }")
    revoked = {k["id"]: k["revokedAt"] for k in keys["apiKeys"]["nodes"]}
    assert revoked[key["apiKey"]["id"]] is not None
    assert revoked[my_key["createApiKey"]["apiKey"]["id"]] is None  # other holders keep theirs
