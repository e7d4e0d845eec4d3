"""Sending a file with a GraphQL operation, as the multipart request spec says."""

from __future__ import annotations

import json
from typing import Any

from tests.support.graphql import GraphQLClient


async def post_file(
    client: GraphQLClient,
    query: str,
    variables: dict[str, Any],
    content: bytes,
    name: str = "upload.csv",
) -> dict[str, Any]:
    """The operation's data, with `content` as the file part for `variables.file`."""
    operations = {"query": query, "variables": {**variables, "file": None}}
    response = await client.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (name, content, "text/csv")},
        timeout=300,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]
