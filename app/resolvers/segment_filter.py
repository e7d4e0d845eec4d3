"""The segment filter language: a safe subset of MongoDB query operators, and SQL WHERE.

A segment's filter is stored and run as a MongoDB query over customer records, so whatever
a user sends must be unable to run code or reach fields outside the customer's data:

- fields: `region`, `company_size`, `external_id` (strings), `plan_id` (an id),
  `monthly_revenue_cents` (integer), `usage` (number), `signup_at`, `churned_at` (ISO 8601
  date-times) and `attributes.<key>` (`key` matches `[A-Za-z_][A-Za-z0-9_]{0,63}`);
- operators: `$eq $ne $gt $gte $lt $lte $in $nin $not $exists` on a field, `$and $or $nor` over
  sub-filters, and `$regex`, which matches its text literally (escaped; `$options: "i"`
  for case-insensitive), at most 100 characters;
- `{field: value}` is `{field: {$eq: value}}`; at most 6 levels of nesting, 200 conditions,
  500 values per `$in`/`$nin`.

Everything else (`$where`, `$function`, `$expr`, `$accumulator`, unknown fields, wrong value
types) is rejected with a `ValidationFailed` naming the path of the offending part.

`parse_sql_where` translates a small SQL WHERE subset into the same filter:
`region = 'eu' AND (monthly_revenue_cents > 10000 OR company_size IN ('mid', 'enterprise'))`,
with `= != <> < <= > >=`, `[NOT] IN (...)`, `IS [NOT] NULL`, `NOT`, parentheses,
'quoted strings', numbers, TRUE/FALSE; an optional `SELECT * FROM customers WHERE` prefix.
Each parenthesis and each NOT is a level of nesting, within the same 6 levels.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

from app.errors import FieldIssue, ValidationFailed

MAX_DEPTH = 6
MAX_CONDITIONS = 200
MAX_LIST = 500
MAX_REGEX = 100
MAX_SQL = 4000
ATTRIBUTE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
COMPARISONS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")
Path = tuple[str, ...]


def _string(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer")
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return value


def _datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 date-time string") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _object_id(value: Any) -> Any:
    if isinstance(value, ObjectId):
        return value
    if isinstance(value, str) and ObjectId.is_valid(value):
        return ObjectId(value)
    raise ValueError("must be a plan id")


def _attribute(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise ValueError("must be a string, number, boolean or null")


FIELDS: dict[str, Callable[[Any], Any]] = {
    "region": _string,
    "company_size": _string,
    "external_id": _string,
    "plan_id": _object_id,
    "monthly_revenue_cents": _integer,
    "usage": _number,
    "signup_at": _datetime,
    "churned_at": _datetime,
}


class _Checker:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.conditions = 0

    def fail(self, path: Path, message: str) -> ValidationFailed:
        full = self.root + path
        return ValidationFailed([FieldIssue(full, message)], f"{'.'.join(full)}: {message}")

    def filter(self, value: Any, path: Path, depth: int) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise self.fail(path, f"nested more than {MAX_DEPTH} levels")
        if not isinstance(value, dict):
            raise self.fail(path, "must be an object of conditions")
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise self.fail(path, "keys must be strings")
            if key in ("$and", "$or", "$nor"):
                out[key] = self.branches(item, (*path, key), depth)
            elif key.startswith("$"):
                raise self.fail((*path, key), "operator not allowed here")
            else:
                out[key] = self.field(key, item, (*path, key), depth)
        return out

    def branches(self, value: Any, path: Path, depth: int) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not value:
            raise self.fail(path, "must be a non-empty list of filters")
        return [self.filter(item, (*path, str(i)), depth + 1) for i, item in enumerate(value)]

    def coerce_for(self, name: str, path: Path) -> Callable[[Any], Any]:
        if name in FIELDS:
            return FIELDS[name]
        prefix, _, key = name.partition(".")
        if prefix == "attributes" and ATTRIBUTE_KEY.fullmatch(key):
            return _attribute
        raise self.fail(path, f"unknown field {name!r}")

    def field(self, name: str, value: Any, path: Path, depth: int) -> Any:
        coerce = self.coerce_for(name, path)
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise self.fail(path, f"more than {MAX_CONDITIONS} conditions")
        if not isinstance(value, dict):
            return self.scalar(coerce, value, path)
        return self.operators(coerce, value, path, depth)

    def scalar(self, coerce: Callable[[Any], Any], value: Any, path: Path) -> Any:
        if value is None:
            return None  # matches a missing or null field, as in MongoDB
        try:
            return coerce(value)
        except ValueError as error:
            raise self.fail(path, str(error)) from None

    def operators(
        self, coerce: Callable[[Any], Any], ops: dict[str, Any], path: Path, depth: int
    ) -> dict[str, Any]:
        if depth + 1 > MAX_DEPTH:
            raise self.fail(path, f"nested more than {MAX_DEPTH} levels")
        if not ops:
            raise self.fail(path, "needs at least one operator")
        out: dict[str, Any] = {}
        for op, arg in ops.items():
            where = (*path, str(op))
            if op in COMPARISONS:
                out[op] = self.scalar(coerce, arg, where)
            elif op in ("$in", "$nin"):
                out[op] = self.values(coerce, arg, where)
            elif op == "$exists":
                if not isinstance(arg, bool):
                    raise self.fail(where, "must be true or false")
                out[op] = arg
            elif op == "$not":
                if not isinstance(arg, dict):
                    raise self.fail(where, "must be an object of operators")
                out[op] = self.operators(coerce, arg, where, depth + 1)
            elif op == "$regex":
                out.update(self.regex(arg, ops.get("$options"), where))
            elif op != "$options" or "$regex" not in ops:
                raise self.fail(where, "operator not allowed")
        return out

    def values(self, coerce: Callable[[Any], Any], arg: Any, path: Path) -> list[Any]:
        if not isinstance(arg, list):
            raise self.fail(path, "must be a list")
        if len(arg) > MAX_LIST:
            raise self.fail(path, f"at most {MAX_LIST} values")
        return [self.scalar(coerce, item, (*path, str(i))) for i, item in enumerate(arg)]

    def regex(self, arg: Any, options: Any, path: Path) -> dict[str, Any]:
        if not isinstance(arg, str) or len(arg) > MAX_REGEX:
            raise self.fail(path, f"must be a text of at most {MAX_REGEX} characters")
        if options not in (None, "", "i"):
            raise self.fail((*path[:-1], "$options"), 'only "i" is allowed')
        # Matched literally: no user-controlled pattern syntax, so no catastrophic backtracking.
        out: dict[str, Any] = {"$regex": re.escape(arg)}
        if options:
            out["$options"] = "i"
        return out


def validate_filter(value: Any, root: Path = ("input", "filter")) -> dict[str, Any]:
    """The filter, normalised (dates and ids typed), or ValidationFailed naming the path."""
    return _Checker(root).filter(value, (), 1)


# --- SQL WHERE subset ---------------------------------------------------------------------

TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')|(?P<op><=|>=|<>|!=|=|<|>)"
    r"|(?P<punct>[(),*])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)
SQL_OPS = {"=": "$eq", "!=": "$ne", "<>": "$ne", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
PREFIX = re.compile(r"^\s*SELECT\s+\*\s+FROM\s+customers\s+WHERE\s+", re.IGNORECASE)


def _tokens(text: str, root: Path) -> list[tuple[str, str]]:
    out, pos, text = [], 0, text.rstrip().rstrip(";")
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ValidationFailed.single(".".join(root), f"cannot read the text at {pos + 1}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Sql:
    def __init__(self, tokens: list[tuple[str, str]], root: Path) -> None:
        self.tokens, self.pos, self.root = tokens, 0, root

    def fail(self, message: str) -> ValidationFailed:
        return ValidationFailed.single(".".join(self.root), message)

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.pos += 1
        return token

    def keyword(self, *words: str) -> bool:
        kind, text = self.peek()
        if kind == "word" and text.upper() in words:
            self.pos += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if self.take()[1] != text:
            raise self.fail(f"expected {text!r}")

    def parse(self) -> dict[str, Any]:
        result = self.disjunction(0)
        if self.peek()[0] != "end":
            raise self.fail(f"unexpected {self.peek()[1]!r}")
        return result

    def disjunction(self, depth: int) -> dict[str, Any]:
        parts = [self.conjunction(depth)]
        while self.keyword("OR"):
            parts.append(self.conjunction(depth))
        return parts[0] if len(parts) == 1 else {"$or": parts}

    def conjunction(self, depth: int) -> dict[str, Any]:
        parts = [self.negation(depth)]
        while self.keyword("AND"):
            parts.append(self.negation(depth))
        return parts[0] if len(parts) == 1 else {"$and": parts}

    def negation(self, depth: int) -> dict[str, Any]:
        # Every nesting (parentheses, NOT) passes here: the limit keeps recursion shallow.
        if depth > MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} levels")
        if self.keyword("NOT"):
            inner = self.negation(depth + 1)
            return {"$nor": [inner]}
        if self.peek()[1] == "(":
            self.take()
            inner = self.disjunction(depth + 1)
            self.expect(")")
            return inner
        return self.comparison()

    def literal(self) -> Any:
        kind, text = self.take()
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "word" and text.upper() in ("TRUE", "FALSE"):
            return text.upper() == "TRUE"
        raise self.fail(f"expected a value, found {text!r}")

    def comparison(self) -> dict[str, Any]:
        kind, name = self.take()
        if kind != "word":
            raise self.fail(f"expected a column name, found {name!r}")
        if self.keyword("IS"):
            negated = self.keyword("NOT")
            if not self.keyword("NULL"):
                raise self.fail("expected NULL after IS")
            return {name: {"$ne": None} if negated else None}
        negated = self.keyword("NOT")
        if self.keyword("IN"):
            self.expect("(")
            values = [self.literal()]
            while self.peek()[1] == ",":
                self.take()
                values.append(self.literal())
            self.expect(")")
            return {name: {"$nin" if negated else "$in": values}}
        if negated:
            raise self.fail("expected IN after NOT")
        kind, op = self.take()
        if kind != "op":
            raise self.fail(f"expected a comparison after {name}")
        return {name: {SQL_OPS[op]: self.literal()}}


def parse_sql_where(text: str, root: Path = ("input", "sqlWhere")) -> dict[str, Any]:
    """The filter a SQL WHERE clause means, validated like any filter."""
    if len(text) > MAX_SQL:
        raise ValidationFailed.single(".".join(root), f"at most {MAX_SQL} characters")
    tokens = _tokens(PREFIX.sub("", text), root)
    if not tokens:
        raise ValidationFailed.single(".".join(root), "must not be empty")
    return validate_filter(_Sql(tokens, root).parse(), root)
