"""Query matching: mongomock_ng's filter semantics, with the `$type` aliases it lacks."""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Callable
from typing import Any

from bson.code import Code
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.max_key import MaxKey
from bson.min_key import MinKey
from bson.objectid import ObjectId
from bson.regex import Regex
from bson.timestamp import Timestamp
from mongomock_ng import filtering, helpers
from sentinels import NOTHING

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


def key_of(value: Any) -> Any:
    """A hashable stand-in for a BSON value, equal exactly when MongoDB's equality is."""
    if isinstance(value, bool):  # before int: True must not equal 1
        return ("bool", value)
    if isinstance(value, (str, int, ObjectId, datetime.datetime)):
        return value
    if isinstance(value, float):
        return ("nan",) if math.isnan(value) else value
    if isinstance(value, dict):
        return ("doc", tuple((k, key_of(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("arr", tuple(key_of(v) for v in value))
    if isinstance(value, Decimal128):  # numerically equal to ints and doubles
        number = value.to_decimal()
        return ("nan",) if number.is_nan() else number
    try:
        hash(value)
    except TypeError:
        return ("repr", repr(value))
    return value


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


def compile_query(query: dict[str, Any], let: Any = None) -> Callable[[dict[str, Any]], bool]:
    """A predicate for `query`: a fast one for equalities on top-level fields (the common
    unindexed lookup), mongomock_ng's matcher for everything else."""
    wanted = []
    for field, cond in query.items():
        if isinstance(cond, dict) and list(cond) == ["$eq"]:
            cond = cond["$eq"]
        if "." in field or field.startswith("$") or cond is None:
            return lambda doc: matches(query, doc, let)
        if isinstance(cond, (dict, list, Regex, re.Pattern)):
            return lambda doc: matches(query, doc, let)
        wanted.append((field, key_of(cond)))

    def equal(doc: dict[str, Any]) -> bool:
        for field, key in wanted:
            value = doc.get(field, NOTHING)
            if isinstance(value, list):  # an array matches when an element does
                if not any(key_of(v) == key for v in value):
                    return False
            elif value is NOTHING or key_of(value) != key:
                return False
        return True

    return equal


def matches(query: dict[str, Any], doc: dict[str, Any], let: Any = None) -> bool:
    try:
        return bool(_MATCHER.apply(query, doc, user_vars=let))
    except TypeError:
        # An expression made a naive datetime that met an aware one: compare both as naive
        # UTC, the way mongomock_ng's own aggregation $match does.
        patch = helpers.patch_datetime_awareness_in_document
        return bool(_MATCHER.apply(patch(query), patch(doc), user_vars=let))
