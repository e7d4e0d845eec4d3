"""An API and a worker configured for the AI tests: OPENAI_BASE_URL at a fake server, the
test servers' host allowed for outbound fetches, a small AI per-minute limit."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from beanie import init_beanie

from app.models import ALL_MODELS, Product
from app.runtime import start_services
from tests.conftest import make_settings
from tests.support.app import running_api, running_worker

AI_PER_MINUTE = 6


@contextlib.asynccontextmanager
async def ai_stack(mongo_url: str, redis_url: str, openai_url: str) -> AsyncIterator[str]:
    """An API and a worker of their own (their own database and Redis prefix, so the
    session's worker never takes their jobs), configured for the AI tests."""
    settings = make_settings(
        mongo_url,
        redis_url,
        openai_base_url=openai_url,
        openai_max_retries=2,
        outbound_allow_hosts=["127.0.0.1"],
        rate_limit_ai_requests_per_minute=AI_PER_MINUTE,
    )
    bound = _bound_database()
    services = await start_services(settings)
    try:
        async with running_api(settings, services) as url, running_worker(settings):
            yield url
    finally:
        await services.database.client.drop_database(settings.mongodb_db)
        await services.close()
        if bound is not None:
            # Starting these stores bound the documents to their clients, now closed: back
            # to the one bound before, which the other tests use.
            await init_beanie(database=bound, document_models=list(ALL_MODELS))


def _bound_database() -> Any:
    try:
        return Product.get_pymongo_collection().database
    except Exception:  # nothing bound yet
        return None
