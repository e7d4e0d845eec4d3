"""Catalog search: names above descriptions, prefixes and typos, highlights, tenancy."""

from __future__ import annotations

import pytest

from app.resolvers.search import match, within
from tests.support import catalog
from tests.support.catalog import own_client, own_fixture, own_scope  # noqa: F401
from tests.support.graphql import GraphQLClient
from tests.support.tenants import sign_up

SEARCH = """query($q: String!) { search(query: $q) { kind title score
  highlights { field snippet } } }"""


@pytest.mark.parametrize(
    ("a", "b", "bound", "expected"),
    [("kitten", "sitting", 3, True), ("kitten", "sitting", 2, False), ("abc", "abc", 0, True)],
)
def test_bounded_levenshtein(a, b, bound, expected):
    assert within(a, b, bound) is expected


def test_exact_beats_prefix_beats_typo():
    assert match("galaxy", "galaxy") > match("gala", "galaxy") > match("galaxi", "galaxy") > 0
    assert match("ab", "xy") == 0


async def test_name_matches_rank_above_description_matches(client: GraphQLClient):
    await catalog.product(client, name="Zephyrine Desk", description="for <b>teams</b>")
    await catalog.product(client, name="Other Desk", description="Works well with Zephyrine")
    hits = (await client.data(SEARCH, {"q": "zephyrine"}))["search"]
    assert [h["title"] for h in hits[:2]] == ["Zephyrine Desk", "Other Desk"]
    assert hits[0]["highlights"][0] == {"field": "name", "snippet": "<mark>Zephyrine</mark> Desk"}
    assert hits[1]["highlights"][0]["field"] == "description"


async def test_prefixes_and_typos_find_plans_segments_and_competitors(client: GraphQLClient):
    product = await catalog.product(
        client,
        competitors=[{"name": "Quillmatic", "description": "rival"}],
    )
    await catalog.plan(client, product["id"], "Quasarbird Premium", 9900)
    await catalog.segment(client, product["id"], "Quasarbird loyalists", filter={})
    prefix = (await client.data(SEARCH, {"q": "quasarb"}))["search"]
    assert {(h["kind"], h["title"]) for h in prefix} == {
        ("PLAN", "Quasarbird Premium"),
        ("SEGMENT", "Quasarbird loyalists"),
    }
    typo = (await client.data(SEARCH, {"q": "quilmatic"}))["search"]
    assert [(h["kind"], h["title"]) for h in typo] == [("COMPETITOR", "Quillmatic")]


async def test_highlights_escape_html(client: GraphQLClient):
    await catalog.product(client, name="Xylobrite", description="<script>xylobrite</script>")
    hits = (await client.data(SEARCH, {"q": "xylobrite"}))["search"]
    snippet = next(h for h in hits[0]["highlights"] if h["field"] == "description")["snippet"]
    assert snippet == "&lt;script&gt;<mark>xylobrite</mark>&lt;/script&gt;"


async def test_another_tenant_finds_nothing_of_ours(client: GraphQLClient, api: str):
    await catalog.product(client, name="Vorticelle Secret")
    other = await sign_up(api, "Searcher")
    assert (await other.client.data(SEARCH, {"q": "vorticelle"}))["search"] == []
    await other.client.close()
