"""A report's documents from its written sections, tables and monthly series: charts
(matplotlib, no display), HTML, PDF (WeasyPrint, which needs Pango: Debian's
libpango-1.0-0 and libpangoft2-1.0-0) and CSV. CPU work only, no I/O: callers run it in a
worker thread."""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass
from html import escape
from typing import Any

from matplotlib.figure import Figure  # a bare Figure draws with Agg: no display, no pyplot

STYLE = """
body { font-family: sans-serif; font-size: 10pt; color: #222; }
h1 { font-size: 18pt; margin-bottom: 0; } h2 { font-size: 13pt; margin-top: 18pt; }
.period { color: #666; } table { border-collapse: collapse; margin: 6pt 0; width: 100%; }
th, td { border: 1px solid #ccc; padding: 3pt 5pt; text-align: left; font-size: 9pt; }
th { background: #f0f0f0; } img { max-width: 100%; } .unverified { color: #a00; }
@page { size: A4; margin: 18mm; }
"""


@dataclass(frozen=True)
class Section:
    name: str
    text: str
    findings: list[str]
    tables: list[dict[str, Any]]  # title, columns, rows
    chart: bool  # show the revenue chart under it


@dataclass(frozen=True)
class Document:
    title: str
    period: str
    sections: list[Section]
    monthly: dict[str, list[tuple[str, int]]]  # series name -> (month, cents)


def revenue_chart(monthly: dict[str, list[tuple[str, int]]]) -> bytes:
    """Monthly revenue per plan, as a PNG."""
    figure = Figure(figsize=(7, 3), dpi=110)
    axes = figure.subplots()
    for name, points in sorted(monthly.items()):
        axes.plot([p for p, _ in points], [c / 100 for _, c in points], marker="o", label=name)
    axes.set_title("Monthly revenue by plan")
    axes.set_ylabel("Revenue")
    axes.tick_params(axis="x", labelrotation=45, labelsize=7)
    axes.legend(fontsize=7)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def _table(table: dict[str, Any]) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in table["columns"])
    body = (
        "".join(
            "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>"
            for row in table["rows"]
        )
        or f'<tr><td colspan="{len(table["columns"])}">No data in the period.</td></tr>'
    )
    return f"<h3>{escape(table['title'])}</h3><table><tr>{head}</tr>{body}</table>"


def html(document: Document) -> str:
    chart = ""
    if document.monthly:
        encoded = base64.b64encode(revenue_chart(document.monthly)).decode()
        chart = f'<img alt="Monthly revenue by plan" src="data:image/png;base64,{encoded}">'
    parts = [
        f"<h1>{escape(document.title)}</h1>",
        f'<p class="period">{escape(document.period)}</p>',
    ]
    for section in document.sections:
        parts.append(f"<h2>{escape(section.name)}</h2><p>{escape(section.text)}</p>")
        if section.findings:
            items = "".join(f"<li>{escape(f)}</li>" for f in section.findings)
            parts.append(f"<ul>{items}</ul>")
        if section.chart:
            parts.append(chart)
        parts += [_table(t) for t in section.tables]
    body = "\n".join(parts)
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(document.title)}'
        f"</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def pdf(markup: str) -> bytes:
    from weasyprint import HTML  # loads Pango: only when a PDF is made

    return bytes(HTML(string=markup).write_pdf())


def tables_csv(tables: list[dict[str, Any]]) -> bytes:
    """Every table, one after another, each under a row with its title."""
    out = io.StringIO()
    writer = csv.writer(out)
    for table in tables:
        writer.writerow([table["title"]])
        writer.writerow(table["columns"])
        writer.writerows(table["rows"])
        writer.writerow([])
    return out.getvalue().encode()
