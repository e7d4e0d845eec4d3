"""Rate limits per plan, usage counters and warnings, query limits, secrets kept secret."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import uuid

import pytest
import pytest_asyncio

from app.models import TenantScope
from app.models.secret import TenantSecret
from app.ratelimit import TIER_LIMITS
from app.runtime import Services
from app.settings import Settings
from tests.support.app import running_api
from tests.support.catalog import own_tenant
from tests.support.graphql import GraphQLClient
from tests.support.servers import ApiProcess
from tests.support.tenants import PASSWORD, SIGN_UP, SignedUp, sign_up
from tests.support.walk import INTROSPECT, Walker

FREE = TIER_LIMITS["free"]
SECRET_VALUE = "sk-live-0123456789abcdefWXYZ"


@pytest_asyncio.fixture
async def free_tenant(api: str) -> SignedUp:
    signed_up = await sign_up(api, "Free plan")
    yield signed_up
    await signed_up.client.close()


async def test_request_limit_trips_with_429_and_recovers(free_tenant: SignedUp):
    client = free_tenant.client
    statuses = [
        (await client.post("{ __typename }")).status_code for _ in range(FREE.requests_per_minute)
    ]
    assert set(statuses) == {200}
    refused = await client.post("{ __typename }")
    assert refused.status_code == 429
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 2
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert 0 < error["extensions"]["retryAfter"] <= 2
    await asyncio.sleep(error["extensions"]["retryAfter"] + 0.05)
    assert (await client.post("{ __typename }")).status_code == 200


async def test_tenants_have_separate_request_quotas(free_tenant: SignedUp, api: str):
    for _ in range(FREE.requests_per_minute + 1):
        await free_tenant.client.post("{ __typename }")
    other = await sign_up(api, "Neighbour")
    assert (await other.client.post("{ __typename }")).status_code == 200
    await other.client.close()


async def test_expensive_operations_have_a_stricter_quota(free_tenant: SignedUp, worker):
    mutation = """mutation { recomputeSegmentMetrics {
        __typename ... on RateLimitedError { message retryAfter } } }"""
    for _ in range(FREE.expensive_per_hour):
        result = (await free_tenant.client.data(mutation))["recomputeSegmentMetrics"]
        assert result["__typename"] == "Run"
    limited = (await free_tenant.client.data(mutation))["recomputeSegmentMetrics"]
    assert limited["__typename"] == "RateLimitedError"
    assert "segment" in limited["message"]
    await asyncio.sleep(limited["retryAfter"] + 0.05)
    again = (await free_tenant.client.data(mutation))["recomputeSegmentMetrics"]
    assert again["__typename"] == "Run"


async def test_usage_counts_calls_and_warns_near_the_limit(free_tenant: SignedUp):
    client = free_tenant.client
    warnings = "subscription { usageWarnings { limit quota remaining } }"
    async with client.subscribe(warnings) as subscription:
        for _ in range(FREE.requests_per_minute - 5):
            await client.post("{ __typename }")
        warning = (await asyncio.wait_for(subscription.next(), 5))["usageWarnings"]
    assert warning["limit"] == "requests per minute"
    assert warning["quota"] == FREE.requests_per_minute
    assert warning["remaining"] <= FREE.requests_per_minute // 10
    await asyncio.sleep(2.1)  # a fresh window for the usage query itself
    usage = await client.data("{ usage(days: 2) { days { apiCalls } limits { maxUsers } } }")
    assert usage["usage"]["days"][-1]["apiCalls"] >= FREE.requests_per_minute - 5
    assert usage["usage"]["limits"]["maxUsers"] == FREE.max_users


async def test_repeated_wrong_passwords_are_slowed_down(mongo_url: str, redis_url: str):
    api = ApiProcess.start(
        MONGODB_URL=mongo_url,
        MONGODB_DB=f"strict_{uuid.uuid4().hex[:8]}",
        REDIS_URL=redis_url,
        REDIS_PREFIX=f"strict-{uuid.uuid4().hex[:8]}",
        LOGIN_ATTEMPTS_PER_ACCOUNT="4",  # signing up is the first attempt
    )
    try:
        signed_up = await sign_up(api.url, "Guessed")
        anonymous = signed_up.client.as_(None)
        login = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
            __typename ... on RateLimitedError { retryAfter } } }"""
        variables = {"e": signed_up.email, "p": "wrong password!"}
        seen = [(await anonymous.data(login, variables))["login"] for _ in range(3)]
        assert {r["__typename"] for r in seen} == {"AuthenticationError"}
        right = {"e": signed_up.email, "p": PASSWORD}
        limited = (await anonymous.data(login, right))["login"]
        assert limited["__typename"] == "RateLimitedError" and limited["retryAfter"] > 0
        await signed_up.client.close()
    finally:
        api.stop()


async def test_secret_value_never_appears_in_responses_or_logs(
    api: str, caplog: pytest.LogCaptureFixture
):
    # A tenant of its own: with an "openai" key stored, the shared tenant's AI work would
    # call OpenAI with it.
    own = await own_tenant(api)
    tenant = TenantScope(own.tenant_id)
    caplog.set_level(logging.DEBUG)
    client = own.client
    stored = await client.data(
        'mutation($v: String!) { setSecret(input: {name: "openai", value: $v}) '
        "{ ... on Secret { name hint keyId } } }",
        {"v": SECRET_VALUE},
    )
    assert stored["setSecret"] == {"name": "openai", "hint": "sk-…WXYZ", "keyId": "k0"}
    walk = Walker.from_introspection(await client.data(INTROSPECT), ["openai"])
    for _field, document, variables in walk.operations("Query", "query"):
        body = await client.execute(document, variables)
        assert SECRET_VALUE not in json.dumps(body)
    document = await tenant.find(TenantSecret, {"name": "openai"}).first_or_none()
    assert document is not None and SECRET_VALUE not in document.model_dump_json()
    assert SECRET_VALUE not in caplog.text
    assert PASSWORD not in caplog.text and client.token not in caplog.text
    await client.close()


async def test_secret_cannot_be_decrypted_as_another_tenant(admin: SignedUp, services, api: str):
    from app.resolvers.secret import reveal

    await admin.client.data(
        'mutation { setSecret(input: {name: "billing", value: "bk_live_abcdefghijkl"}) '
        "{ __typename } }"
    )
    mine = await reveal(TenantScope(admin.tenant_id), services.keyring, "billing")
    assert mine == "bk_live_abcdefghijkl"
    other = await sign_up(api, "Other")
    assert await reveal(TenantScope(other.tenant_id), services.keyring, "billing") is None
    await other.client.close()


async def test_rotation_re_encrypts_credentials_under_the_new_key(admin: SignedUp, services):
    from app.resolvers.ctx import system_ctx
    from app.resolvers.secret import reveal, rotate_all, set_secret
    from app.security.crypto import Keyring

    old, new = Keyring.generate_key(), Keyring.generate_key()
    before = Keyring.parse(f"k1:{old}")
    scope = TenantScope(admin.tenant_id)
    ctx = system_ctx(dataclasses.replace(services, keyring=before), admin.tenant_id)
    await set_secret(ctx, "rotating", "sk-rotate-me-123456")
    both = Keyring.parse(f"k2:{new},k1:{old}")
    rotated, _others_unreadable = await rotate_all(both)
    assert rotated >= 1
    stored = await scope.find(TenantSecret, {"name": "rotating"}).first_or_none()
    assert stored is not None and stored.sealed.kid == "k2"
    only_new = Keyring.parse(f"k2:{new}")
    assert await reveal(scope, only_new, "rotating") == "sk-rotate-me-123456"


AUDITED_IPS = '{ auditLog(filter: {action: "signUp"}) { nodes { ip } } }'
FORGED_FOR = {"x-forwarded-for": "203.0.113.7"}


async def sign_up_through(base_url: str, headers: dict[str, str]) -> SignedUp:
    """A sign-up sent with `headers`, as a client behind (or pretending to be) a proxy."""
    anonymous = GraphQLClient(base_url)
    anonymous.http.headers.update(headers)
    email = f"proxied-{uuid.uuid4().hex[:10]}@example.com"
    variables = {"input": {"tenantName": "Proxied", "email": email, "password": PASSWORD}}
    result = (await anonymous.data(SIGN_UP, variables))["signUp"]
    await anonymous.close()
    return SignedUp(
        GraphQLClient(base_url, result["accessToken"]),
        result["tenant"]["id"],
        result["user"]["id"],
        email,
        result["refreshToken"],
    )


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(api: str):
    signed_up = await sign_up_through(api, FORGED_FOR)
    entries = (await signed_up.client.data(AUDITED_IPS))["auditLog"]["nodes"]
    assert [entry["ip"] for entry in entries] == ["127.0.0.1"]
    await signed_up.client.close()


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    settings: Settings, services: Services
):
    behind_proxy = settings.model_copy(update={"trusted_proxies": ["127.0.0.0/8"]})
    async with running_api(behind_proxy, services) as url:
        signed_up = await sign_up_through(url, FORGED_FOR)
        entries = (await signed_up.client.data(AUDITED_IPS))["auditLog"]["nodes"]
        await signed_up.client.close()
    assert [entry["ip"] for entry in entries] == ["203.0.113.7"]


async def multipart_status(api: str, declared: int, token: str | None = None) -> int:
    """Send an upload's headers declaring `declared` bytes and only a first part of the
    body; the status the server answers without waiting for the rest."""
    host, port = api.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    writer.write(
        (
            f"POST /graphql HTTP/1.1\r\nHost: {host}\r\n{auth}"
            "Content-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {declared}\r\n\r\n--b\r\n"
        ).encode()
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    return int(status_line.split()[1])


async def test_anonymous_upload_is_refused_before_its_body_is_read(api: str):
    assert await multipart_status(api, declared=1_000_000) == 401


async def test_upload_over_the_tiers_limit_is_refused_before_its_body_is_read(
    free_tenant: SignedUp,
):
    declared = FREE.max_upload_bytes + 1024 * 1024  # under a larger tier's limit
    client = free_tenant.client
    assert await multipart_status(client.base_url, declared, client.token) == 413
