"""The segment filter language: what is accepted, and hostile input rejected by path."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from bson import ObjectId

from app.errors import ValidationFailed
from app.resolvers.segment_filter import parse_sql_where, validate_filter


def rejected_at(value: object) -> tuple[str, ...]:
    with pytest.raises(ValidationFailed) as caught:
        validate_filter(value)
    return caught.value.issues[0].path


def test_plain_equality_and_operators_are_accepted_and_typed():
    plan = ObjectId()
    got = validate_filter(
        {
            "region": "eu",
            "plan_id": str(plan),
            "signup_at": {"$gte": "2024-01-01T00:00:00Z"},
            "$or": [{"usage": {"$gt": 2.5}}, {"attributes.tier": {"$in": ["gold", 1, None]}}],
            "churned_at": {"$exists": False},
        }
    )
    assert got["plan_id"] == plan
    assert got["signup_at"] == {"$gte": datetime(2024, 1, 1, tzinfo=UTC)}
    assert got["$or"][1] == {"attributes.tier": {"$in": ["gold", 1, None]}}


@pytest.mark.parametrize(
    ("hostile", "path"),
    [
        ({"$where": "sleep(1000)"}, ("input", "filter", "$where")),
        ({"$expr": {"$gt": ["$a", 1]}}, ("input", "filter", "$expr")),
        ({"region": {"$function": {"body": "x"}}}, ("input", "filter", "region", "$function")),
        ({"usage": {"$accumulator": {}}}, ("input", "filter", "usage", "$accumulator")),
        ({"password_hash": "x"}, ("input", "filter", "password_hash")),
        ({"tenant_id": "other"}, ("input", "filter", "tenant_id")),
        ({"attributes.$where": 1}, ("input", "filter", "attributes.$where")),
        ({"attributes.a.b": 1}, ("input", "filter", "attributes.a.b")),
        (
            {"$or": [{"region": {"$ne": {"$gt": ""}}}]},
            ("input", "filter", "$or", "0", "region", "$ne"),
        ),
        ({"monthly_revenue_cents": "100"}, ("input", "filter", "monthly_revenue_cents")),
        ({"region": {"$in": ["x"] * 501}}, ("input", "filter", "region", "$in")),
        ({"region": {"$regex": "a" * 101}}, ("input", "filter", "region", "$regex")),
        ({"region": {"$regex": "a", "$options": "s"}}, ("input", "filter", "region", "$options")),
        ({"$and": []}, ("input", "filter", "$and")),
        ("region = 'eu'", ("input", "filter")),
    ],
)
def test_hostile_filters_are_rejected_naming_the_path(hostile, path):
    assert rejected_at(hostile) == path


def test_nesting_beyond_the_limit_is_rejected():
    deep: dict = {"region": "eu"}
    for _ in range(8):
        deep = {"$and": [deep]}
    assert rejected_at(deep)[:3] == ("input", "filter", "$and")


def test_regex_text_is_matched_literally():
    assert validate_filter({"region": {"$regex": "(a+)+$", "$options": "i"}}) == {
        "region": {"$regex": r"\(a\+\)\+\$", "$options": "i"}
    }


def test_sql_where_translates_to_the_same_filter_language():
    got = parse_sql_where(
        "SELECT * FROM customers WHERE region = 'eu' AND (monthly_revenue_cents > 10000 "
        "OR company_size NOT IN ('smb', 'o''brien')) AND churned_at IS NULL"
    )
    assert got == {
        "$and": [
            {"region": {"$eq": "eu"}},
            {
                "$or": [
                    {"monthly_revenue_cents": {"$gt": 10000}},
                    {"company_size": {"$nin": ["smb", "o'brien"]}},
                ]
            },
            {"churned_at": None},
        ]
    }


@pytest.mark.parametrize(
    "sql",
    [
        "region = 'eu'; DROP TABLE customers",
        "password = 'x'",
        "region = 'eu' OR 1 = 1",
        "region = 'eu' AND",
        "region == 'eu'",
        "sleep(10) = 1",
    ],
)
def test_sql_outside_the_subset_is_rejected(sql):
    with pytest.raises(ValidationFailed) as caught:
        parse_sql_where(sql)
    assert caught.value.issues[0].path[:2] == ("input", "sqlWhere")
