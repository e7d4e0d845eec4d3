"""`python -m app serve` without MONGODB_URL: the embedded store runs in its own process,
keeps a data file's contents across restarts, and never outlives the API."""

from __future__ import annotations

import os
import select
import uuid
from pathlib import Path

import pytest

from tests.support.graphql import GraphQLClient
from tests.support.servers import ApiProcess
from tests.support.tenants import PASSWORD, sign_up

LOGIN = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
    __typename } }"""


def children(pid: int) -> list[int]:
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def running(pid: int) -> bool:
    """Alive and not a zombie (an adopted child may stay unreaped in a container)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_for_exit(pid: int, timeout: float = 30.0) -> None:
    """Until the process (not this one's child, so no wait()) has exited: its pidfd becomes
    readable then."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # gone already
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    assert readable, f"process {pid} is still running"


@pytest.fixture
def embedded_env(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.delenv("MONGODB_URL", raising=False)  # the subject is the embedded store
    return {
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": f"serve-{uuid.uuid4().hex[:8]}",
        "EMBEDDED_DATA_FILE": str(tmp_path / "store.bson"),
    }


async def test_the_embedded_store_is_a_child_that_dies_with_a_killed_api(embedded_env: dict):
    api = ApiProcess.start(**embedded_env)
    [store] = children(api.process.pid)
    assert "app.embedded.child" in command_line(store)
    signed_up = await sign_up(api.url, "Served")
    await signed_up.client.close()
    api.process.kill()  # no clean-up runs in the API
    api.process.wait()
    api.stdout.close()
    wait_for_exit(store)

    again = ApiProcess.start(**embedded_env)
    try:
        anonymous = GraphQLClient(again.url)
        variables = {"e": signed_up.email, "p": PASSWORD}
        assert (await anonymous.data(LOGIN, variables))["login"]["__typename"] == "AuthPayload"
        await anonymous.close()
    finally:
        again.stop()


async def test_a_stopped_api_stops_its_store(embedded_env: dict):
    api = ApiProcess.start(**embedded_env)
    [store] = children(api.process.pid)
    api.stop()
    assert not running(store)
