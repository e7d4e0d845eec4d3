"""The scored account list as a download (CSV or XLSX), through a signed, expiring link.

A link is `/exports/<token>`: the token names the tenant, the scenario and the format and is
signed with the server's secret (itsdangerous), so it cannot be forged or pointed at another
tenant's scenario, and it is refused after EXPORT_TTL. The file keeps every original column,
then the total, the tier and each criterion's score. A cell that begins with `=`, `+`, `-`,
`@`, a tab or a carriage return is prefixed with `'`, so a spreadsheet shows it as text
instead of running it as a formula (OWASP's CSV injection advice).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import xlsxwriter
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.errors import DomainError, ValidationFailed
from app.models.base import utcnow
from app.models.scoring import AccountScore, ScoringScenario
from app.resolvers import scoring
from app.resolvers.ctx import ResolverCtx, system_ctx
from app.runtime import Services

EXPORT_TTL = timedelta(minutes=15)
SALT = "scoring-export"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PAGE = 5000
READ_BYTES = 1024 * 1024


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class LinkRefused(DomainError):
    """The link is not one this server signed, or it has expired."""

    code = "LINK_REFUSED"


def neutralise(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _signer(services: Services) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(services.settings.jwt_secret.get_secret_value(), salt=SALT)


@dataclass(frozen=True)
class ExportLink:
    path: str
    expires_at: datetime
    format: ExportFormat


async def export_link(ctx: ResolverCtx, scenario_id: str, fmt: ExportFormat) -> ExportLink:
    found = await scoring.scenario(ctx, scenario_id)
    if not await ctx.scope.find(AccountScore, {"scenario_id": found.id}).count():
        raise ValidationFailed.single("scenarioId", "the scenario has no accounts to export")
    token = _signer(ctx.services).dumps({"t": ctx.tenant_id, "s": str(found.id), "f": fmt.value})
    ctx.audit.record("ScoringExport", found.id, after={"format": fmt.value})
    return ExportLink(f"/exports/{token}", utcnow() + EXPORT_TTL, fmt)


@dataclass(frozen=True)
class Download:
    filename: str
    media_type: str
    body: AsyncIterator[bytes]


async def open_link(services: Services, token: str) -> Download:
    """The file a link names; LinkRefused for a forged, altered or expired one."""
    try:
        claims = _signer(services).loads(token, max_age=int(EXPORT_TTL.total_seconds()))
    except SignatureExpired:
        raise LinkRefused("this download link has expired; ask for a new one") from None
    except BadSignature:
        raise LinkRefused("not a download link of this server") from None
    ctx = system_ctx(services, claims["t"])
    found = await scoring.scenario(ctx, claims["s"])
    fmt = ExportFormat(claims["f"])
    rows = _rows(ctx, found)
    body = _csv(rows) if fmt == ExportFormat.CSV else _xlsx(rows)
    name = "".join(c if c.isalnum() else "-" for c in found.name)[:60] or "scenario"
    return Download(f"{name}-scores.{fmt.value}", MEDIA_TYPES[fmt], body)


async def _rows(ctx: ResolverCtx, found: ScoringScenario) -> AsyncIterator[list[Any]]:
    """The header, then each account in file order: its cells (neutralised), its total and
    tier, and its score per criterion."""
    criteria = await scoring.criteria_of(ctx, found.id)
    columns = found.account_list.columns if found.account_list else []
    yield [neutralise(c) for c in [*columns, "total_score", "tier", *(c.name for c in criteria)]]
    last = 0
    while (
        docs := await ctx.scope.find(AccountScore, {"scenario_id": found.id, "row": {"$gt": last}})
        .sort("row")
        .limit(PAGE)
        .to_list()
    ):
        for doc in docs:
            by_criterion = {s.criterion_id: s.score for s in doc.criterion_scores}
            scores = [by_criterion.get(c.id) for c in criteria]  # type: ignore[arg-type]
            yield [*(neutralise(v) for v in doc.values), doc.total_score, doc.tier or "", *scores]
        last = docs[-1].row


def _text(values: Iterable[Any]) -> list[str]:
    return ["" if v is None else str(v) for v in values]


async def _csv(rows: AsyncIterator[list[Any]]) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # the BOM that makes spreadsheets read the file as UTF-8
    async for row in rows:
        writer.writerow(_text(row))
        if buffer.tell() > READ_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


async def _xlsx(rows: AsyncIterator[list[Any]]) -> AsyncIterator[bytes]:
    """Written row by row in constant memory to a temporary file, then streamed."""
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        options = {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
        workbook = xlsxwriter.Workbook(path, options)
        sheet = workbook.add_worksheet("scores")
        index = 0
        async for row in rows:
            for column, value in enumerate(row):
                if isinstance(value, int | float):
                    sheet.write_number(index, column, value)
                elif value is not None:
                    sheet.write_string(index, column, str(value))
            index += 1
        workbook.close()
        with open(path, "rb") as file:  # noqa: ASYNC230 - a local temporary file
            while data := file.read(READ_BYTES):
                yield data
    finally:
        os.unlink(path)
