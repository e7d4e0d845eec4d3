"""Reading an uploaded CSV: records across chunk boundaries, and the limits that keep a
hostile file from costing more than one pass over it."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import AsyncIterator

import pytest

from app.resolvers.upload import (
    MAX_COLUMNS,
    MAX_ROW_CHARS,
    TOO_LONG,
    UnreadableFile,
    check_header,
    parse_records,
)


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def parsed(data: bytes, size: int) -> list[list[str]]:
    return [values async for values in parse_records(chunked(data, size))]


def tricky_csv(rows: int, seed: int = 3) -> str:
    """Quoted fields holding separators, quotes and line breaks (\\n, \\r\\n, \\r), blank
    lines between records, non-ASCII text whose bytes a chunk boundary may split."""
    rng = random.Random(seed)
    cells = ["plain", "a,b", 'say ""hi""', "two\nlines", "crlf\r\nend", "é€😀", "", " pad "]
    lines = []
    for _ in range(rows):
        values = [rng.choice(cells) for _ in range(rng.randint(1, 5))]
        lines.append(",".join(f'"{v}"' if any(c in v for c in ',"\r\n') else v for v in values))
        lines.append(rng.choice(["\n", "\r\n", "\n\n", "\n   \n"]))
    return "".join(lines)


@pytest.mark.parametrize("size", [1, 2, 7, 64, 1 << 20])
async def test_records_split_over_chunks_read_as_the_csv_module_reads_the_whole_file(size):
    text = tricky_csv(300)
    expected = [
        values
        for values in csv.reader(io.StringIO(text, newline=""))
        if len(values) > 1 or (values and values[0].strip())
    ]
    assert await parsed(("\ufeff" + text).encode(), size) == expected


async def test_a_quote_left_open_in_megabytes_of_quotes_and_newlines_is_a_row_error():
    hostile = ("external_id,signup_at\n" + '"' + '\n""' * 1_700_000).encode()  # 5 MB
    with pytest.raises(UnreadableFile) as raised:
        await parsed(hostile, 1 << 20)
    assert vars(raised.value.error) == {"row": 2, "column": "", "message": TOO_LONG}


async def test_a_quote_left_open_across_small_chunks_is_the_same_row_error():
    hostile = ("a\n" + "b\n" + '"' + "x\n" * MAX_ROW_CHARS).encode()
    with pytest.raises(UnreadableFile) as raised:
        await parsed(hostile, 4096)
    assert vars(raised.value.error) == {"row": 3, "column": "", "message": TOO_LONG}


async def test_a_closed_record_longer_than_the_limit_is_a_row_error():
    long_row = ",".join(["x" * 1000] * (MAX_ROW_CHARS // 1000 + 1))
    with pytest.raises(UnreadableFile) as raised:
        await parsed(f"a,b\n1,2\n{long_row}\n3,4\n".encode(), 1 << 20)
    assert raised.value.error.row == 3
    assert raised.value.error.message == TOO_LONG


def test_a_header_of_more_than_the_column_limit_is_refused():
    names = [f"c{i}" for i in range(MAX_COLUMNS + 1)]
    with pytest.raises(UnreadableFile) as raised:
        check_header(names, [], lambda name: True)
    assert raised.value.error.message == f"{MAX_COLUMNS + 1} columns; at most {MAX_COLUMNS}"
