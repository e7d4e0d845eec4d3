"""Query matching: mongomock_ng's filter semantics, with the `$type` aliases it lacks."""

from __future__ import annotations

import re
from typing import Any

from bson.code import Code
from bson.int64 import Int64
from bson.max_key import MaxKey
from bson.min_key import MinKey
from bson.regex import Regex
from bson.timestamp import Timestamp
from mongomock_ng import filtering, helpers

from app.embedded.errors import CommandError, not_supported

# BSON type numbers accepted by `$type`, by their string alias.
_TYPE_NUMBERS = {
    1: "double",
    2: "string",
    3: "object",
    4: "array",
    5: "binData",
    6: "undefined",
    7: "objectId",
    8: "bool",
    9: "date",
    10: "null",
    11: "regex",
    13: "javascript",
    14: "symbol",
    15: "javascriptWithScope",
    16: "int",
    17: "timestamp",
    18: "long",
    19: "decimal",
    -1: "minKey",
    127: "maxKey",
}


def _is_int32(v: Any) -> bool:
    return type(v) is int and -(2**31) <= v < 2**31


def _is_int64(v: Any) -> bool:
    return isinstance(v, Int64) or (type(v) is int and not _is_int32(v))


# Types mongomock_ng's `$type` does not know (or gets wrong for Int64).
_EXTRA_TYPES = {
    "null": lambda v: v is None,
    "regex": lambda v: isinstance(v, (Regex, re.Pattern)),
    "javascript": lambda v: isinstance(v, Code),
    "timestamp": lambda v: isinstance(v, Timestamp),
    "minKey": lambda v: isinstance(v, MinKey),
    "maxKey": lambda v: isinstance(v, MaxKey),
    "int": _is_int32,
    "long": _is_int64,
}


def _type_op(doc_value: Any, wanted: Any) -> bool:
    if isinstance(wanted, list):
        return any(_type_op(doc_value, w) for w in wanted)
    if isinstance(wanted, (int, float)) and not isinstance(wanted, bool):
        wanted = _TYPE_NUMBERS.get(int(wanted), wanted)
    check = _EXTRA_TYPES.get(wanted)
    if check is None:
        return bool(filtering._type_op(doc_value, wanted))
    if check(doc_value):
        return True
    return isinstance(doc_value, list) and any(check(v) for v in doc_value)


class _Matcher(filtering._Filterer):
    """mongomock_ng's own matcher class, with a fuller `$type` on our instance only."""

    def __init__(self) -> None:
        super().__init__()
        self._operator_map["$type"] = _type_op


_MATCHER = _Matcher()


def check_query(query: Any) -> None:
    """Reject what MongoDB accepts but this server cannot answer faithfully."""
    if not isinstance(query, dict):
        raise CommandError(14, "the match filter must be an expression in an object")
    for key, value in query.items():
        if key == "$text":
            raise CommandError(27, "text index required for $text query (not supported here)")
        if key == "$where":
            raise not_supported("$where (server-side JavaScript)")
        if key in ("$and", "$or", "$nor") and isinstance(value, list):
            for sub in value:
                check_query(sub)


def matches(query: dict[str, Any], doc: dict[str, Any], let: Any = None) -> bool:
    try:
        return bool(_MATCHER.apply(query, doc, user_vars=let))
    except TypeError:
        # An expression made a naive datetime that met an aware one: compare both as naive
        # UTC, the way mongomock_ng's own aggregation $match does.
        patch = helpers.patch_datetime_awareness_in_document
        return bool(_MATCHER.apply(patch(query), patch(doc), user_vars=let))
