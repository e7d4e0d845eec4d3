"""Load from wrk (a separate process, so the load generator's Python does not share the
server's interpreter), with the server's CPU time per request read from /proc.

wrk is `apt-get install -y wrk`. Latency percentiles come from wrk's own histogram.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.servers import free_port

# wrk's `done` hook prints one JSON line after its own report.
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
{headers}
done = function(summary, latency, requests)
  io.write(string.format(
    'RESULT {{"requests": %d, "seconds": %f, "errors": %d, "p50": %f, "p99": %f}}\\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Load:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_us: float  # the server's CPU time (its own and its children's) per request

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


def cpu_seconds(pid: int) -> float:
    """User and system time of `pid` and its live children."""
    pids = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(child) for child in (task / "children").read_text().split()]
    total = 0
    for one in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def check(url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    """One request, which must succeed: a load of errors measures nothing."""
    response = httpx.post(f"{url}/graphql", json=body, headers=headers, timeout=60)
    payload: dict[str, Any] = response.json()
    if response.status_code != 200 or payload.get("errors"):
        raise RuntimeError(f"{response.status_code} {payload}")
    return payload


def wrk(
    name: str,
    url: str,
    pid: int,
    body: dict[str, Any],
    headers: dict[str, str],
    seconds: float,
    connections: int,
) -> Load:
    check(url, body, headers)
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk")
    lines = [f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()]
    script = WRK_SCRIPT.format(body=lua_string(json.dumps(body)), headers="\n".join(lines))
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as file:
        file.write(script)
        file.flush()
        duration = f"-d{max(1, round(seconds))}s"
        command = [binary, "-t1", f"-c{connections}", duration, "-s", file.name]
        before = cpu_seconds(pid)
        output = subprocess.run(
            [*command, f"{url}/graphql"], capture_output=True, text=True, check=True
        ).stdout
        used = cpu_seconds(pid) - before
    found = re.search(r"^RESULT (.*)$", output, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    result = json.loads(found.group(1))
    if result["errors"]:
        raise RuntimeError(f"{name}: {result['errors']} failed requests:\n{output}")
    return Load(
        name,
        result["requests"],
        result["seconds"],
        result["p50"],
        result["p99"],
        used / max(result["requests"], 1) * 1e6,
    )


@dataclass
class Process:
    url: str
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.contextmanager
def floor(name: str, *args: str) -> Iterator[Process]:
    """`python -m bench.floor NAME` in its own process."""
    port = free_port()
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.floor", name, "--port", str(port), *args], cwd=root
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"{url}/graphql?query=%7B__typename%7D")
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {name} floor did not start")
            time.sleep(0.1)
        yield Process(url, process)
    finally:
        process.terminate()
        process.wait(timeout=30)


def rows(loads: list[Load], floor: Load) -> list[str]:
    """Markdown rows of `loads`, each with its ratios to `floor`."""
    out = []
    for load in loads:
        out.append(
            f"| {load.name} | {load.rps:,.0f} | {load.p50_ms:.1f} | {load.p99_ms:.1f} | "
            f"{load.cpu_us:,.0f} | {load.rps / floor.rps:.2f}x |"
        )
    return out


HEADER = [
    "| run | req/s | p50 ms | p99 ms | server CPU µs/req | req/s vs floor |",
    "|---|---:|---:|---:|---:|---:|",
]
