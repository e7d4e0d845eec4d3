"""Benchmark reading an uploaded CSV (the import's record splitter) on hostile and plain files.

Times `parse_records` over the file in upload chunks against the floor of the standard
library's csv reader over the same bytes, decoded and in memory at once, measured in the
same run. A linear reader keeps the ratio flat as the file grows.

    .venv/bin/python bench/uploads.py
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this directory leads sys.path, where a sibling module could shadow the
# standard library; the repository root belongs there instead.
ROOT = Path(__file__).resolve().parent.parent
sys.path[:1] = [str(ROOT)]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import csv  # noqa: E402
import io  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
from collections.abc import AsyncIterator, Callable  # noqa: E402

from app.models.upload import CHUNK_BYTES  # noqa: E402
from app.resolvers.upload import UnreadableFile, parse_records  # noqa: E402

HEADER = "external_id,signup_at\n"
SIZES = {"150 KB": 150_000, "400 KB": 400_000, "5 MB": 5_000_000}


def quotes_and_newlines(size: int) -> bytes:
    """Random `"` and newlines: quoted stretches hundreds of lines long, then closed."""
    rng = random.Random(5)
    body = "".join('"' if rng.random() < 0.004 else "\n" for _ in range(size))
    return (HEADER + body).encode()


def open_quote(size: int) -> bytes:
    """One quote opened and never closed: `""` pairs and newlines to the end of the file."""
    return (HEADER + '"' + '\n""' * (size // 3)).encode()


def customer_rows(size: int) -> bytes:
    row = "c{},2024-01-01\n"
    lines = [HEADER]
    total = len(HEADER)
    while total < size:
        lines.append(row.format(len(lines)))
        total += len(lines[-1])
    return "".join(lines).encode()


SHAPES: dict[str, Callable[[int], bytes]] = {
    "quotes and newlines": quotes_and_newlines,
    "one quote left open": open_quote,
    "plain customer rows": customer_rows,
}


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK_BYTES):
        yield data[start : start + CHUNK_BYTES]


async def splitter(data: bytes) -> tuple[int, str]:
    count = 0
    try:
        async for _ in parse_records(chunks(data)):
            count += 1
    except UnreadableFile as error:
        return count, f"row {error.error.row} refused"
    return count, "read"


def floor(data: bytes) -> None:
    try:
        for _ in csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")):
            pass
    except csv.Error:
        pass  # the field limit: stops where the splitter refuses the record


def best_of(repeats: int, function: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("| file | size | records | outcome | splitter ms | csv floor ms | ratio |")
    print("|---|---:|---:|---|---:|---:|---:|")
    for shape, make in SHAPES.items():
        for label, size in SIZES.items():
            data = make(size)
            count, outcome = asyncio.run(splitter(data))
            took = best_of(args.repeats, lambda data=data: asyncio.run(splitter(data)))
            base = best_of(args.repeats, lambda data=data: floor(data))
            print(
                f"| {shape} | {label} | {count:,} | {outcome} | {took * 1000:,.1f} |"
                f" {base * 1000:,.1f} | {took / base:.2f} |"
            )


if __name__ == "__main__":
    main()
