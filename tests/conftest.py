"""Shared fixtures: a real Redis and a MongoDB-wire endpoint for the whole session.

MONGODB_URL / REDIS_URL point the suite at existing servers; otherwise the embedded
MongoDB-compatible server is started as its own process and a Redis server is reused on
127.0.0.1:6379 or started on a free port.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from app.models import TenantScope
from app.models.identity import Tenant
from app.runtime import Services, start_services
from app.settings import Settings
from tests.support.app import running_api, running_worker
from tests.support.graphql import OPEN_CLIENTS, GraphQLClient
from tests.support.servers import MongoProcess, ensure_redis
from tests.support.tenants import SignedUp, sign_up


@pytest.fixture(scope="session")
def mongo_url() -> Iterator[str]:
    url = os.environ.get("MONGODB_URL")
    if url:
        yield url
        return
    server = MongoProcess.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    with ensure_redis() as url:
        yield url


def make_settings(mongo_url: str, redis_url: str | None, **overrides: object) -> Settings:
    run = uuid.uuid4().hex[:8]
    values: dict[str, object] = {
        "mongodb_url": mongo_url,
        "mongodb_db": f"test_{run}",
        "redis_url": redis_url,
        "redis_prefix": f"test-{run}",
        "jwt_secret": "test-secret-" + uuid.uuid4().hex + uuid.uuid4().hex,
        # The suite signs in far more often than a person; the limits have their own tests.
        "login_attempts_per_account": 1000,
        "login_attempts_per_ip": 1000,
        # Short quota windows, so that limits are seen to recover within a test.
        "request_window_seconds": 2.0,
        "expensive_window_seconds": 3.0,
        # Quick failure detection and retries, so the run engine's tests stay short.
        "run_lease_seconds": 2.0,
        "run_reaper_seconds": 0.5,
        "run_retry_backoff_seconds": 0.05,
        "experiment_engine_seconds": 0.2,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def settings(mongo_url: str, redis_url: str) -> Settings:
    return make_settings(mongo_url, redis_url)


@pytest_asyncio.fixture(scope="session")
async def services(settings: Settings) -> AsyncIterator[Services]:
    started = await start_services(settings)
    yield started
    await started.database.client.drop_database(settings.mongodb_db)
    await started.close()


@pytest_asyncio.fixture(scope="session")
async def api(settings: Settings, services: Services) -> AsyncIterator[str]:
    async with running_api(settings, services) as url:
        yield url
        for client in list(OPEN_CLIENTS):  # what the tests left open
            await client.close()


@pytest_asyncio.fixture(scope="session")
async def worker(settings: Settings, services: Services) -> AsyncIterator[None]:
    async with running_worker(settings):
        yield


@pytest_asyncio.fixture(scope="session")
async def admin(api: str) -> AsyncIterator[SignedUp]:
    """A tenant signed up through the API, and its admin."""
    signed_up = await sign_up(api, "Tenant A")
    # The suite makes more calls a minute than the free plan allows; limits have own tests.
    await Tenant.find_one({"_id": signed_up.tenant_id}).update({"$set": {"tier": "enterprise"}})
    yield signed_up
    await signed_up.client.close()


@pytest.fixture
def client(admin: SignedUp) -> GraphQLClient:
    return admin.client


@pytest.fixture
def tenant(admin: SignedUp) -> TenantScope:
    return TenantScope(admin.tenant_id)
