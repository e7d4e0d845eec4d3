"""Willingness-to-pay surveys through the API: created from JSON or a CSV file, analysed
with the survey plan's unit cost, and bad input refused with nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

from app.models import TenantScope, WtpSurvey
from tests.support import catalog
from tests.support.catalog import own_client, own_fixture, own_scope  # noqa: F401
from tests.support.graphql import GraphQLClient
from tests.support.uploads import post_file

POINT = "{ priceCents value }"
SURVEY = (
    "{ id name respondents productId segmentId planId intentCalibration "
    "vanWestendorp { respondents excluded pointOfMarginalCheapnessCents "
    "pointOfMarginalExpensivenessCents optimalPriceCents indifferencePriceCents "
    f"tooCheap {POINT} notCheap {POINT} "
    "newtonMillerSmith { respondents trialOptimalPriceCents trialAtOptimum "
    f"revenueOptimalPriceCents revenueAtOptimumCents trial {POINT} }} }} "
    "gaborGranger { respondents excluded unitCostCents revenueOptimalPriceCents "
    f"profitOptimalPriceCents demand {POINT} profit {{ priceCents valueCents }} }} }}"
)
RESULT = (
    "{ __typename ... on WtpSurvey " + SURVEY + " ... on ValidationError { message "
    "fields { path message } } ... on Error { message } }"
)
CREATE = "mutation($input: CreateWtpSurveyInput!) { createWtpSurvey(input: $input) " + RESULT + " }"
IMPORT = (
    "mutation($p: ID!, $s: ID!, $plan: ID, $file: Upload!) { importWtpSurvey(productId: $p, "
    "segmentId: $s, planId: $plan, file: $file) " + RESULT + " }"
)
LIST = """query($p: ID, $s: ID) { wtpSurveys(productId: $p, segmentId: $s) {
  totalCount nodes { id name } } }"""
ONE = "query($id: ID!) { wtpSurvey(id: $id) " + SURVEY + " }"

LADDER = [(1000, 5), (2000, 4), (3000, 3), (4000, 2)]
RISING = [(1000, 2), (2000, 4)]  # intent rises with price: inconsistent
PSM = [(1000, 2000, 3000, 4000), (2000, 3000, 4000, 5000)]
CSV = (
    "too_cheap_cents,cheap_cents,expensive_cents,too_expensive_cents,intent_at_cheap,"
    "intent_at_expensive,intent_at_1000,intent_at_2000,intent_at_3000,intent_at_4000\n"
    "1000,2000,3000,4000,5,3,5,4,3,2\n"
    "2000,3000,4000,5000,5,3,5,4,3,2\n"
    ",,,,,,2,4,,\n"
)


def responses() -> list[dict[str, Any]]:
    ladder = [{"priceCents": p, "intent": i} for p, i in LADDER]
    psm = [
        {
            "tooCheapCents": a,
            "cheapCents": b,
            "expensiveCents": c,
            "tooExpensiveCents": d,
            "intentAtCheap": 5,
            "intentAtExpensive": 3,
            "ladder": ladder,
        }
        for a, b, c, d in PSM
    ]
    return [*psm, {"ladder": [{"priceCents": p, "intent": i} for p, i in RISING]}]


async def owners(client: GraphQLClient) -> dict[str, str]:
    product = await catalog.product(client)
    segment = await catalog.segment(client, product["id"], "Small teams")
    plan = await catalog.plan(client, product["id"], "Team", 2900, unitCostCents=1500)
    return {"productId": product["id"], "segmentId": segment["id"], "planId": plan["id"]}


def assert_worked_example(survey: dict[str, Any]) -> None:
    """Two consistent PSM respondents answering 10/20/30/40 and 20/30/40/50 dollars: the
    curves (an answer at the price counting half) meet at the mean respondent's midpoints:
    PMC 20, OPP 30, IPP 30, PME 40. Intents 5 and 3 (0.7 and 0.3) give trial 0, .35, .5,
    .15, 0 at 10..50 dollars: trial and revenue (3000 x 0.5 = 1500 cents) both peak at 30.
    The ladder (intents 5, 4, 3, 2 at 10..40) gives demand .7 .5 .3 .1, revenue optimum 20
    and, at the plan's unit cost of 15, profit optimum 30; the third respondent's intent
    rises with price and is left out."""
    assert survey["respondents"] == 3
    psm = survey["vanWestendorp"]
    assert (psm["respondents"], psm["excluded"]) == (2, 0)
    assert psm["pointOfMarginalCheapnessCents"] == 2000
    assert psm["optimalPriceCents"] == 3000
    assert psm["indifferencePriceCents"] == 3000
    assert psm["pointOfMarginalExpensivenessCents"] == 4000
    assert psm["tooCheap"][0] == {"priceCents": 1000, "value": 0.75}
    nms = psm["newtonMillerSmith"]
    assert (nms["trialOptimalPriceCents"], nms["trialAtOptimum"]) == (3000, 0.5)
    assert (nms["revenueOptimalPriceCents"], nms["revenueAtOptimumCents"]) == (3000, 1500)
    assert [p["value"] for p in nms["trial"]] == pytest.approx([0.0, 0.35, 0.5, 0.15, 0.0])
    gg = survey["gaborGranger"]
    assert (gg["respondents"], gg["excluded"], gg["unitCostCents"]) == (3, 1, 1500)
    assert [p["value"] for p in gg["demand"]] == pytest.approx([0.7, 0.5, 0.3, 0.1])
    assert (gg["revenueOptimalPriceCents"], gg["profitOptimalPriceCents"]) == (2000, 3000)
    assert [p["valueCents"] for p in gg["profit"]] == [-350, 250, 450, 250]


async def test_a_survey_from_json_responses_gives_the_worked_example(client: GraphQLClient):
    ids = await owners(client)
    made = await client.data(CREATE, {"input": {**ids, "responses": responses()}})
    survey = made["createWtpSurvey"]
    assert survey["__typename"] == "WtpSurvey", survey
    assert survey["name"] == "Survey of Small teams"
    assert survey["intentCalibration"] == [0.7, 0.5, 0.3, 0.1, 0.0]
    assert_worked_example(survey)
    assert_worked_example((await client.data(ONE, {"id": survey["id"]}))["wtpSurvey"])


async def test_a_survey_imported_from_csv_matches_the_same_responses(
    client: GraphQLClient, tenant: TenantScope
):
    ids = await owners(client)
    variables = {"p": ids["productId"], "s": ids["segmentId"], "plan": ids["planId"]}
    imported = (await post_file(client, IMPORT, variables, CSV.encode()))["importWtpSurvey"]
    assert imported["__typename"] == "WtpSurvey", imported
    assert_worked_example(imported)
    stored = await tenant.require(WtpSurvey, imported["id"])
    assert stored.psm is not None and stored.psm.too_cheap_cents == [1000, 2000]
    listed = await client.data(LIST, {"p": ids["productId"], "s": ids["segmentId"]})
    assert [n["id"] for n in listed["wtpSurveys"]["nodes"]] == [imported["id"]]


async def test_incomplete_or_wholly_inconsistent_answers_are_refused_and_nothing_is_stored(
    client: GraphQLClient, tenant: TenantScope
):
    ids = await owners(client)
    before = await tenant.find(WtpSurvey).count()
    three_prices = [{"tooCheapCents": 100, "cheapCents": 200, "expensiveCents": 300}]
    result = await client.data(CREATE, {"input": {**ids, "responses": three_prices}})
    refused = result["createWtpSurvey"]
    assert refused["__typename"] == "ValidationError"
    assert refused["fields"] == [
        {
            "path": ["input", "responses", "0", "tooExpensiveCents"],
            "message": "give all four prices or none",
        }
    ]
    backwards = [
        {"tooCheapCents": 400, "cheapCents": 300, "expensiveCents": 200, "tooExpensiveCents": 100}
    ]
    result = await client.data(CREATE, {"input": {**ids, "responses": backwards}})
    refused = result["createWtpSurvey"]
    assert refused["__typename"] == "ValidationError"
    assert "too cheap < cheap < expensive < too expensive" in refused["message"]
    other_product = await catalog.product(client)
    wrong_segment = {**ids, "productId": other_product["id"], "planId": None}
    result = await client.data(CREATE, {"input": {**wrong_segment, "responses": responses()}})
    assert result["createWtpSurvey"]["fields"][0]["path"] == ["segmentId"]
    assert await tenant.find(WtpSurvey).count() == before


async def test_a_file_with_a_bad_cell_is_refused_naming_its_row(
    client: GraphQLClient, tenant: TenantScope
):
    ids = await owners(client)
    before = await tenant.find(WtpSurvey).count()
    bad = CSV.replace("2000,3000,4000,5000,5,3", "2000,3000,40.5,5000,5,9")
    variables = {"p": ids["productId"], "s": ids["segmentId"]}
    refused = (await post_file(client, IMPORT, variables, bad.encode()))["importWtpSurvey"]
    assert refused["__typename"] == "ValidationError"
    assert {tuple(f["path"]) for f in refused["fields"]} == {
        ("file", "row 3", "expensive_cents"),
    }
    unknown = "price,cheap_cents\n1,2\n"
    refused = (await post_file(client, IMPORT, variables, unknown.encode()))["importWtpSurvey"]
    assert refused["__typename"] == "ValidationError"
    assert "unknown columns: price" in refused["message"]
    assert await tenant.find(WtpSurvey).count() == before
