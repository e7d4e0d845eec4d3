"""The threaded TCP server, its in-process wrapper, persistence and the CLI."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import itertools
import logging
import signal
import socket
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
# Commands that read no data: answered at once, even while another command runs.
MONITORING = frozenset({"hello", "isMaster", "ismaster", "ping", "buildInfo", "buildinfo"})


class MongoServer:
    """Serves the wire protocol with a thread per connection.

    Data commands run one at a time under one lock: that is what gives MongoDB's
    single-document atomicity (and more) for free. Handshake and monitoring commands skip
    the lock, so a long aggregation never makes a driver's heartbeat time out and mark the
    server down.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, data_file: str | None = None):
        self.host, self.port, self.data_file = host, port, data_file
        exists = data_file is not None and Path(data_file).exists()
        self.store = Store.load(data_file) if exists and data_file else Store()
        self.commands = Commands(self.store)
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._clients: dict[socket.socket, threading.Thread] = {}
        self._clients_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()
        self._conn_ids = itertools.count(1)

    @property
    def url(self) -> str:
        return f"mongodb://{self.host}:{self.port}"

    @property
    def busy(self) -> bool:
        """A data command is running."""
        return self._lock.locked()

    def start(self) -> str:
        self._listener = socket.create_server((self.host, self.port))
        self.port = self._listener.getsockname()[1]
        for target in (self._accept, self._expire_ttl):
            thread = threading.Thread(target=target, name="embedded-mongo", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self.url

    def close(self) -> None:
        """Stop listening, drop the clients, and persist."""
        self._stopped.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            self._listener.close()
        with self._clients_lock:
            clients = list(self._clients.items())
        for sock, _ in clients:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # ends the handler at its next read
        for thread in self._threads + [thread for _, thread in clients]:
            thread.join()
        if self.data_file:
            with self._lock:
                self.store.save(self.data_file)

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:  # the listener was closed
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            thread = threading.Thread(target=self._serve_client, args=(sock,), daemon=True)
            with self._clients_lock:
                self._clients[sock] = thread
                self.commands.connections += 1
            thread.start()

    def _serve_client(self, sock: socket.socket) -> None:
        conn_id = next(self._conn_ids)
        try:
            with sock.makefile("rb") as reader:
                while (message := wire.read_message(reader)) is not None:
                    reply = self._execute(message, conn_id)
                    if reply is not None:
                        sock.sendall(reply)
        except (OSError, wire.ProtocolError) as exc:
            log.debug("connection %s closed: %s", conn_id, exc)
        finally:
            with self._clients_lock:
                self._clients.pop(sock, None)
                self.commands.connections -= 1
            sock.close()

    def _execute(self, message: wire.Message, conn_id: int) -> bytes | None:
        if message.body is None:
            return wire.encode_reply(message, CommandError(2, message.error).reply())
        if next(iter(message.body), None) in MONITORING:
            reply = self.commands.run(message.body, conn_id)
        else:
            with self._lock:
                reply = self.commands.run(message.body, conn_id)
        if message.more_to_come:
            return None
        try:
            return wire.encode_reply(message, reply)
        except Exception as exc:  # a reply BSON cannot carry (e.g. too large)
            return wire.encode_reply(message, as_command_error(exc).reply())

    def _expire_ttl(self) -> None:
        while not self._stopped.wait(TTL_INTERVAL_SECONDS):
            try:
                with self._lock:
                    self.store.expire(datetime.datetime.now(datetime.UTC))
            except Exception:  # keep the monitor alive, as MongoDB's does
                log.exception("TTL expiry failed")


class EmbeddedMongo:
    """The server on background threads, for in-process use."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, data_file: str | None = None):
        self.server = MongoServer(host, port, data_file)
        self._running = False

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> str:
        """Start serving; returns `mongodb://host:port` once connections are accepted."""
        try:
            url = self.server.start()
        except OSError as exc:
            raise RuntimeError("the embedded MongoDB server failed to start") from exc
        self._running = True
        return url

    def stop(self) -> None:
        """Stop serving and persist to the data file, if any."""
        if self._running:
            self._running = False
            self.server.close()


def serve(host: str, port: int, data_file: str | None) -> None:
    """Run in the foreground until SIGTERM or SIGINT, then persist and return."""
    server = MongoServer(host, port, data_file)
    url = server.start()
    print(BANNER.format(url=url), flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):  # short waits, so the signal handler gets to run
        pass
    server.close()


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
    serve(args.host, args.port, args.data_file)
    return 0
