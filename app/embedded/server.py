"""The asyncio TCP server, its background-thread wrapper, persistence and the CLI."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import itertools
import logging
import signal
import sys
import threading
from pathlib import Path

from app.embedded import wire
from app.embedded.commands import Commands
from app.embedded.errors import CommandError, as_command_error
from app.embedded.store import Store

log = logging.getLogger("app.embedded")
BANNER = "embedded MongoDB-compatible server (development and tests only) listening on {url}"
TTL_INTERVAL_SECONDS = 60  # as often as MongoDB's TTL monitor runs


class MongoServer:
    """Serves the wire protocol on one event loop.

    Commands run synchronously on the loop thread, one at a time: that is the lock that
    gives MongoDB's single-document atomicity (and more) for free.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, data_file: str | None = None):
        self.host, self.port, self.data_file = host, port, data_file
        exists = data_file is not None and Path(data_file).exists()
        self.store = Store.load(data_file) if exists and data_file else Store()
        self.commands = Commands(self.store)
        self._server: asyncio.Server | None = None
        self._ttl_task: asyncio.Task[None] | None = None
        self._clients: dict[asyncio.StreamWriter, asyncio.Task[None] | None] = {}
        self._conn_ids = itertools.count(1)

    @property
    def url(self) -> str:
        return f"mongodb://{self.host}:{self.port}"

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve_client, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ttl_task = asyncio.create_task(self._expire_ttl())
        return self.url

    async def close(self) -> None:
        """Stop listening, drop the clients, and persist."""
        if self._server is not None:
            self._server.close()
        if self._ttl_task is not None:
            self._ttl_task.cancel()
        # Aborting a transport ends its handler at the next read or write, even when the
        # client has stopped reading; no task cancellation needed.
        clients = list(self._clients.items())
        for writer, _ in clients:
            writer.transport.abort()
        await asyncio.gather(*(t for _, t in clients if t), return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        if self.data_file:
            self.store.save(self.data_file)

    async def _serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._clients[writer] = asyncio.current_task()
        conn_id = next(self._conn_ids)
        self.commands.connections += 1
        try:
            while (message := await wire.read_message(reader)) is not None:
                reply = self._execute(message, conn_id)
                if reply is not None:
                    writer.write(reply)
                    await writer.drain()
        except (ConnectionError, wire.ProtocolError, asyncio.IncompleteReadError) as exc:
            log.debug("connection %s closed: %s", conn_id, exc)
        finally:
            self.commands.connections -= 1
            self._clients.pop(writer, None)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _execute(self, message: wire.Message, conn_id: int) -> bytes | None:
        if message.body is None:
            return wire.encode_reply(message, CommandError(2, message.error).reply())
        reply = self.commands.run(message.body, conn_id)
        if message.more_to_come:
            return None
        try:
            return wire.encode_reply(message, reply)
        except Exception as exc:  # a reply BSON cannot carry (e.g. too large)
            return wire.encode_reply(message, as_command_error(exc).reply())

    async def _expire_ttl(self) -> None:
        while True:
            await asyncio.sleep(TTL_INTERVAL_SECONDS)
            try:
                self.store.expire(datetime.datetime.now(datetime.UTC))
            except Exception:  # keep the monitor alive, as MongoDB's does
                log.exception("TTL expiry failed")


class EmbeddedMongo:
    """The server on a daemon thread with its own event loop, for in-process use."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, data_file: str | None = None):
        self.server = MongoServer(host, port, data_file)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> str:
        """Start serving; returns `mongodb://host:port` once connections are accepted."""
        self._thread = threading.Thread(target=self._run, name="embedded-mongo", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise RuntimeError("the embedded MongoDB server failed to start") from self._error
        return self.url

    def stop(self) -> None:
        """Stop serving and persist to the data file, if any."""
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join()
            self._loop = None

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        try:
            await self.server.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await self.server.close()


async def serve(host: str, port: int, data_file: str | None) -> None:
    """Run in the foreground until SIGTERM or SIGINT, then persist and return."""
    server = MongoServer(host, port, data_file)
    url = await server.start()
    print(BANNER.format(url=url), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.embedded",
        description="Embedded MongoDB-compatible server, for development and tests only.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=27017, help="0 picks a free port")
    parser.add_argument("--data-file", help="load from and save to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(serve(args.host, args.port, args.data_file))
    return 0
