"""Documentation as searchable chunks: text from HTML, Markdown or plain text, chunks with
overlap and their offsets in that text, and exact ranking (BM25, or cosine over embeddings).

BM25 (Robertson and Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond",
2009), with k1 = 1.5, b = 0.75 and the non-negative idf log(1 + (N - df + 0.5) / (df + 0.5)).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

import numpy as np

CHUNK_CHARS = 900
OVERLAP_CHARS = 150
K1, B = 1.5, 0.75
WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "how",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "will",
        "with",
        "you",
        "your",
        "can",
        "do",
        "does",
        "our",
        "we",
    ]
)
BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "table",
        "br",
        "hr",
        "pre",
        "blockquote",
    ]
)
SKIPPED_TAGS = frozenset(["script", "style", "noscript", "template", "svg", "head"])


class _HTMLText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED_TAGS:
            self.skipping += 1
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def tidy(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


MARKDOWN_RULES = (
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images: their alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links: their text
    (re.compile(r"^\s{0,3}#{1,6}\s*", re.M), ""),  # heading marks
    (re.compile(r"(\*\*|__|`)"), ""),  # emphasis and code marks
)


def to_text(body: bytes, content_type: str, name: str = "") -> str:
    """Readable text of a document; HTML by its type or name, Markdown by its name."""
    raw = body.decode("utf-8", errors="replace")
    lowered = name.lower()
    if "html" in content_type or lowered.endswith((".html", ".htm")):
        parser = _HTMLText()
        parser.feed(raw)
        parser.close()
        return tidy("".join(parser.parts))
    if "markdown" in content_type or lowered.endswith((".md", ".markdown")):
        for pattern, replacement in MARKDOWN_RULES:
            raw = pattern.sub(replacement, raw)
    return tidy(raw)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Piece:
    start: int  # offsets into the document's text: text[start:end] is the chunk
    end: int


def chunk(text: str, size: int = CHUNK_CHARS, overlap: int = OVERLAP_CHARS) -> list[Piece]:
    """Windows of about `size` characters, each starting `overlap` characters before the
    previous one ended; ends move back to a whitespace so words are not cut."""
    if overlap >= size:
        raise ValueError("overlap must be smaller than the chunk size")
    pieces: list[Piece] = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            space = text.rfind(" ", start + size // 2, end)
            newline = text.rfind("\n", start + size // 2, end)
            end = max(space, newline) if max(space, newline) > start else end
        pieces.append(Piece(start, end))
        if end >= len(text):
            break
        next_start = max(end - overlap, start + 1)
        while next_start < end and not text[next_start - 1].isspace():
            next_start += 1  # start on a word
        start = next_start
    return pieces


def terms(text: str) -> list[str]:
    words = (w for w in WORD.findall(text.lower()) if w not in STOPWORDS)
    return [_stem(w) for w in words]


def _stem(word: str) -> str:
    """Plural and simple verb endings only: enough for short documentation queries."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def bm25(query: str, documents: Sequence[str]) -> np.ndarray:
    """Scores of each document for the query (0 where no query term occurs)."""
    counts = [Counter(terms(d)) for d in documents]
    if not counts:
        return np.zeros(0)
    lengths = np.array([sum(c.values()) for c in counts], dtype=float)
    average = lengths.mean() or 1.0
    scores = np.zeros(len(counts))
    for term in set(terms(query)):
        tf = np.array([c.get(term, 0) for c in counts], dtype=float)
        df = int((tf > 0).sum())
        if df == 0:
            continue
        idf = np.log(1 + (len(counts) - df + 0.5) / (df + 0.5))
        scores += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * lengths / average))
    return scores


def cosine(query: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Exact cosine similarity of one vector to each row (rows are unit length)."""
    norm = float(np.linalg.norm(query)) or 1.0
    return np.asarray(matrix @ (query / norm))


def top(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the k best scores above zero, best first (ties by position)."""
    order = np.lexsort((np.arange(len(scores)), -scores))
    return [int(i) for i in order[:k] if scores[i] > 0]
