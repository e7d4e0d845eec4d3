"""Account scoring through the API: scenarios, account lists (CSV and XLSX, hostile files),
criteria of every kind, calculation runs, sorting, overrides seen live, signed exports."""

from __future__ import annotations

import csv
import io
import zipfile

import numpy as np
import xlsxwriter
from python_calamine import CalamineWorkbook

from app.models import TenantScope, UploadChunk
from app.models.scoring import AccountScore, ScoringScenario
from tests.support.graphql import GraphQLClient
from tests.support.runs import finished, outputs
from tests.support.uploads import post_file

CREATE = """mutation($n: String!) { createScoringScenario(input: {name: $n}) {
  __typename ... on ScoringScenario { id status } } }"""
UPLOAD = """mutation($s: ID!, $file: Upload!, $id: String, $name: String, $mode: ImportMode!) {
  uploadAccountList(scenarioId: $s, file: $file, idColumn: $id, nameColumn: $name, mode: $mode) {
    __typename
    ... on AccountListUploaded { run { id } scenario { accountList { encoding delimiter columns
      format } preview { columns rows { cells } } } }
    ... on ValidationError { message fields { path message } } } }"""
MAP = """mutation($s: ID!, $id: String!, $name: String!) {
  mapAccountListColumns(scenarioId: $s, idColumn: $id, nameColumn: $name) {
    __typename ... on Run { id } ... on ValidationError { fields { path message } } } }"""
ADD = """mutation($s: ID!, $i: ScoringCriterionInput!) { addScoringCriterion(scenarioId: $s,
  input: $i) { __typename ... on ScoringCriterion { id } ... on ValidationError { message } } }"""
CALCULATE = """mutation($s: ID!) { calculateScores(scenarioId: $s) {
  __typename ... on Run { id } ... on ValidationError { message } } }"""
SCENARIO = """query($s: ID!, $order: AccountOrder!, $first: Int!, $after: String) {
  scoringScenario(id: $s) { status accountList { rowCount }
    criteria { id name model { fit { auc accounts } } }
    accounts(orderBy: $order, first: $first, after: $after) { totalCount
      pageInfo { hasNextPage endCursor }
      nodes { accountId accountName totalScore tier cells { column value }
        criterionScores { criterionId score notes overridden }
        topPositive { criterionId points } topNegative { criterionId points } } } } }"""
OVERRIDE = """mutation($s: ID!, $a: String!, $c: ID!, $score: Int!, $notes: String!) {
  overrideAccountScore(scenarioId: $s, accountId: $a, criterionId: $c, score: $score,
    notes: $notes) { __typename ... on AccountScore { totalScore tier }
    ... on ValidationError { message } ... on NotFoundError { message } } }"""
EXPORT = """mutation($s: ID!, $f: ExportFormat!) { exportScoredAccounts(scenarioId: $s, format: $f)
  { __typename ... on ScoringExport { url expiresAt } } }"""
UPDATED = """subscription($s: ID!) { scoringScenarioUpdated(scenarioId: $s, since: "0") {
  change accountId totalScore } }"""


async def scenario(client: GraphQLClient, name: str = "Q3 targets") -> str:
    return (await client.data(CREATE, {"n": name}))["createScoringScenario"]["id"]


async def upload(
    client: GraphQLClient,
    scenario_id: str,
    content: bytes,
    filename: str = "accounts.csv",
    columns: tuple[str, str] | None = ("id", "name"),
    mode: str = "KEEP_VALID",
) -> dict:
    variables = {"s": scenario_id, "mode": mode}
    if columns:
        variables |= {"id": columns[0], "name": columns[1]}
    data = await post_file(client, UPLOAD, variables, content, filename)
    return data["uploadAccountList"]


async def extracted(client: GraphQLClient, scenario_id: str, content: bytes, **kw) -> dict:
    uploaded = await upload(client, scenario_id, content, **kw)
    assert uploaded["__typename"] == "AccountListUploaded", uploaded
    run = await finished(client, uploaded["run"]["id"])
    assert run["status"] == "COMPLETED", run
    return outputs(run)


async def add(client: GraphQLClient, scenario_id: str, **criterion) -> str:
    result = (await client.data(ADD, {"s": scenario_id, "i": criterion}))["addScoringCriterion"]
    assert result["__typename"] == "ScoringCriterion", result
    return result["id"]


async def calculated(client: GraphQLClient, scenario_id: str) -> dict:
    started = (await client.data(CALCULATE, {"s": scenario_id}))["calculateScores"]
    assert started["__typename"] == "Run", started
    run = await finished(client, started["id"])
    assert run["status"] == "COMPLETED", run
    return run


async def all_accounts(client: GraphQLClient, scenario_id: str, order: str) -> list[dict]:
    nodes, after = [], None
    while True:
        variables = {"s": scenario_id, "order": order, "first": 100, "after": after}
        page = (await client.data(SCENARIO, variables))["scoringScenario"]["accounts"]
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def planted(n: int, seed: int = 3) -> tuple[str, dict[str, tuple[float, str]]]:
    """A semicolon CSV with a BOM: revenue and industry per account."""
    rng = np.random.default_rng(seed)
    industries = ["saas", "retail", "health"]
    lines = ["id;name;revenue;industry"]
    truth = {}
    for i in range(n):
        revenue, industry = float(rng.integers(0, 2000)), industries[i % 3]
        lines.append(f"a{i};Account {i};{revenue:g};{industry.upper()}")
        truth[f"a{i}"] = (revenue, industry)
    return "\n".join(lines) + "\n", truth


def expected_total(scores: list[float | None], weights: list[int]) -> int | None:
    """The seed's weighted average, scaled to 0-100, rounded half up: computed directly."""
    pairs = [(s, w) for s, w in zip(scores, weights, strict=True) if s is not None]
    if not pairs:
        return None
    value = 10 * sum(s * w for s, w in pairs) / sum(w for _, w in pairs)
    return int(value + 0.5)


async def test_totals_are_the_seeds_weighted_average_sorted_and_overrides_survive(
    client: GraphQLClient, tenant: TenantScope, worker
):
    text, truth = planted(150)
    sid = await scenario(client)
    report = await extracted(client, sid, b"\xef\xbb\xbf" + text.encode())
    assert report["validate"]["valid"] == 150
    revenue = await add(
        client,
        sid,
        name="Revenue",
        method="RULE",
        weight=3,
        rule={"kind": "LINEAR", "column": "revenue", "low": 0, "high": 1000},
    )
    industry = await add(
        client,
        sid,
        name="Industry",
        method="RULE",
        weight=1,
        rule={
            "kind": "CATEGORY",
            "column": "industry",
            "values": [{"value": "saas", "score": 9}, {"value": "health", "score": 6}],
            "defaultScore": 2,
        },
    )
    manual = await add(client, sid, name="Champion", method="MANUAL", weight=2)
    await calculated(client, sid)

    accounts = await all_accounts(client, sid, "TOTAL_DESC")
    assert len(accounts) == 150
    totals = [a["totalScore"] for a in accounts]
    assert totals == sorted(totals, reverse=True)
    for account in accounts:
        money, kind = truth[account["accountId"]]
        linear = int(min(max(money / 1000, 0), 1) * 10 + 0.5)
        category = {"saas": 9, "health": 6}.get(kind, 2)
        assert account["totalScore"] == expected_total([linear, category, None], [3, 1, 2])
        bands = (("A", 75), ("B", 50), ("C", 25), ("D", 0))
        assert account["tier"] == next(t for t, low in bands if account["totalScore"] >= low)
    cells = {c["column"]: c["value"] for c in accounts[0]["cells"]}
    assert set(cells) == {"id", "name", "revenue", "industry"}

    target = accounts[-1]["accountId"]
    result = await client.data(
        OVERRIDE, {"s": sid, "a": target, "c": manual, "score": 10, "notes": "met the CFO"}
    )
    money, kind = truth[target]
    linear = int(min(max(money / 1000, 0), 1) * 10 + 0.5)
    category = {"saas": 9, "health": 6}.get(kind, 2)
    new_total = expected_total([linear, category, 10], [3, 1, 2])
    assert result["overrideAccountScore"]["totalScore"] == new_total

    async with client.subscribe(UPDATED, {"s": sid}) as events:
        while (event := (await events.next())["scoringScenarioUpdated"])["change"] != "override":
            pass
    assert event == {"change": "override", "accountId": target, "totalScore": new_total}

    await calculated(client, sid)  # a re-calculation keeps the analyst's score
    stored = await tenant.find(AccountScore, {"account_id": target}).first_or_none()
    assert stored is not None and stored.total_score == new_total
    kept = [s for s in stored.criterion_scores if str(s.criterion_id) == manual]
    assert kept[0].overridden and kept[0].notes == "met the CFO"
    by_tier = await all_accounts(client, sid, "TIER")
    assert [a["tier"] for a in by_tier] == sorted(a["tier"] for a in by_tier)
    assert {revenue, industry} >= {c["criterionId"] for c in accounts[0]["topPositive"]}


async def test_a_planted_propensity_is_recovered_by_the_model_criterion(
    client: GraphQLClient, worker
):
    rng = np.random.default_rng(11)
    n = 800
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    probability = 1 / (1 + np.exp(-(1.8 * x1 - 1.2 * x2)))
    outcome = rng.random(n) < probability
    lines = ["id,name,x1,x2,noise,won"]
    for i in range(n):
        known = "yes" if outcome[i] else "no"
        lines.append(f"c{i},Co {i},{x1[i]:.4f},{x2[i]:.4f},{rng.normal():.3f},{known}")
    sid = await scenario(client, "propensity")
    await extracted(client, sid, ("\n".join(lines) + "\n").encode())
    await add(
        client,
        sid,
        name="Propensity",
        method="MODEL",
        model={"outcomeColumn": "won", "featureColumns": ["x1", "x2", "noise"]},
    )
    await calculated(client, sid)
    data = await client.data(SCENARIO, {"s": sid, "order": "ROW", "first": 1})
    fit = data["scoringScenario"]["criteria"][0]["model"]["fit"]
    # The AUC the true probabilities reach on these outcomes bounds what any model can do.
    positives, ranks = outcome.sum(), np.argsort(np.argsort(probability)) + 1
    u = ranks[outcome].sum() - positives * (positives + 1) / 2
    truth_auc = u / (positives * (n - positives))
    assert fit["accounts"] == n
    assert truth_auc - 0.04 <= fit["auc"] <= truth_auc + 0.02
    accounts = await all_accounts(client, sid, "ROW")
    scores = np.array([a["criterionScores"][0]["score"] for a in accounts], dtype=float)
    assert np.corrcoef(scores, probability)[0, 1] > 0.9


async def test_preview_first_then_columns_chosen_and_encodings_stated(
    client: GraphQLClient, worker
):
    sid = await scenario(client, "latin")
    latin = "id\tname\tcity\n1\tCafé Müller\tKöln\n2\tÅsa AB\tMalmö\n".encode("latin-1")
    uploaded = await upload(client, sid, latin, columns=None)
    listed = uploaded["scenario"]["accountList"]
    assert (listed["encoding"], listed["delimiter"]) == ("latin-1", "\t")
    assert uploaded["scenario"]["preview"]["rows"][0]["cells"] == ["1", "Café Müller", "Köln"]
    assert uploaded["run"] is None
    wrong = await client.data(MAP, {"s": sid, "id": "nope", "name": "name"})
    assert wrong["mapAccountListColumns"]["fields"][0]["path"] == ["idColumn"]
    started = await client.data(MAP, {"s": sid, "id": "id", "name": "name"})
    run = await finished(client, started["mapAccountListColumns"]["id"])
    assert run["status"] == "COMPLETED"

    utf16 = "id,name\n7,Zoë\n".encode("utf-16")
    listed = (await upload(client, sid, utf16, columns=None))["scenario"]["accountList"]
    assert listed["encoding"] == "utf-16"


async def test_row_errors_keep_valid_rows_or_reject_the_whole_file(
    client: GraphQLClient, tenant: TenantScope, worker
):
    text = b"id,name,x\na1,One,1\n,No id,2\na1,Again,3\na2,,4\na3,Three\na4,Four,5\n"
    sid = await scenario(client, "errors")
    report = (await extracted(client, sid, text))["validate"]
    assert (report["valid"], report["invalid"]) == (2, 4)
    assert [(e["row"], e["column"]) for e in report["errors"]] == [
        (3, "id"),
        (4, "id"),
        (5, "name"),
        (6, ""),
    ]
    other = await scenario(client, "strict")
    uploaded = await upload(client, other, text, mode="ALL_OR_NOTHING")
    run = await finished(client, uploaded["run"]["id"])
    assert run["status"] == "FAILED"
    found = await tenant.get(ScoringScenario, other)
    assert found is not None
    assert await tenant.find(AccountScore, {"scenario_id": found.id}).count() == 0
    status = await client.data(SCENARIO, {"s": other, "order": "ROW", "first": 1})
    assert status["scoringScenario"]["status"] == "FAILED"


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (300 * 1024 * 1024))
    return buffer.getvalue()


HOSTILE = [
    ("accounts.xlsx", b"id,name\n1,a\n", "is not an XLSX workbook"),
    ("accounts.csv", zip_bomb(), "is a zip archive"),
    ("accounts.xlsx", zip_bomb(), "zip bomb"),
    ("accounts.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "binary data"),
    ("accounts.pdf", b"%PDF-1.4", "a .csv or .xlsx file is needed"),
    ("accounts.csv", ",".join(f"c{i}" for i in range(100_000)).encode() + b"\n", "longer than"),
    ("accounts.csv", b"id,name\n1," + b"x" * (5 * 1024 * 1024 - 20) + b"\n", "longer than"),
    ("accounts.csv", b"id,id\n1,2\n", "appears twice"),
]


async def test_hostile_files_are_refused_clearly_and_nothing_is_kept(
    client: GraphQLClient, tenant: TenantScope
):
    sid = await scenario(client, "hostile")
    chunks_before = await tenant.find(UploadChunk).count()
    for filename, content, message in HOSTILE:
        result = await upload(client, sid, content, filename=filename, columns=None)
        assert result["__typename"] == "ValidationError", (filename, result)
        assert message in result["fields"][0]["message"], (message, result)
    found = await tenant.get(ScoringScenario, sid)
    assert found is not None and found.account_list is None
    assert await tenant.find(UploadChunk).count() == chunks_before


async def test_xlsx_lists_read_and_exports_neutralise_formulas_keeping_columns(
    client: GraphQLClient, worker
):
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"strings_to_formulas": False})
    sheet = workbook.add_worksheet("Accounts")
    rows = [["id", "name", "note"], ["=1+1", "+cmd", "-2"], ["@SUM(A1)", "\tTab", "plain"]]
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write_string(r, c, value)
    workbook.close()
    sid = await scenario(client, "formulas")
    await extracted(client, sid, buffer.getvalue(), filename="accounts.xlsx")
    await add(
        client,
        sid,
        name="Note",
        method="RULE",
        rule={"kind": "KEYWORD", "column": "note", "values": [{"value": "plain", "score": 8}]},
    )
    await calculated(client, sid)
    for fmt in ("CSV", "XLSX"):
        link = (await client.data(EXPORT, {"s": sid, "f": fmt}))["exportScoredAccounts"]
        response = await client.http.get(link["url"])
        assert response.status_code == 200
        if fmt == "CSV":
            table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        else:
            book = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
            table = [[str(c) for c in row] for row in book.get_sheet_by_index(0).to_python()]
        assert table[0][:5] == ["id", "name", "note", "total_score", "tier"]
        assert table[1][:3] == ["'=1+1", "'+cmd", "'-2"]
        assert table[2][:3] == ["'@SUM(A1)", "'\tTab", "plain"]
    forged = link["url"][:-3] + ("AAA" if not link["url"].endswith("AAA") else "BBB")
    assert (await client.http.get(forged)).status_code == 404
