"""Operating the service: health, readiness, metrics, configuration errors, the exported SDL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.cli import export_schema
from app.settings import Settings
from tests.support.graphql import GraphQLClient

ROOT = Path(__file__).resolve().parent.parent


async def test_healthz_answers_while_the_process_is_up(client: GraphQLClient):
    response = await client.http.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_readyz_reports_each_store(client: GraphQLClient):
    response = await client.http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "mongodb": "ok", "eventBus": "ok"}


async def test_metrics_count_graphql_requests_in_prometheus_format(client: GraphQLClient):
    await client.data("{ __typename }")
    response = await client.http.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert 'http_requests_total{path="/graphql",status="200"}' in response.text


def test_committed_schema_matches_the_code():
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == export_schema(Settings()), "run `make schema` and commit schema.graphql"


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )


def test_malformed_setting_stops_start_up_with_one_clear_line():
    result = run_cli("export-schema", PORT="eighty")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("configuration error: PORT:")
    assert "Traceback" not in result.stderr


def test_bad_store_url_names_the_variable():
    result = run_cli("export-schema", MONGODB_URL="postgres://nope")
    assert result.returncode == 2
    assert result.stderr.startswith("configuration error: MONGODB_URL: ")


async def test_introspection_can_be_turned_off_for_production():
    from app.schema.schema import build_schema

    schema = build_schema(Settings(introspection=False))
    result = await schema.execute("{ __schema { queryType { name } } }")
    assert result.errors and "introspection has been disabled" in result.errors[0].message
    assert (await schema.execute("{ __typename }")).data == {"__typename": "Query"}
