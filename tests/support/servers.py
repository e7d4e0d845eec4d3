"""Start and stop the real servers the tests talk to."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pymongo
import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until(check, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise TimeoutError("server did not become ready")
        time.sleep(0.05)


@dataclass
class MongoProcess:
    """The embedded MongoDB-compatible server in its own process, so a test can stop it."""

    port: int
    process: subprocess.Popen[bytes]
    data_file: str | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, port: int | None = None, data_file: str | None = None) -> MongoProcess:
        port = port or free_port()
        cmd = [sys.executable, "-m", "app.embedded", "--host", "127.0.0.1", "--port", str(port)]
        if data_file:
            cmd += ["--data-file", data_file]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        server = cls(port, proc, data_file)
        server.wait_ready()
        return server

    def wait_ready(self) -> None:
        def ping() -> bool:
            with pymongo.MongoClient(self.url, serverSelectionTimeoutMS=500) as client:
                return bool(client.admin.command("ping")["ok"])

        _wait_until(ping)

    def stop(self) -> None:
        """Clean shutdown (SIGTERM), which persists to the data file when one is set."""
        self.process.terminate()
        self.process.wait(timeout=30)

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to save anything."""
        self.process.kill()
        self.process.wait(timeout=30)

    def restart(self) -> None:
        fresh = MongoProcess.start(self.port, self.data_file)
        self.process = fresh.process


@dataclass
class RedisProcess:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls, port: int | None = None) -> RedisProcess:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (make test installs it)")
        port = port or free_port()
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        server = cls(port, proc)
        _wait_until(lambda: redis.Redis(port=port).ping())
        return server

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def restart(self) -> None:
        self.process = RedisProcess.start(self.port).process


@contextlib.contextmanager
def ensure_redis() -> Iterator[str]:
    """Reuse a Redis on the default port, or run one of our own for the session."""
    with contextlib.suppress(redis.ConnectionError):
        if redis.Redis(port=6379, socket_connect_timeout=0.5).ping():
            yield "redis://127.0.0.1:6379/15"
            return
    server = RedisProcess.start()
    try:
        yield server.url
    finally:
        server.stop()


@dataclass
class ApiProcess:
    """`python -m app serve` in its own process, as an operator runs it."""

    url: str
    process: subprocess.Popen[bytes]
    stdout: Any  # a temporary file: what the process printed

    @classmethod
    def start(cls, *args: str, **env: str) -> ApiProcess:
        port = free_port()
        stdout = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", *args],
            env={**os.environ, "PORT": str(port), "LOG_LEVEL": "warning", **env},
            stdout=stdout,
        )
        server = cls(f"http://127.0.0.1:{port}", process, stdout)

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"the API exited with {process.returncode}")
            return httpx.get(f"{server.url}/healthz").status_code == 200

        _wait_until(ready, timeout=120)
        return server

    def output(self) -> str:
        self.stdout.seek(0)
        return str(self.stdout.read().decode())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.stdout.close()
