"""The offline analyst: the providers' output types built by stated rules from the facts,
so that without a key the platform still gives real, checkable analyses.

Diagnosis signals, each a finding citing its facts (weights: high 2, medium 1, low 0.5):
- measured elasticity whose 95% interval lies inside (-1, 0): demand is inelastic, a higher
  price earns more: underpriced (high); an interval below -1: elastic, overpriced (high);
- the price more than 20% below the competitors' median: underpriced (medium); more than 25%
  above it: overpriced (medium);
- a gross margin under 30%: the price barely covers the unit cost: underpriced (medium);
- monthly churn above 5%: customers leave, the price may exceed the value: overpriced (low).
The verdict is the sign of the weighted sum (at least 1 either way), "well_priced" between,
and "insufficient_data" when there is no elasticity, no competitor price and no margin.

Report section: the section's figures as findings, headline totals (revenue, forecast,
alerts) first, then the rest in the platform's order, at most eight; the text joins them.

Positioning: per plan, its price, its difference from the competitors' median price and that
difference as a share of the median; "below", "level with" (within 5%) or "above" the market.

Recommendation: the option with the largest realistic revenue change whose pessimistic
change is not negative; otherwise keeping the current price.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.ai.citations import Fact, Facts
from app.ai.outputs import (
    CitationDraft,
    DiagnosisDraft,
    FindingDraft,
    RecommendationDraft,
    SectionDraft,
)

# Fact keys the analyst reads; the platform's fact sheets use the same names.
PRICE = "plan.price_cents"
MARGIN = "plan.gross_margin"
CHURN = "plan.monthly_churn"
ELASTICITY = "elasticity.estimate"
ELASTICITY_LOW = "elasticity.lower"
ELASTICITY_HIGH = "elasticity.upper"
MARKET_MEDIAN = "competitors.median_price_cents"
MARKET_GAP = "plan.price_vs_competitor_median"
WEIGHTS = {"high": 2.0, "medium": 1.0, "low": 0.5}
LOW_MARGIN, HIGH_CHURN = 0.30, 0.05
BELOW_MARKET, ABOVE_MARKET = -0.20, 0.25


def cite(facts: Facts, *keys: str) -> list[CitationDraft]:
    return [
        CitationDraft(fact_key=k, quoted_value=facts[k].value, chunk_id=None, quote=None)
        for k in keys
    ]


@dataclass(frozen=True)
class Signal:
    direction: int  # +1 underpriced, -1 overpriced, 0 neutral
    finding: FindingDraft


def _elasticity(facts: Facts) -> Signal | None:
    if not all(k in facts for k in (ELASTICITY, ELASTICITY_LOW, ELASTICITY_HIGH)):
        return None
    e, low, high = (facts[k] for k in (ELASTICITY, ELASTICITY_LOW, ELASTICITY_HIGH))
    interval = f"{e.shown()} (interval {low.shown()} to {high.shown()})"
    keys = (ELASTICITY, ELASTICITY_LOW, ELASTICITY_HIGH)
    if low.value > -1 and high.value < 0:
        text = (
            f"Measured price elasticity {interval} is inelastic: a higher price "
            "loses fewer buyers than it earns, so revenue would rise."
        )
        return Signal(1, FindingDraft(statement=text, severity="high", evidence=cite(facts, *keys)))
    if high.value < -1:
        text = (
            f"Measured price elasticity {interval} is elastic: a lower price would win "
            "more buyers than it gives away."
        )
        return Signal(
            -1, FindingDraft(statement=text, severity="high", evidence=cite(facts, *keys))
        )
    text = f"Measured price elasticity {interval} does not settle the direction of a change."
    return Signal(0, FindingDraft(statement=text, severity="low", evidence=cite(facts, *keys)))


def _market(facts: Facts) -> Signal | None:
    if MARKET_GAP not in facts or MARKET_MEDIAN not in facts:
        return None
    gap, median = facts[MARKET_GAP], facts[MARKET_MEDIAN]
    keys = (MARKET_GAP, MARKET_MEDIAN, PRICE)
    price = facts[PRICE].shown()
    if gap.value < BELOW_MARKET:
        text = f"At {price} the plan is {gap.shown()} against the competitors' median "
        text += f"{median.shown()}."
        return Signal(
            1, FindingDraft(statement=text, severity="medium", evidence=cite(facts, *keys))
        )
    if gap.value > ABOVE_MARKET:
        text = (
            f"At {price} the plan is +{gap.shown()} above the competitors' median {median.shown()}."
        )
        return Signal(
            -1, FindingDraft(statement=text, severity="medium", evidence=cite(facts, *keys))
        )
    text = f"At {price} the plan is within range of the competitors' median {median.shown()}."
    return Signal(0, FindingDraft(statement=text, severity="low", evidence=cite(facts, *keys)))


def _margin(facts: Facts) -> Signal | None:
    if MARGIN not in facts or facts[MARGIN].value >= LOW_MARGIN:
        return None
    text = f"The gross margin is only {facts[MARGIN].shown()}: the price barely covers unit cost."
    return Signal(
        1, FindingDraft(statement=text, severity="medium", evidence=cite(facts, MARGIN, PRICE))
    )


def _churn(facts: Facts) -> Signal | None:
    if CHURN not in facts or facts[CHURN].value <= HIGH_CHURN:
        return None
    text = f"Monthly churn of {facts[CHURN].shown()} suggests customers find less value than price."
    return Signal(-1, FindingDraft(statement=text, severity="low", evidence=cite(facts, CHURN)))


def _documentation(chunks: Mapping[str, str]) -> FindingDraft | None:
    for chunk_id, text in chunks.items():
        sentence = text.strip().split(". ")[0].strip()
        if sentence:
            quote = sentence[:200]
            evidence = [
                CitationDraft(fact_key=None, quoted_value=None, chunk_id=chunk_id, quote=quote)
            ]
            return FindingDraft(
                statement="The product documentation describes what the plan offers (quoted).",
                severity="low",
                evidence=evidence,
            )
    return None


def diagnose(plan_name: str, facts: Facts, chunks: Mapping[str, str]) -> DiagnosisDraft:
    signals = [s for s in (_elasticity(facts), _market(facts), _margin(facts), _churn(facts)) if s]
    score = sum(s.direction * WEIGHTS[s.finding.severity] for s in signals)
    findings = [s.finding for s in signals]
    documentation = _documentation(chunks)
    if documentation is not None:
        findings.append(documentation)
    has_evidence = any(k in facts for k in (ELASTICITY, MARKET_GAP, MARGIN))
    if not has_evidence:
        verdict = "insufficient_data"
    elif score >= 1:
        verdict = "underpriced"
    elif score <= -1:
        verdict = "overpriced"
    else:
        verdict = "well_priced"
    drivers = [s.finding.statement for s in signals if s.direction != 0] or [
        "No signal points to a price change."
    ]
    summary = f"{plan_name}: {verdict.replace('_', ' ')}. {drivers[0]}"
    reasoning = "Offline analyst (stated rules over the platform's numbers, no model): " + " ".join(
        s.finding.statement for s in signals
    )
    return DiagnosisDraft(verdict=verdict, summary=summary, reasoning=reasoning, findings=findings)


@dataclass(frozen=True)
class OptionView:
    """A recommendation option as the analyst sees it (the platform's projection)."""

    id: str
    label: str
    realistic_change_key: str
    pessimistic_change_key: str


def recommend(options: list[OptionView], facts: Facts, keep_id: str) -> RecommendationDraft:
    def change(option: OptionView, key: str) -> Fact:
        return facts[getattr(option, key)]

    safe = [o for o in options if change(o, "pessimistic_change_key").value >= 0]
    best = max(safe, key=lambda o: change(o, "realistic_change_key").value, default=None)
    if best is None or change(best, "realistic_change_key").value <= 0:
        keep = next(o for o in options if o.id == keep_id)
        text = "No option raises revenue even in the pessimistic scenario; keep the price."
        return RecommendationDraft(option_id=keep.id, rationale=text, findings=[])
    realistic, pessimistic = (
        change(best, "realistic_change_key"),
        change(best, "pessimistic_change_key"),
    )
    statement = (
        f"{best.label} changes revenue by {realistic.shown()} in the realistic scenario and "
        f"by {pessimistic.shown()} in the pessimistic one."
    )
    finding = FindingDraft(
        statement=statement,
        severity="high" if pessimistic.value > 0 else "medium",
        evidence=cite(facts, best.realistic_change_key, best.pessimistic_change_key),
    )
    rationale = (
        f"Offline analyst (rules, no model): {best.label} earns the most of the options "
        "that lose nothing in the pessimistic scenario. " + statement
    )
    return RecommendationDraft(option_id=best.id, rationale=rationale, findings=[finding])


HEADLINES = ("revenue.total_cents", "forecast.revenue_cents", "alerts.count")
SECTION_FINDINGS = 8


def report_section(facts: Facts) -> SectionDraft:
    keys = sorted(facts, key=lambda k: not k.endswith(HEADLINES))[:SECTION_FINDINGS]
    findings = [
        FindingDraft(
            statement=f"{facts[k].label[:1].upper()}{facts[k].label[1:]}: {facts[k].shown()}.",
            severity="medium",
            evidence=cite(facts, k),
        )
        for k in keys
    ]
    text = (
        " ".join(f.statement for f in findings) or "The platform has no figures for this section."
    )
    return SectionDraft(
        text=f"Offline analyst (the platform's figures, no model): {text}", findings=findings
    )


LEVEL = 0.05  # a plan within 5% of the competitors' median is level with the market


def positioning(facts: Facts, plan_keys: list[str]) -> SectionDraft:
    """`plan_keys`: each plan's fact prefix, with `.price_cents`, `.difference_cents` and
    `.vs_median` facts beside the competitors' median."""
    median = facts[MARKET_MEDIAN]
    findings = []
    for key in plan_keys:
        price, difference, ratio = (
            facts[f"{key}.{part}"] for part in ("price_cents", "difference_cents", "vs_median")
        )
        if abs(ratio.value) <= LEVEL:
            where = "level with"
        else:
            where = "below" if ratio.value < 0 else "above"
        statement = (
            f"{price.label} is {price.shown()}, {difference.shown()} ({ratio.shown()}) against "
            f"the competitors' median {median.shown()}: {where} the market."
        )
        keys = (f"{key}.price_cents", f"{key}.difference_cents", f"{key}.vs_median")
        evidence = cite(facts, *keys, MARKET_MEDIAN)
        findings.append(FindingDraft(statement=statement, severity="medium", evidence=evidence))
    text = " ".join(f.statement for f in findings) or "The product has no priced plans."
    return SectionDraft(
        text=f"Offline analyst (the platform's prices, no model): {text}", findings=findings
    )
