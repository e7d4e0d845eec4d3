"""Account lists (the scoring seed's account_lists and its upload and preview endpoints): a
CSV or XLSX file stored in upload chunks, read to a header and a preview at upload, then
extracted into the scenario's accounts by a run (app/workflows/account_list.py).

What a file is comes from its bytes, checked against its name: an XLSX is a zip archive
(checked for its workbook and for what it unpacks to before any parser sees it); a CSV's
encoding is its BOM (UTF-8, UTF-16), else UTF-16 by its zero bytes, else UTF-8 if it decodes
as such, else Latin-1; its delimiter is sniffed from the first lines among `, ; tab |`.

Memory: a CSV streams one stored chunk (1 MB) at a time and the extraction writes batches
of 5,000 accounts, keeping an 8-byte digest per account id for the duplicate check (about
100 bytes per account with the set's overhead: ~100 MB for 1,000,000 accounts). An XLSX is
read from a temporary file; calamine holds the sheet's cells, bounded by XLSX_MAX_UNPACKED.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import datetime as dt
import hashlib
import os
import tempfile
import zipfile
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Any

from beanie import PydanticObjectId
from python_calamine import CalamineError, CalamineWorkbook

from app.errors import Conflict, ValidationFailed
from app.models.run import OrchestrationRun
from app.models.scoring import AccountList, FileFormat, ScenarioStatus, ScoringScenario
from app.models.upload import drop_upload
from app.resolvers import run as runs
from app.resolvers import scoring
from app.resolvers.ctx import ResolverCtx
from app.resolvers.upload import (
    MAX_COLUMNS,
    MAX_ROW_CHARS,
    TOO_LONG,
    ImportMode,
    RowError,
    UnreadableFile,
    chunks,
    parse_records,
    store,
)

PREVIEW_ROWS = 10
ID_MAX = 255  # the seed's VARCHAR(255) account_id and account_name
SNIFF_CHARS = 64 * 1024
DELIMITERS = ",;\t|"
XLSX_MAX_UNPACKED = 256 * 1024 * 1024
XLSX_MAX_RATIO = 200  # unpacked / packed of any member: beyond it, a zip bomb
XLSX_BATCH = 2000  # rows taken from calamine per trip to its thread
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the pre-2007 .xls format
CSV_NAMES = (".csv", ".txt", ".tsv")
XLSX_NAMES = (".xlsx", ".xlsm")


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed.single("file", message)


def file_format(filename: str, head: bytes) -> FileFormat:
    """The format the name says, if the bytes agree."""
    name = filename.lower()
    zipped = head.startswith(ZIP_MAGIC)
    if name.endswith(XLSX_NAMES):
        if not zipped:
            raise _refuse(f"{filename} is not an XLSX workbook (it is not a zip archive)")
        return FileFormat.XLSX
    if not name.endswith(CSV_NAMES):
        raise _refuse(f"{filename}: a .csv or .xlsx file is needed")
    if zipped:
        raise _refuse(f"{filename} is a zip archive, not CSV text (an XLSX? name it .xlsx)")
    if head.startswith(OLE_MAGIC):
        raise _refuse(f"{filename} is an old binary Excel file, not CSV text; save it as .xlsx")
    return FileFormat.CSV


def csv_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        # UTF-16 without a BOM: ASCII text has a zero byte in every other position.
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if odd > len(head) / 4 and even < odd / 10:
            return "utf-16-le"
        if even > len(head) / 4 and odd < even / 10:
            return "utf-16-be"
        raise _refuse("binary data, not CSV text")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def csv_delimiter(head: bytes, encoding: str) -> str:
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head[: SNIFF_CHARS * 2])
    sample = "\n".join(text[:SNIFF_CHARS].splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:  # one column, or nothing to tell: the CSV default
        return ","


@dataclass(frozen=True)
class Layout:
    format: FileFormat
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None


def layout_of(filename: str, head: bytes, sheet: str | None) -> Layout:
    fmt = file_format(filename, head)
    if fmt == FileFormat.XLSX:
        return Layout(fmt, sheet=sheet)
    if sheet:
        raise ValidationFailed.single("sheet", "only an XLSX workbook has sheets")
    encoding = csv_encoding(head)
    return Layout(fmt, encoding, csv_delimiter(head, encoding))


# --- reading -----------------------------------------------------------------------------


async def records(scope: Any, account_list: AccountList) -> AsyncGenerator[list[str], None]:
    """The file's non-blank records, header first; UnreadableFile where it cannot go on."""
    data = chunks(scope, account_list.file_id)
    if account_list.format == FileFormat.CSV:
        encoding, delimiter = account_list.encoding or "utf-8", account_list.delimiter or ","
        async for values in parse_records(data, encoding, delimiter):
            yield values
        return
    async with _spooled(data) as path:
        async for values in _xlsx_records(path, account_list.sheet):
            yield values


@asynccontextmanager
async def _spooled(data: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """The stored file in a temporary file (calamine reads a whole workbook)."""
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    try:
        with os.fdopen(handle, "wb") as file:
            async for chunk in data:
                file.write(chunk)
        yield path
    finally:
        os.unlink(path)


def check_zip(path: str) -> None:
    """An XLSX workbook that unpacks within bounds, checked on its zip directory."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        raise UnreadableFile(1, "not a readable XLSX workbook (a damaged zip archive)") from None
    if not any(m.filename == "xl/workbook.xml" for m in members):
        raise UnreadableFile(1, "a zip archive without a workbook: not an XLSX file")
    unpacked = sum(m.file_size for m in members)
    bomb = any(m.file_size > XLSX_MAX_RATIO * max(m.compress_size, 1) for m in members)
    if unpacked > XLSX_MAX_UNPACKED or bomb:
        raise UnreadableFile(
            1, f"the workbook unpacks to {unpacked} bytes (a zip bomb?); limit {XLSX_MAX_UNPACKED}"
        )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _xlsx_rows(path: str, sheet: str | None) -> Iterator[list[str]]:
    check_zip(path)
    try:
        workbook = CalamineWorkbook.from_path(path)
        names = workbook.sheet_names
        if sheet is not None and sheet not in names:
            raise UnreadableFile(1, f"no sheet {sheet!r}; the sheets are {', '.join(names)}")
        if not names:
            raise UnreadableFile(1, "the workbook has no sheet")
        rows = workbook.get_sheet_by_name(sheet or names[0]).iter_rows()
    except CalamineError as error:
        raise UnreadableFile(1, f"not a readable XLSX workbook: {error}") from None
    row = 0
    for cells in rows:
        values = [_cell(c) for c in cells]
        while values and not values[-1].strip():  # trailing blank cells of a ragged sheet
            values.pop()
        if not values:
            continue
        row += 1
        if sum(map(len, values)) > MAX_ROW_CHARS:
            raise UnreadableFile(row, TOO_LONG)
        yield values


async def _xlsx_records(path: str, sheet: str | None) -> AsyncIterator[list[str]]:
    rows = await asyncio.to_thread(_xlsx_rows, path, sheet)
    while batch := await asyncio.to_thread(lambda: list(islice(rows, XLSX_BATCH))):
        for values in batch:
            yield values


def header_of(values: list[str]) -> list[str]:
    if len(values) > MAX_COLUMNS:
        raise UnreadableFile(1, f"{len(values)} columns; at most {MAX_COLUMNS}")
    names = [v.strip() for v in values]
    blank = [str(i + 1) for i, n in enumerate(names) if not n]
    if blank:
        raise UnreadableFile(1, f"column {', '.join(blank)} of the header has no name")
    if len(set(names)) != len(names):
        raise UnreadableFile(1, "a column name appears twice in the header")
    return names


async def head_of(scope: Any, account_list: AccountList) -> tuple[list[str], list[list[str]]]:
    """The header and the first PREVIEW_ROWS rows."""
    rows: list[list[str]] = []
    async with aclosing(records(scope, account_list)) as stream:
        async for values in stream:
            rows.append(values)
            if len(rows) > PREVIEW_ROWS:
                break
    if not rows:
        raise UnreadableFile(1, "the file has no header row")
    return header_of(rows[0]), rows[1:]


# --- upload ------------------------------------------------------------------------------


def _columns(found: AccountList, id_column: str, name_column: str) -> None:
    for path, column in (("idColumn", id_column), ("nameColumn", name_column)):
        if column not in found.columns:
            known = ", ".join(found.columns[:20])
            raise ValidationFailed.single(path, f"no column {column!r}; the columns: {known}")


async def upload(
    ctx: ResolverCtx,
    scenario_id: str,
    filename: str,
    read: Callable[[int], Awaitable[bytes]],
    sheet: str | None,
    columns: tuple[str, str] | None = None,
) -> ScoringScenario:
    """Store the file and read its header and preview; a file that cannot be read, or
    without the `columns` (id, name) asked for, is refused and nothing of it is kept."""
    found = await _idle(ctx, scenario_id)
    file_id = PydanticObjectId()
    try:
        size = await store(ctx, file_id, read)
        head = await anext(chunks(ctx.scope, file_id), b"")
        layout = layout_of(filename, head, sheet)
        staged = AccountList(
            file_id=file_id, filename=filename[:ID_MAX], bytes=size, columns=[], **vars(layout)
        )
        try:
            header, preview = await head_of(ctx.scope, staged)
        except UnreadableFile as unreadable:
            raise _refuse(f"{filename}: {unreadable}") from None
        staged = staged.model_copy(update={"columns": header, "preview": preview})
        if columns is not None:
            _columns(staged, *columns)
        updated = await ctx.scope.update(found, {"account_list": staged})
    except BaseException:
        await drop_upload(ctx.scope, file_id)
        raise
    if found.account_list is not None:
        await drop_upload(ctx.scope, found.account_list.file_id)
    ctx.audit.record("ScoringScenario", found.id, found, updated)
    await scoring.announce(ctx, updated, "accountList")
    return updated


async def _idle(ctx: ResolverCtx, scenario_id: str) -> ScoringScenario:
    found = await scoring.open_scenario(ctx, scenario_id)
    if await scoring.busy(ctx, found):
        raise Conflict("the scenario is being processed; wait until its run has ended")
    return found


async def extract(
    ctx: ResolverCtx, scenario_id: str, id_column: str, name_column: str, mode: ImportMode
) -> OrchestrationRun:
    """Choose the id and name columns and start extracting the accounts."""
    found = await _idle(ctx, scenario_id)
    if found.account_list is None:
        raise ValidationFailed.single("scenarioId", "upload an account list first")
    _columns(found.account_list, id_column, name_column)
    parameters = {"scenarioId": str(found.id), "mode": mode.value}
    admitted = await runs.admit(ctx, scoring.ACCOUNT_LIST_RUN, None, parameters)
    run = await runs.launch(ctx, admitted)
    chosen = found.account_list.model_copy(
        update={"id_column": id_column, "name_column": name_column, "extraction_run_id": run.id}
    )
    changes = {"account_list": chosen, "status": ScenarioStatus.PROCESSING, "active_run_id": run.id}
    updated = await ctx.scope.update(found, changes)
    ctx.audit.record("ScoringScenario", found.id, found, updated)
    return run


# --- extraction --------------------------------------------------------------------------


class AccountRows:
    """Turns records into account fields, or row errors (a repeated id is one)."""

    def __init__(self, account_list: AccountList) -> None:
        self.columns = account_list.columns
        self.id_index = self.columns.index(account_list.id_column or "")
        self.name_index = self.columns.index(account_list.name_column or "")
        self.seen: set[bytes] = set()

    def parse(self, row: int, values: list[str]) -> tuple[dict[str, Any] | None, list[RowError]]:
        if len(values) != len(self.columns):
            message = f"{len(values)} values for {len(self.columns)} columns"
            return None, [RowError(row, "", message)]
        account_id, name = values[self.id_index].strip(), values[self.name_index].strip()
        errors = [
            RowError(row, self.columns[index], problem)
            for index, value in ((self.id_index, account_id), (self.name_index, name))
            if (problem := _problem(value))
        ]
        digest = hashlib.blake2b(account_id.encode(), digest_size=8).digest()
        if not errors and digest in self.seen:
            errors.append(RowError(row, self.columns[self.id_index], "repeats an earlier id"))
        if errors:
            return None, errors
        self.seen.add(digest)
        return {"row": row, "account_id": account_id, "account_name": name, "values": values}, []


def _problem(value: str) -> str | None:
    if not value:
        return "is empty"
    if len(value) > ID_MAX:
        return f"longer than {ID_MAX} characters"
    return None
