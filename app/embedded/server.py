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
from app.embedded.journal import GROUP_COMMIT_SECONDS, Journal, read_segment, segments
from app.embedded.store import Store, write_snapshot

log = logging.getLogger("app.embedded")
BANNER = "embedded MongoDB-compatible server (development and tests only) listening on {url}"
TTL_INTERVAL_SECONDS = 60  # as often as MongoDB's TTL monitor runs
COMPACT_CHECK_SECONDS = 1.0
COMPACT_MIN_BYTES = 64 * 1024 * 1024  # and at least the snapshot's own size


class MongoServer:
    """Serves the wire protocol with a thread per connection.

    Commands lock per collection (see locks.py); handshake and monitoring commands take no
    lock, so a long aggregation never makes a driver's heartbeat time out. With a data file
    every write is journaled before it is acknowledged (see journal.py) and the journal is
    compacted into the snapshot in the background and on a clean stop.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, data_file: str | None = None):
        self.host, self.port = host, port
        self._checkpoint_lock = threading.Lock()
        self.data_file = Path(data_file) if data_file else None
        self.store = Store() if self.data_file is None else self._recover(self.data_file)
        self.commands = Commands(self.store, self.checkpoint if self.data_file else None)
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
        return self.commands.active > 0

    def wait_until_busy(self, timeout: float) -> bool:
        """Wait until a data command is running; False if none started within `timeout`."""
        with self.commands.activity:
            return self.commands.activity.wait_for(lambda: self.busy, timeout)

    def start(self) -> str:
        self._listener = socket.create_server((self.host, self.port))
        self.port = self._listener.getsockname()[1]
        targets = [self._accept, self._expire_ttl]
        if self.store.journal is not None:
            targets += [self._group_commit, self._compact]
        for target in targets:
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
        if self.store.journal is not None:
            self.checkpoint()
            self.store.journal.close()
            self.store.journal.path.unlink()  # empty: the snapshot holds everything

    # -- persistence ----------------------------------------------------------------------

    def _recover(self, data_file: Path) -> Store:
        """The snapshot, with the journal written since replayed on top."""
        data_file.parent.mkdir(parents=True, exist_ok=True)
        store, first = Store.load(data_file) if data_file.exists() else (Store(), 0)
        replayed, last = 0, first - 1
        for number, path in segments(data_file):
            if number >= first:
                for ops in read_segment(path):
                    for op in ops:
                        store.apply(op)
                    replayed += 1
            last = max(last, number)
        store.journal = Journal(data_file, last + 1)
        if replayed:
            log.warning("replayed %d journal records into %s", replayed, data_file.name)
            self.store = store
            self.checkpoint()
        return store

    def checkpoint(self) -> None:
        """Compact the journal into a new snapshot; writes go on while it is written."""
        journal, data_file = self.store.journal, self.data_file
        assert journal is not None and data_file is not None
        with self._checkpoint_lock:
            with self.store.locks.gate.exclusive():  # no write is half done
                image = self.store.image()
                segment = journal.rotate()
            write_snapshot(data_file, image, segment)
            for number, path in segments(data_file):
                if number < segment:
                    path.unlink()

    def _group_commit(self) -> None:
        assert self.store.journal is not None
        while not self._stopped.wait(GROUP_COMMIT_SECONDS):
            try:
                self.store.journal.sync()
            except OSError:
                log.exception("journal sync failed")

    def _compact(self) -> None:
        journal, data_file = self.store.journal, self.data_file
        assert journal is not None and data_file is not None
        while not self._stopped.wait(COMPACT_CHECK_SECONDS):
            try:
                snapshot = data_file.stat().st_size if data_file.exists() else 0
                if journal.size > max(COMPACT_MIN_BYTES, snapshot):
                    self.checkpoint()
            except OSError:  # the journal goes on; the next round tries again
                log.exception("journal compaction failed")

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
                with self.store.locks.gate.shared():
                    self.store.expire(datetime.datetime.now(datetime.UTC))
                    if self.store.journal is not None:
                        self.store.journal.commit()
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
    parser.add_argument(
        "--data-file",
        help="keep the data in this snapshot file and its journal segments beside it",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    serve(args.host, args.port, args.data_file)
    return 0
