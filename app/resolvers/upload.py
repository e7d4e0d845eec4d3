"""CSV uploads for bulk imports: the file is stored in MongoDB chunks (within the tier's
upload limit) so that any worker can stream it back, record by record, to the import run.

The imports (customers, revenue) share this module and app/workflows/csv_import.py; each
brings its own columns and row parser.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Container, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from beanie import PydanticObjectId

from app.errors import ValidationFailed
from app.models import Product, UploadChunk
from app.models.base import TenantScope, parse_id
from app.models.run import OrchestrationRun, WorkflowType
from app.models.upload import CHUNK_BYTES, drop_upload
from app.ratelimit import limits_for
from app.resolvers.ctx import ResolverCtx
from app.resolvers.run import WorkflowSpec, start

MAX_REPORTED_ERRORS = 1000
TEXT_MAX = 200  # characters of a cell
MAX_COLUMNS = 500
# A record with every column at TEXT_MAX fits, with its quotes and separators; csv's own
# field limit (131,072 characters) is higher, so this is the limit a user meets.
MAX_ROW_CHARS = 120_000
TOO_LONG = f"longer than {MAX_ROW_CHARS} characters (is a quote left open?)"


class ImportMode(StrEnum):
    KEEP_VALID = "keep_valid"  # write the valid rows, report the others
    ALL_OR_NOTHING = "all_or_nothing"  # any invalid row rejects the whole file


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based record of the file, the header being row 1
    column: str
    message: str


def validate_import_parameters(parameters: dict[str, Any]) -> None:
    if parameters.get("mode") not in {m.value for m in ImportMode}:
        raise ValidationFailed.single("input.parameters.mode", "keep_valid or all_or_nothing")
    if not parse_id(str(parameters.get("uploadId", ""))):
        raise ValidationFailed.single("input.parameters.uploadId", "must be an upload id")


def import_spec(name: str, description: str) -> WorkflowSpec:
    """The run of a CSV import (its steps: app/workflows/csv_import.py)."""
    return WorkflowSpec(name, WorkflowType.DATA_SYNC, description, validate_import_parameters)


async def start_import(
    ctx: ResolverCtx,
    spec: WorkflowSpec,
    product_id: str,
    read: Callable[[int], Awaitable[bytes]],
    mode: ImportMode,
) -> OrchestrationRun:
    """Store the upload in chunks (within the tier's upload limit), then start the run,
    which drops the upload when it ends (run.release)."""
    product = await ctx.scope.require(Product, product_id)
    upload_id = PydanticObjectId()
    try:
        size = await store(ctx, upload_id, read)
        parameters = {"uploadId": str(upload_id), "mode": mode.value, "bytes": size}
        return await start(ctx, spec, str(product.id), parameters)
    except BaseException:
        await drop_upload(ctx.scope, upload_id)
        raise


async def store(
    ctx: ResolverCtx, upload_id: PydanticObjectId, read: Callable[[int], Awaitable[bytes]]
) -> int:
    limit = limits_for(ctx.principal.tier).max_upload_bytes
    size, index = 0, 0
    while data := await read(CHUNK_BYTES):
        size += len(data)
        if size > limit:
            raise ValidationFailed.single("file", f"larger than the plan's {limit} bytes")
        chunk = UploadChunk(tenant_id=ctx.tenant_id, upload_id=upload_id, index=index, data=data)
        await ctx.scope.insert(chunk)
        index += 1
    if size == 0:
        raise ValidationFailed.single("file", "is empty")
    return size


async def records(scope: TenantScope, upload_id: Any) -> AsyncIterator[list[str]]:
    """The CSV records of an upload, streamed chunk by chunk (one chunk in memory)."""
    async for values in parse_records(chunks(scope, upload_id)):
        yield values


async def chunks(scope: TenantScope, upload_id: Any) -> AsyncIterator[bytes]:
    index = 0
    while chunk := await scope.find(
        UploadChunk, {"upload_id": upload_id, "index": index}
    ).first_or_none():
        yield chunk.data
        index += 1


class UnreadableFile(Exception):
    """The file cannot be read on from this record (its header, or a record that does not
    end): nothing after it can be trusted, so the import is rejected."""

    def __init__(self, row: int, message: str) -> None:
        super().__init__(f"row {row}: {message}")
        self.error = RowError(row, "", message)


async def parse_records(
    data_chunks: AsyncIterator[bytes], encoding: str = "utf-8-sig", delimiter: str = ","
) -> AsyncIterator[list[str]]:
    """CSV records of a byte stream, in one pass of the C parser over each chunk.

    A record that reaches the end of a chunk may go on in the next, so it is parsed again
    with it; it is at most MAX_ROW_CHARS long, so this rereads little, and a quote left open
    ends the file with a row error instead of swallowing the rest of it. Blank lines are
    skipped and not counted as rows."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    splitter = _Splitter(delimiter)
    final = False
    while not final:
        data = await anext(data_chunks, None)
        final = data is None
        for values in splitter.split(decoder.decode(data or b"", final=final), final):
            yield values


class _Splitter:
    """Splits text into records, keeping the last one of a chunk until the next."""

    def __init__(self, delimiter: str = ",") -> None:
        self.delimiter = delimiter
        self.pending = ""
        self.row = 0  # records read so far

    def split(self, chunk: str, final: bool) -> Iterator[list[str]]:
        text, self.pending = self.pending + chunk, ""
        lines = io.StringIO(text, newline="")  # lines split as csv expects, their ends kept
        start = 0
        try:
            for values in csv.reader(lines, delimiter=self.delimiter):
                end = lines.tell()  # a character offset, for StringIO
                if not final and end == len(text):
                    self.pending = text[start:]
                    break
                if end - start > MAX_ROW_CHARS:
                    raise UnreadableFile(self.row + 1, TOO_LONG)
                start = end
                if len(values) > 1 or (values and values[0].strip()):
                    self.row += 1
                    yield values
        except csv.Error as error:
            too_long = lines.tell() - start > MAX_ROW_CHARS
            raise UnreadableFile(self.row + 1, TOO_LONG if too_long else str(error)) from None
        if len(self.pending) > MAX_ROW_CHARS:
            raise UnreadableFile(self.row + 1, TOO_LONG)


def check_header(
    header: list[str], required: Iterable[str], known: Callable[[str], bool]
) -> list[str]:
    """The column names; UnreadableFile for unknown, missing or repeated columns."""
    if len(header) > MAX_COLUMNS:
        raise UnreadableFile(1, f"{len(header)} columns; at most {MAX_COLUMNS}")
    names = [h.strip() for h in header]
    problems = [n for n in names if not known(n)]
    if problems:
        raise UnreadableFile(1, f"unknown columns: {', '.join(problems)}")
    missing = [n for n in required if n not in names]
    if missing:
        raise UnreadableFile(1, f"missing columns: {', '.join(missing)}")
    if len(set(names)) != len(names):
        raise UnreadableFile(1, "a column appears twice")
    return names


def parse_cells(
    names: list[str],
    required: Container[str],
    row: int,
    values: list[str],
    parse: Callable[[str, str], None],
) -> list[RowError]:
    """Calls `parse(column, value)` for each non-empty cell of a record; its ValueErrors,
    values that are too long and empty required cells become row errors."""
    if len(values) != len(names):
        return [RowError(row, "", f"{len(values)} values for {len(names)} columns")]
    errors = []
    for name, raw in zip(names, values, strict=True):
        value = raw.strip()
        try:
            if len(value) > TEXT_MAX:
                raise ValueError(f"at most {TEXT_MAX} characters")
            if value:
                parse(name, value)
            elif name in required:
                raise ValueError("is required")
        except ValueError as error:
            errors.append(RowError(row, name, str(error) or "invalid value"))
    return errors


class Lookup:
    """Documents a file refers to by id or by name; a name shared by two is ambiguous."""

    def __init__(self, docs: list[Any], what: str) -> None:
        self.what = what
        self.by_id = {str(doc.id): doc.id for doc in docs}
        self.by_name: dict[str, list[Any]] = {}
        for doc in docs:
            self.by_name.setdefault(doc.name, []).append(doc.id)

    def __call__(self, reference: str) -> Any:
        """The id `reference` names; ValueError (the row's message) when it names none."""
        if reference in self.by_id:
            return self.by_id[reference]
        matches = self.by_name.get(reference, [])
        if len(matches) > 1:
            raise ValueError(f"{len(matches)} {self.what}s have this name: use the id")
        if not matches:
            raise ValueError(f"not a {self.what} of this product")
        return matches[0]
