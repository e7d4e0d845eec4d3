"""Value semantics and query matching.

BSON equality (`key_of`) and ordering (`sort_value`) as hashable/comparable Python values,
mongomock_ng's filter semantics with the `$type` aliases it lacks, and a compiled fast path
for the simple filters that dominate scans.
"""

from __future__ import annotations

import datetime
import math
import operator
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
from bson.tz_util import utc
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


def type_name(value: Any) -> str:
    """The BSON type's name, as `$type` and MongoDB's messages spell it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if _is_int32(value):
        return "int"
    if _is_int64(value):
        return "long"
    names = (
        (float, "double"), (str, "string"), (dict, "object"), (list, "array"),
        (bytes, "binData"), (ObjectId, "objectId"), (datetime.datetime, "date"),
        ((Regex, re.Pattern), "regex"), (Code, "javascript"), (Timestamp, "timestamp"),
        (Decimal128, "decimal"), (MinKey, "minKey"), (MaxKey, "maxKey"),
    )  # fmt: skip
    return next((name for kind, name in names if isinstance(value, kind)), "unknown")


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


def sort_value(value: Any) -> tuple[Any, ...]:
    """A natively comparable key that orders values as BSON comparison does."""
    if value is None or value is NOTHING:
        return (5,)
    if isinstance(value, bool):
        return (40, value)
    if isinstance(value, (int, float)):
        return (9,) if isinstance(value, float) and math.isnan(value) else (10, value)
    if isinstance(value, str):
        return (15, value)
    if isinstance(value, ObjectId):
        return (35, value.binary)
    if isinstance(value, datetime.datetime):
        return (45, value if value.tzinfo else value.replace(tzinfo=utc))
    if isinstance(value, Decimal128):
        number = value.to_decimal()
        return (9,) if number.is_nan() else (10, number)
    if isinstance(value, bytes):
        return (30, len(value), bytes(value))
    if isinstance(value, Timestamp):
        return (47, value.time, value.inc)
    if isinstance(value, (MinKey, MaxKey)):
        return (0,) if isinstance(value, MinKey) else (127,)
    rank = 20 if isinstance(value, dict) else 25 if isinstance(value, list) else 50
    return (rank, filtering.BsonComparable(value))


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


Test = Callable[[Any], bool]  # a condition on one field's value (NOTHING when missing)
_RANGE_OPS = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}


def _scalar(value: Any) -> bool:
    """A value whose equality and order the fast path handles exactly like MongoDB."""
    if isinstance(value, float) and math.isnan(value):
        return False
    return isinstance(value, (str, int, float, ObjectId, datetime.datetime, Decimal128))


def _any(value: Any, test: Test) -> bool:
    """Query semantics: an array satisfies a condition when one of its elements does."""
    if isinstance(value, list):
        return any(test(v) for v in value)
    return value is not NOTHING and test(value)


def _op_test(op: str, arg: Any) -> Test | None:
    if op == "$exists":
        return lambda v: (v is not NOTHING) == bool(arg)
    if op in ("$in", "$nin"):
        if not isinstance(arg, list) or not all(map(_scalar, arg)):
            return None
        keys = {key_of(a) for a in arg}
        found: Test = lambda v: _any(v, lambda x: key_of(x) in keys)  # noqa: E731
        return found if op == "$in" else lambda v: not found(v)
    if not _scalar(arg):
        return None
    if op in ("$eq", "$ne"):
        key = key_of(arg)

        def equal(v: Any) -> bool:  # the hot path of unindexed lookups: kept flat
            if isinstance(v, list):
                return any(key_of(x) == key for x in v)
            return v is not NOTHING and key_of(v) == key

        return equal if op == "$eq" else lambda v: not equal(v)
    compare, bound = _RANGE_OPS.get(op), sort_value(arg)
    if compare is None:
        return None
    # Type bracketing: only values of the same BSON type class compare.
    return lambda v: _any(v, lambda x: (k := sort_value(x))[0] == bound[0] and compare(k, bound))


def _field_test(cond: Any) -> Test | None:
    if not (isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond)):
        return _op_test("$eq", cond)
    tests = [_op_test(op, arg) for op, arg in cond.items()]
    if any(t is None for t in tests):
        return None
    if len(tests) == 1:
        return tests[0]
    return lambda v: all(t(v) for t in tests)  # type: ignore[misc]


def compile_query(query: dict[str, Any], let: Any = None) -> Callable[[dict[str, Any]], bool]:
    """A predicate for `query`. Comparisons of top-level fields with plain values (the
    usual unindexed lookups and ranges) get a fast path; the rest goes to mongomock_ng."""
    tests = []
    for field, cond in query.items():
        test = None if "." in field or field.startswith("$") else _field_test(cond)
        if test is None:
            return lambda doc: matches(query, doc, let)
        tests.append((field, test))
    if len(tests) == 1:
        [(field, test)] = tests
        return lambda doc: test(doc.get(field, NOTHING))
    return lambda doc: all(test(doc.get(field, NOTHING)) for field, test in tests)


def matches(query: dict[str, Any], doc: dict[str, Any], let: Any = None) -> bool:
    try:
        return bool(_MATCHER.apply(query, doc, user_vars=let))
    except TypeError:
        # An expression made a naive datetime that met an aware one: compare both as naive
        # UTC, the way mongomock_ng's own aggregation $match does.
        patch = helpers.patch_datetime_awareness_in_document
        return bool(_MATCHER.apply(patch(query), patch(doc), user_vars=let))
