"""MongoDB connection: a real server from MONGODB_URL, or the embedded one in a child
process (so that its hundreds of thousands of objects are not in the API's collector's way,
nor its threads in the way of the API's interpreter)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from beanie import init_beanie
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from app.models import ALL_MODELS
from app.settings import Settings

log = logging.getLogger(__name__)
EMBEDDED_START_SECONDS = 300  # a large data file's journal is replayed before it listens


@dataclass
class EmbeddedProcess:
    """`python -m app.embedded.child`: the embedded server, which stops with this process."""

    process: asyncio.subprocess.Process
    url: str

    @classmethod
    async def start(cls, data_file: str | None) -> EmbeddedProcess:
        command = [sys.executable, "-m", "app.embedded.child", str(os.getpid())]
        command += ["--host", "127.0.0.1", "--port", "0"]
        if data_file:
            command += ["--data-file", data_file]
        # Its own session: a Ctrl-C meant for the API must not stop the store under it; the
        # API stops it after its own shutdown.
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, start_new_session=True
        )
        assert process.stdout is not None
        banner = await asyncio.wait_for(process.stdout.readline(), EMBEDDED_START_SECONDS)
        if not banner:
            raise RuntimeError("the embedded MongoDB server failed to start")
        return cls(process, banner.decode().split()[-1])  # "... listening on mongodb://…"

    async def stop(self) -> None:
        """A clean stop (SIGTERM), which persists to the data file when there is one."""
        if self.process.returncode is None:
            self.process.terminate()
        await self.process.wait()


@dataclass
class Database:
    client: AsyncMongoClient[dict[str, Any]]
    name: str
    embedded: EmbeddedProcess | None = None

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
            await self.embedded.stop()


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
        data_file = str(settings.embedded_data_file) if settings.embedded_data_file else None
        embedded = await EmbeddedProcess.start(data_file)
        url = embedded.url
        log.warning(
            "MONGODB_URL unset: using the embedded MongoDB-compatible server at %s, in its "
            "own process (development and tests only)",
            url,
        )
    database = Database(client_for(url, settings), settings.mongodb_db, embedded)
    await init_beanie(database=database.db, document_models=list(ALL_MODELS))
    return database
