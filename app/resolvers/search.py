"""Search across a tenant's products, competitors, plans and segments, in Python.

MongoDB's `$text` is not available everywhere the platform runs (the embedded server has
none), and a tenant's catalog is small, so documents are scored here:

- text is split into lower-case word tokens; each query token is matched against a field's
  tokens: exact 1.0, prefix (2+ characters) 0.8, a typo 0.5 (Levenshtein distance 1 for
  tokens of 4-7 characters, 2 from 8; computed with an early exit past the bound);
- a field's weight multiplies its best match: names 3, everything else 1; a document's
  score is the sum over query tokens of their best weighted match, so names rank above
  descriptions and documents matching more of the query above those matching less;
- highlights wrap the matched words of each matching field in <mark>…</mark> (the text is
  HTML-escaped first), cut to a window around the first match.
At most SCAN_CAP documents of each kind are read; at most MAX_RESULTS hits are returned.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from enum import StrEnum

from app.errors import ValidationFailed
from app.models import CustomerSegment, PricingPlan, Product
from app.resolvers.ctx import ResolverCtx

SCAN_CAP = 2000
MAX_RESULTS = 50
QUERY_MAX = 200
MAX_TOKENS = 10
NAME_WEIGHT = 3.0
WINDOW = 80
WORD = re.compile(r"[^\W_]+", re.UNICODE)


class HitKind(StrEnum):
    PRODUCT = "product"
    COMPETITOR = "competitor"
    PLAN = "plan"
    SEGMENT = "segment"


@dataclass(frozen=True)
class Highlight:
    field: str
    snippet: str


@dataclass
class Hit:
    kind: HitKind
    id: str  # the document's id; a competitor's is its product's
    title: str
    product_id: str
    score: float = 0.0
    highlights: list[Highlight] = field(default_factory=list)


def within(a: str, b: str, bound: int) -> bool:
    """Levenshtein(a, b) <= bound, stopping as soon as a row exceeds it."""
    if abs(len(a) - len(b)) > bound:
        return False
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > bound:
            return False
        previous = current
    return previous[-1] <= bound


def match(query: str, token: str) -> float:
    if query == token:
        return 1.0
    if len(query) >= 2 and token.startswith(query):
        return 0.8
    bound = 2 if len(query) >= 8 else 1 if len(query) >= 4 else 0
    return 0.5 if bound and within(query, token, bound) else 0.0


def _snippet(text: str, spans: list[tuple[int, int]]) -> str:
    start = max(0, spans[0][0] - WINDOW // 2)
    end = min(len(text), start + WINDOW * 2)
    out, pos = [], start
    for a, b in spans:
        if a < start or b > end:
            continue
        out += [html.escape(text[pos:a]), "<mark>", html.escape(text[a:b]), "</mark>"]
        pos = b
    out.append(html.escape(text[pos:end]))
    return ("…" if start else "") + "".join(out) + ("…" if end < len(text) else "")


def score(hit: Hit, fields: dict[str, str], query: list[str]) -> Hit:
    best: dict[str, float] = {}
    for name, text in fields.items():
        if not text:
            continue
        weight = NAME_WEIGHT if name == "name" else 1.0
        spans = []
        for word in WORD.finditer(text):
            token = word.group().lower()
            for q in query:
                value = match(q, token) * weight
                if value:
                    best[q] = max(best.get(q, 0.0), value)
                    spans.append(word.span())
        if spans:
            hit.highlights.append(Highlight(name, _snippet(text, spans)))
    hit.score = round(sum(best.values()), 4)
    return hit


async def _candidates(ctx: ResolverCtx) -> list[tuple[Hit, dict[str, str]]]:
    out = []
    for product in await ctx.scope.find(Product).limit(SCAN_CAP).to_list():
        pid = str(product.id)
        out.append(
            (
                Hit(HitKind.PRODUCT, pid, product.name, pid),
                {
                    "name": product.name,
                    "description": product.description,
                    "icpDescription": product.icp_description,
                    "featureSummary": product.feature_summary,
                },
            )
        )
        for competitor in product.competitors:
            fields = {"name": competitor.name, "description": competitor.description}
            out.append((Hit(HitKind.COMPETITOR, pid, competitor.name, pid), fields))
    for plan in await ctx.scope.find(PricingPlan).limit(SCAN_CAP).to_list():
        fields = {
            "name": plan.name,
            "description": plan.description,
            "features": ", ".join(plan.features),
        }
        out.append((Hit(HitKind.PLAN, str(plan.id), plan.name, str(plan.product_id)), fields))
    for segment in await ctx.scope.find(CustomerSegment).limit(SCAN_CAP).to_list():
        hit = Hit(HitKind.SEGMENT, str(segment.id), segment.name, str(segment.product_id))
        out.append((hit, {"name": segment.name, "description": segment.description}))
    return out


async def search(ctx: ResolverCtx, text: str, first: int = 20) -> list[Hit]:
    if len(text) > QUERY_MAX:
        raise ValidationFailed.single("query", f"at most {QUERY_MAX} characters")
    if not 1 <= first <= MAX_RESULTS:
        raise ValidationFailed.single("first", f"must be 1 to {MAX_RESULTS}")
    query = list(dict.fromkeys(w.lower() for w in WORD.findall(text)))[:MAX_TOKENS]
    if not query:
        return []
    hits = [score(hit, fields, query) for hit, fields in await _candidates(ctx)]
    ranked = sorted((h for h in hits if h.score > 0), key=lambda h: (-h.score, h.title))
    return ranked[:first]
