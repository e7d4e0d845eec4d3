"""MongoDB connection: a real server from MONGODB_URL, or the embedded one in-process."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from beanie import init_beanie
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from app.models import ALL_MODELS
from app.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Database:
    client: AsyncMongoClient[dict[str, Any]]
    name: str
    embedded: Any = None  # the in-process EmbeddedMongo, when one was started

    @property
    def db(self) -> Any:
        return self.client[self.name]

    async def ping(self) -> bool:
        try:
            await self.client.admin.command("ping")
        except PyMongoError:
            return False
        return True

    async def close(self) -> None:
        await self.client.close()
        if self.embedded is not None:
            self.embedded.stop()


def client_for(
    url: str, settings: Settings, event_listeners: Sequence[Any] = ()
) -> AsyncMongoClient[dict[str, Any]]:
    # Short timeouts turn an unreachable server into a prompt, clean error; PyMongo
    # reconnects by itself when the server comes back.
    timeout = settings.mongodb_timeout_ms
    return AsyncMongoClient(
        url,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout,
        connectTimeoutMS=timeout,
        socketTimeoutMS=max(timeout * 10, 30_000),
        appname="pricing-platform",
        event_listeners=list(event_listeners),  # e.g. a CommandListener counting round trips
    )


async def connect(settings: Settings) -> Database:
    embedded = None
    url = settings.mongodb_url
    if url is None:
        from app.embedded import EmbeddedMongo

        data_file = str(settings.embedded_data_file) if settings.embedded_data_file else None
        embedded = EmbeddedMongo(host="127.0.0.1", port=0, data_file=data_file)
        url = embedded.start()
        log.warning(
            "MONGODB_URL unset: using the embedded MongoDB-compatible server at %s "
            "(development and tests only)",
            url,
        )
    database = Database(client_for(url, settings), settings.mongodb_db, embedded)
    await init_beanie(database=database.db, document_models=list(ALL_MODELS))
    return database
