"""Documentation ingestion: the SSRF guard of every outbound fetch, chunks with offsets,
lexical search, re-indexing on a changed content hash, removal of dropped documents, and the
`vectorStoreUpdated` events."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from app.ai.retrieval import chunk
from app.security.outbound import OutboundRefused, checked_address, fetch
from app.settings import Settings
from tests.support.ai import ai_stack
from tests.support.app import serve
from tests.support.fake_openai import FakeOpenAI, running_fake
from tests.support.graphql import GraphQLClient
from tests.support.tenants import sign_up

PAGES: dict[str, str] = {
    "/pricing.md": "# Pricing\n\nThe Team plan is billed per seat each month. "
    "Annual billing saves two months.",
    "/security.html": "<html><head><script>var x = 'single sign-on';</script></head><body>"
    "<h1>Security</h1><p>Enterprise customers get single sign-on (SAML) and audit logs."
    "</p></body></html>",
}
CREATE = """mutation($n: String!, $u: [String!]!) { createProduct(input:
  {name: $n, documentationUrls: $u}) { ... on Product { id revision } } }"""
SYNC = """mutation($p: ID!) { syncDocumentation(productId: $p) { __typename
  ... on DocumentationSync { indexed unchanged failed removed chunks } } }"""
SEARCH = """query($p: ID!, $q: String!) { searchDocs(productId: $p, query: $q) { __typename
  ... on DocSearch { ranker hits { text start end score source { location title } } } } }"""
DOCUMENTS = "query($p: ID!) { documents(productId: $p) { location status error chunks } }"
UPDATE = """mutation($id: ID!, $r: Int!, $u: [String!]!) { updateProduct(input:
  {id: $id, revision: $r, documentationUrls: $u}) { __typename } }"""
UPDATED = """subscription($p: ID!) { vectorStoreUpdated(productId: $p, since: "0") {
  indexed removed chunks } }"""


def guard(*allowed: str) -> Settings:
    return Settings(outbound_allow_hosts=list(allowed), outbound_timeout_seconds=5)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost:8080/docs",
        "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://224.0.0.1/",
    ],
)
async def test_the_guard_refuses_private_loopback_link_local_and_multicast_targets(url: str):
    with pytest.raises(OutboundRefused, match="non-public"):
        await checked_address(url, guard())


async def test_the_guard_refuses_other_schemes_and_allows_an_allow_listed_host():
    with pytest.raises(OutboundRefused, match="only http"):
        await checked_address("file:///etc/passwd", guard())
    host, address = await checked_address("http://127.0.0.1:9/x", guard("127.0.0.1"))
    assert (host, str(address)) == ("127.0.0.1", "127.0.0.1")


@pytest_asyncio.fixture(scope="module")
async def site() -> AsyncIterator[str]:
    async def page(request: Request) -> Response:
        path = request.url.path
        if path.startswith("/redirect"):
            return RedirectResponse(request.query_params["to"], status_code=302)
        if path == "/big":
            return PlainTextResponse("x" * 5000)
        if path.endswith(".html"):
            return HTMLResponse(PAGES[path])
        return PlainTextResponse(PAGES[path])

    async with serve(Starlette(routes=[Route("/{path:path}", page)])) as url:
        yield url


@pytest.mark.parametrize(
    "target", ["http://169.254.169.254/latest/", "http://10.0.0.5/", "http://[::1]:1/"]
)
async def test_a_redirect_to_a_private_address_is_refused(site: str, target: str):
    with pytest.raises(OutboundRefused, match="non-public"):
        await fetch(f"{site}/redirect?to={target}", guard("127.0.0.1"))


async def test_a_body_above_the_size_limit_is_refused(site: str):
    with pytest.raises(OutboundRefused, match="larger than"):
        await fetch(f"{site}/big", guard("127.0.0.1"), max_bytes=1000)


def test_chunks_overlap_cover_the_text_and_start_on_words():
    text = " ".join(f"word{i}" for i in range(600))
    pieces = chunk(text, size=200, overlap=50)
    assert pieces[0].start == 0 and pieces[-1].end == len(text)
    for before, after in itertools.pairwise(pieces):
        assert after.start < before.end  # overlap
        assert text[after.start - 1] == " "


async def test_a_documentation_url_on_a_private_address_is_refused_and_reported(
    client: GraphQLClient, site: str
):
    created = await client.data(CREATE, {"n": f"P {uuid.uuid4()}", "u": [f"{site}/pricing.md"]})
    product_id = created["createProduct"]["id"]

    report = (await client.data(SYNC, {"p": product_id}))["syncDocumentation"]

    assert (report["indexed"], report["failed"], report["chunks"]) == (0, 1, 0)
    [doc] = (await client.data(DOCUMENTS, {"p": product_id}))["documents"]
    assert doc["status"] == "failed" and "non-public" in doc["error"]


@pytest_asyncio.fixture(scope="module")
async def ai_api(mongo_url: str, redis_url: str) -> AsyncIterator[str]:
    async with running_fake(FakeOpenAI()) as fake, ai_stack(mongo_url, redis_url, fake.url) as url:
        yield url


async def test_documentation_is_indexed_searched_reindexed_on_change_and_removed(
    ai_api: str, site: str
):
    signed_up = await sign_up(ai_api, "Docs")
    client = signed_up.client
    urls = [f"{site}/pricing.md", f"{site}/security.html"]
    created = (await client.data(CREATE, {"n": "Docs product", "u": urls}))["createProduct"]
    product_id = created["id"]

    async with client.subscribe(UPDATED, {"p": product_id}) as updates:
        first = (await client.data(SYNC, {"p": product_id}))["syncDocumentation"]
        event = await asyncio.wait_for(updates.next(), 30)
    assert (first["indexed"], first["unchanged"], first["failed"]) == (2, 0, 0)
    assert event["vectorStoreUpdated"]["indexed"] == 2

    found = (await client.data(SEARCH, {"p": product_id, "q": "single sign-on SAML"}))["searchDocs"]
    assert found["ranker"] == "bm25"
    best = found["hits"][0]
    assert best["source"]["location"] == urls[1]
    assert "single sign-on (SAML)" in best["text"] and "var x" not in best["text"]
    assert best["end"] - best["start"] == len(best["text"])

    PAGES["/pricing.md"] += " Seats can be added at any time."
    again = (await client.data(SYNC, {"p": product_id}))["syncDocumentation"]
    assert (again["indexed"], again["unchanged"]) == (1, 1)

    await client.data(UPDATE, {"id": product_id, "r": created["revision"], "u": urls[:1]})
    removed = (await client.data(SYNC, {"p": product_id}))["syncDocumentation"]
    assert removed["removed"] == 1
    left = await client.data(SEARCH, {"p": product_id, "q": "single sign-on SAML"})
    assert all(h["source"]["location"] == urls[0] for h in left["searchDocs"]["hits"])
    await client.close()


async def test_searching_with_an_empty_query_is_a_validation_error(client: GraphQLClient):
    created = await client.data(CREATE, {"n": f"P {uuid.uuid4()}", "u": []})
    result = await client.data(SEARCH, {"p": created["createProduct"]["id"], "q": " "})
    assert result["searchDocs"]["__typename"] == "ValidationError"
