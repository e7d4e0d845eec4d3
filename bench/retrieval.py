"""Retrieval quality of the offline ranker on a small labelled set of product documentation.

Each query names the one passage that answers it. BM25 (app/ai/retrieval.py) is compared
with a plain word-overlap count (no idf, no length normalisation) over the same chunks:
recall at 1 and 3, and mean reciprocal rank. Run: `.venv/bin/python bench/retrieval.py`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np

from app.ai.retrieval import bm25, terms, top

PASSAGES = {
    "seats": "The Team plan is billed per seat each month. Adding a seat is prorated to the day.",
    "annual": "Annual billing is charged up front and saves the price of two months.",
    "sso": "Enterprise customers get single sign-on with SAML and SCIM user provisioning.",
    "audit": "Audit logs record every change to a workspace and are kept for one year.",
    "api": "The API allows 600 requests a minute on Pro and 6000 on Enterprise.",
    "storage": "Each workspace stores up to 100 GB; extra storage is billed per GB per month.",
    "support": "Pro includes priority support by e-mail with a reply within one business day.",
    "uptime": "Enterprise plans carry an uptime commitment of 99.9% with service credits.",
    "trial": "A free trial lasts fourteen days and needs no credit card.",
    "refund": "Monthly plans can be cancelled at any time; annual plans are refunded pro rata.",
    "export": "Dashboards export to PDF and CSV; scheduled exports arrive by e-mail.",
    "regions": "Data is hosted in the EU or the US, chosen when the workspace is created.",
}
QUERIES = {
    "how much does one more seat cost": "seats",
    "discount for paying yearly": "annual",
    "SAML login": "sso",
    "who changed what in the workspace": "audit",
    "rate limit of the API": "api",
    "how much storage is included": "storage",
    "how fast does support answer": "support",
    "availability guarantee": "uptime",
    "trial without a credit card": "trial",
    "cancel and get money back": "refund",
    "export a dashboard to pdf": "export",
    "where is my data stored": "regions",
    "user provisioning with SCIM": "sso",
    "service credits when down": "uptime",
}


def overlap(query: str, documents: list[str]) -> np.ndarray:
    wanted = set(terms(query))
    return np.array([sum(Counter(terms(d))[t] for t in wanted) for d in documents], dtype=float)


def evaluate(ranker: Callable[[str, list[str]], np.ndarray]) -> tuple[float, float, float]:
    names, texts = list(PASSAGES), list(PASSAGES.values())
    hits1 = hits3 = 0
    reciprocal = []
    for query, answer in QUERIES.items():
        ranked = [names[i] for i in top(ranker(query, texts), len(texts))]
        hits1 += ranked[:1] == [answer]
        hits3 += answer in ranked[:3]
        reciprocal.append(1 / (ranked.index(answer) + 1) if answer in ranked else 0.0)
    n = len(QUERIES)
    return hits1 / n, hits3 / n, float(np.mean(reciprocal))


def main() -> None:
    print(f"{len(PASSAGES)} passages, {len(QUERIES)} labelled queries")
    print("| ranker | recall@1 | recall@3 | MRR |")
    print("|---|---:|---:|---:|")
    for name, ranker in (("BM25", bm25), ("word overlap", overlap)):
        r1, r3, mrr = evaluate(ranker)
        print(f"| {name} | {r1:.2f} | {r3:.2f} | {mrr:.2f} |")


if __name__ == "__main__":
    main()
