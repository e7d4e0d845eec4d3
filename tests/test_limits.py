"""Document limits: depth, aliases and expanded fields, checked in time linear in the text."""

from __future__ import annotations

import time
import uuid

from graphql import parse

from app.schema.limits import Limits, limit_errors
from app.schema.schema import build_schema
from app.settings import Settings
from tests.support.graphql import GraphQLClient


def doubling_fragments(levels: int, prefix: str = "F") -> str:
    """Under 1 KB whose expansion selects 2^levels fields: each fragment spreads the one
    before twice. A validator that walks each spread anew takes seconds on it."""
    fragments = [f"fragment {prefix}0 on Me {{ kind }}"] + [
        f"fragment {prefix}{i} on Me {{ ...{prefix}{i - 1} ...{prefix}{i - 1} }}"
        for i in range(1, levels + 1)
    ]
    return f"{{ me {{ ...{prefix}{levels} }} }} " + " ".join(fragments)


async def test_doubling_fragments_are_refused_anonymously_in_well_under_100_ms(
    client: GraphQLClient,
):
    anonymous = client.as_(None)
    timings = []
    for _ in range(3):
        # Fragments renamed on every try, so that no validation cache helps.
        document = doubling_fragments(24, prefix=f"F{uuid.uuid4().hex[:6]}_")
        assert len(document) < 1500
        started = time.perf_counter()
        response = await anonymous.post(document)
        timings.append(time.perf_counter() - started)
        body = response.json()
        assert "data" not in body
        [error] = body["errors"]
        # 2^24 `kind` fields and `me`
        assert f"selects {2**24 + 1} fields once its fragments are expanded" in error["message"]
    # The best of three, so that a busy machine's scheduling does not decide the outcome;
    # before the linear validator each try took seconds.
    assert min(timings) < 0.1, timings


def test_fields_are_counted_once_fragments_are_expanded():
    limits = Limits(max_depth=12, max_aliases=30, max_fields=65)
    assert list(limit_errors(parse(doubling_fragments(6)), limits)) == []  # 64 and `me`
    [error] = limit_errors(parse(doubling_fragments(7)), limits)
    assert error.message.startswith("the document selects 129 fields")


async def test_depth_through_fragments_is_refused(settings: Settings):
    schema = build_schema(settings.model_copy(update={"max_query_depth": 2}))
    document = """{ products { ...Edges } }
        fragment Edges on ProductConnection { edges { ...Node } }
        fragment Node on ProductEdge { node { id } }"""
    result = await schema.execute(document)
    assert result.errors
    assert "'anonymous' exceeds maximum operation depth of 2" in result.errors[0].message


async def test_aliases_are_counted_at_every_spread(client: GraphQLClient):
    spreads = " ".join(["...Aliased"] * 8)
    document = (
        f"{{ me {{ {spreads} }} }} fragment Aliased on Me {{ a: kind b: role c: kind d: role }}"
    )
    body = await client.execute(document)
    assert body["errors"][0]["message"] == "32 aliases found. Allowed: 30"


async def test_fragment_cycle_is_reported_not_followed(client: GraphQLClient):
    document = "{ me { ...A } } fragment A on Me { kind ...B } fragment B on Me { role ...A }"
    body = await client.execute(document)
    assert [e["message"] for e in body["errors"]] == [
        "Cannot spread fragment 'A' within itself via 'B'."
    ]


async def test_a_document_over_the_token_limit_is_refused_every_time(settings: Settings):
    schema = build_schema(settings.model_copy(update={"max_tokens": 100}))
    document = "{ " + " ".join(["__typename"] * 120) + " }"
    for _ in range(2):  # the second time from the document cache
        result = await schema.execute(document)
        assert result.data is None and result.errors
        assert "more than 100 tokens" in result.errors[0].message


async def test_a_cached_invalid_document_reports_its_errors_every_time(client: GraphQLClient):
    for _ in range(2):
        body = await client.execute("{ me { noSuchField } }")
        assert "data" not in body
        assert body["errors"][0]["message"].startswith("Cannot query field 'noSuchField'")
