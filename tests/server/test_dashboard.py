"""The dashboard and the risk list's endpoints: /, /risk (JSON and CSV), /risk/<id>,
/client/<id>, /runs and the report files."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from html import escape, unescape
from urllib.parse import quote

import pandas as pd
import pytest

from risk_assessment.core.columns import DEFAULT_SCHEMA
from risk_assessment.deployment.versions import load_deployed
from risk_assessment.modelling.scoring import score_model
from risk_assessment.reports import model_health, reporting, risk
from risk_assessment.schema import dataset
from risk_assessment.server import app as api
from risk_assessment.server import dashboard as dash
from risk_assessment.sources import ingestion
from risk_assessment.store import records as store
from tests.conftest import (  # the default schema's columns
    FEATURES,
    ID_COLUMN,
    ROOT,
    deploy_workspace,
    deployed_for,
    shared_deployment,
    small_rows,
    write_csv,
)
from tests.reports.test_risk import CURRENT, FORMULA_ROWS, RISKY


def deploy_risky(config: dict) -> None:
    """Add the RISKY current clients to the workspace and deploy it as v0001."""
    write_csv(config["input_folder_path"] / "dataset3.csv", RISKY)
    deploy_workspace(config)


@pytest.fixture
def deployed(request):
    """The workspace plus the RISKY current clients, with a model deployed as v0001 (the
    module's shared one for a test marked reads_deployment)."""
    yield from deployed_for(request, deploy_risky)


@pytest.fixture(scope="module")
def shared_deployed(tmp_path_factory):
    """deployed, built once for the module's tests that only read it."""
    return shared_deployment(tmp_path_factory, deploy_risky)


@pytest.fixture
def formula_ids(config):
    """A deployed workspace whose current clients include formula-like ids."""
    write_csv(config["input_folder_path"] / "dataset3.csv", RISKY + FORMULA_ROWS)
    deploy_workspace(config)
    return config


# --- GET /risk and /risk/<corporation> --------------------------------------------------------


@pytest.fixture
def expected(deployed) -> pd.DataFrame:
    """The deployed model's risk table, computed directly."""
    return reporting.deployed_risk_table(deployed)[0]


@pytest.mark.reads_deployment
def test_risk_defaults_to_the_first_page_of_50(client, expected):
    """GET /risk lists every current client (32 < 50), sorted by rank."""
    body = client.get("/risk").get_json()
    assert body["model_version"] == "v0001"
    assert (body["total"], body["page"], body["top"], body["band"]) == (len(CURRENT), 1, 50, None)
    ranks = [c["rank"] for c in body["clients"]]
    assert ranks == list(range(1, len(CURRENT) + 1))
    assert [c[ID_COLUMN] for c in body["clients"]] == expected[ID_COLUMN].tolist()


@pytest.mark.reads_deployment
def test_risk_pages(client):
    """?top=2&page=2 returns ranks 3 and 4; a page past the end is empty."""
    body = client.get("/risk?top=2&page=2").get_json()
    assert [c["rank"] for c in body["clients"]] == [3, 4]
    assert body["total"] == len(CURRENT)
    assert client.get("/risk?top=50&page=2").get_json()["clients"] == []


@pytest.mark.reads_deployment
def test_risk_band_filter(client, expected):
    """?band=high returns only high-risk clients, all of them."""
    body = client.get("/risk?band=high").get_json()
    highs = expected[expected["risk_band"] == "high"]
    assert body["band"] == "high" and body["total"] == len(highs) > 0
    assert {c["risk_band"] for c in body["clients"]} == {"high"}
    assert [c[ID_COLUMN] for c in body["clients"]] == highs[ID_COLUMN].tolist()


@pytest.mark.reads_deployment
def test_risk_clients_carry_reasons_and_contributions(client):
    """Each client has probability, rank, band, positive descending reasons, contributions."""
    for c in client.get("/risk").get_json()["clients"]:
        assert set(c) >= {ID_COLUMN, "exit_probability", "rank", "risk_band", "reasons"}
        assert set(c["contributions"]) == set(FEATURES)
        values = [r["contribution"] for r in c["reasons"]]
        assert all(v > 0 for v in values) and values == sorted(values, reverse=True)
        assert len(values) <= 3
        positive = {f for f, v in c["contributions"].items() if v > 0}
        assert {r["feature"] for r in c["reasons"]} == positive
        for r in c["reasons"]:
            assert r["contribution"] == c["contributions"][r["feature"]]


@pytest.mark.reads_deployment
def test_risk_of_one_client(client):
    """GET /risk/<id> answers that client, as listed in /risk, with the model version."""
    first = client.get("/risk?top=1").get_json()["clients"][0]
    answer = client.get(f"/risk/{first[ID_COLUMN]}")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body.pop("model_version") == "v0001"
    assert body == first


@pytest.mark.reads_deployment
def test_risk_of_an_unknown_client_is_404(client):
    """An unknown id is a 404 JSON error naming it."""
    answer = client.get("/risk/nosuchclient")
    assert answer.status_code == 404
    assert "nosuchclient" in answer.get_json()["error"]


@pytest.mark.reads_deployment
@pytest.mark.parametrize(
    "query, name",
    [
        ("top=0", "top"),
        ("top=abc", "top"),
        ("top=100000", "top"),
        ("top=1.5", "top"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("band=extreme", "band"),
    ],
)
def test_bad_risk_query_is_400(client, query, name):
    """A bad top, page or band is a 400 JSON error naming the parameter."""
    answer = client.get(f"/risk?{query}")
    assert answer.status_code == 400
    assert name in answer.get_json()["error"]


def test_risk_follows_a_new_deployment(app, client, deployed):
    """After deploying v0002 under the same app, /risk serves v0002 over the new clients."""
    assert client.get("/risk").get_json()["model_version"] == "v0001"
    write_csv(deployed["input_folder_path"] / "dataset3.csv", small_rows(30, 200))
    assert deploy_workspace(deployed) == "v0002"
    body = client.get("/risk?top=1000").get_json()
    assert body["model_version"] == "v0002" and body["total"] == len(CURRENT) + 20
    assert "c229" in {c[ID_COLUMN] for c in body["clients"]}
    assert client.get("/risk/c229").get_json()["model_version"] == "v0002"


@pytest.mark.parametrize("route", ["/risk", "/risk/c001"])
def test_risk_without_a_model_is_503(config, route):
    """Before any deployment /risk answers 503 JSON with an error."""
    answer = api.create_app(config).test_client().get(route)
    assert answer.status_code == 503
    assert answer.get_json()["error"]


def test_dashboard_without_a_model_is_503(config):
    """Before any deployment / answers 503, without a traceback."""
    answer = api.create_app(config).test_client().get("/")
    assert answer.status_code == 503
    assert "Traceback" not in answer.get_data(as_text=True)


# --- the dashboard ----------------------------------------------------------------------------


PSI = {"lastmonth_activity": 0.0123, "lastyear_activity": 0.1789, "number_of_employees": 0.3456}


@pytest.fixture
def dashboard(deployed, workspace):
    """The deployed workspace with one recorded run and test data the model gets partly wrong."""
    rows = small_rows(15, 100)
    flipped = [(*r[:4], 1 - r[4]) if i in (1, 3, 4) else r for i, r in enumerate(rows)]
    write_csv(workspace / "testdata" / "testdata.csv", flipped)
    run = store.Run(
        new_files=["dataset9.csv"],
        new_rows=55,
        deployed_version="v0001",
        batch_f1=0.6,
        batch_f1_low=0.5,
        batch_f1_high=0.7,
        data_drift_psi=PSI,
        decision="no drift",
        reason="batch F1 interval reaches the deployed F1",
    )
    store.record_run(deployed["output_folder_path"], run)
    return deployed


def page(client, url: str = "/") -> str:
    """The HTML of a dashboard page, asserting a 200 text/html answer."""
    answer = client.get(url)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    assert answer.mimetype == "text/html"
    return answer.get_data(as_text=True)


def listed_ids(html: str) -> list[str]:
    """Client ids shown in the dashboard's risk table (after this week's calls)."""
    listed = html[html.index('id="risk"') :]
    return re.findall(r'<td class="id"><a href="[^"]*">([^<]+)</a></td>', listed)


def test_dashboard_shows_the_model_and_its_scores(dashboard):
    """The page names the version, the live F1 with its interval and the confusion matrix."""
    html = page(api.create_app(dashboard).test_client())
    model, _ = load_deployed(dashboard["prod_deployment_path"])
    test_file = dashboard["test_data_path"] / "testdata.csv"
    scores = score_model(model, dataset.load_dataset(test_file))
    assert 0 < scores["f1"] < 1  # the flipped labels make the F1 informative
    assert "v0001" in html
    assert f'<span class="big">{scores["f1"]:.3f}</span> F1' in html
    assert "95% interval" in html
    cm = scores["confusion_matrix"]
    table = html[html.index('<table class="cm">') :]
    cells = re.findall(r"<td>(\d+)</td>", table[: table.index("</table>")])
    assert cells == [str(cm[k]) for k in ("tn", "fp", "fn", "tp")]


def test_the_risk_list_comes_first(dashboard):
    """This week's calls, then the list by band, come first, before model health."""
    html = page(api.create_app(dashboard).test_client())
    assert html.index("This week's calls") < html.index("Every current client by risk band")
    assert html.index("Every current client by risk band") < html.index("Model quality")
    assert html.index('<table class="risk">') < html.index('id="health"')


def test_dashboard_shows_risk_history_runs_and_drift(dashboard):
    """The page has the top client, the F1 history SVG, the run table and the PSI table."""
    html = page(api.create_app(dashboard).test_client())
    top = reporting.deployed_risk_table(dashboard)[0][ID_COLUMN][0]
    assert listed_ids(html)[0] == top
    history = html[html.index("F1 by version") :]
    assert "<svg" in history[:500]
    assert "dataset9.csv" in html and "batch F1 interval reaches the deployed F1" in html
    for feature, value in PSI.items():  # each feature in its plain words, not its name
        words = DEFAULT_SCHEMA.words(feature)
        assert words != feature
        assert re.search(
            rf'<td>{words}</td>.*?<td class="num" data-label="PSI">{value:.3f}</td>', html
        )
    assert "significant" in html and "moderate" in html
    assert "Last judged batch" in html and "0.600" in html


def test_dashboard_references_nothing_external(dashboard):
    """No script, no external stylesheet, image or link: the page works offline."""
    html = page(api.create_app(dashboard).test_client())
    assert not re.search(r"<script", html, re.I)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"<link[^>]*stylesheet", html, re.I)
    assert not re.search(r"""url\(\s*["']?\s*(?:https?:)?//|@import""", html, re.I)


@pytest.mark.reads_deployment
def test_dashboard_search_lists_only_matching_clients(client):
    """/?q=<part of an id> lists only the clients whose id contains it."""
    html = page(client, "/?q=c01")
    assert sorted(listed_ids(html)) == [c for c in CURRENT if c.startswith("c01")]
    assert "7 client(s) match" in html


@pytest.mark.reads_deployment
def test_dashboard_search_without_match(client):
    """A search matching no client says so."""
    assert "No client matches." in page(client, "/?q=zzzz")


@pytest.fixture
def mixed_case(config, workspace):
    """A deployed workspace whose clients include an id with capital letters."""
    write_csv(workspace / "practicedata" / "dataset3.csv", [("AbCd", 7, 150, 11, 0)])
    deploy_workspace(config)
    return config


def test_dashboard_search_finds_an_id_with_capitals(mixed_case):
    """Searching a client's exact id finds it, whatever its case."""
    client = api.create_app(mixed_case).test_client()
    assert client.get("/risk/AbCd").status_code == 200  # a known client
    html = page(client, "/?q=AbCd")
    assert listed_ids(html) == ["AbCd"]


ODD_IDS = ["C/123", "a b?x#1%", "../up", "2026/12/06"]


@pytest.fixture
def odd_ids(config, workspace):
    """A deployed workspace whose clients have ids with a slash, a space, ? # % and dots."""
    rows = [(c, 7 + i, 150, 11, 0) for i, c in enumerate(ODD_IDS)]
    write_csv(workspace / "practicedata" / "dataset3.csv", rows)
    deploy_workspace(config)
    return config


def test_a_client_id_with_a_slash_or_other_signs_opens(odd_ids):
    """/risk/<id>, /client/<id> and the contacts answer for ids holding '/', '?', '#', '%'
    (sent percent-encoded, as clients do), and the dashboard's link to each client works."""
    client = api.create_app(odd_ids).test_client()
    html = page(client, "/?top=1000")
    for ident in ODD_IDS:
        encoded = quote(ident, safe="")
        answer = client.get(f"/risk/{encoded}")
        assert answer.status_code == 200 and answer.get_json()[ID_COLUMN] == ident, ident
        assert client.get(f"/client/{encoded}").status_code == 200, ident
        assert client.get(f"/risk/{encoded}/contacts").status_code == 200, ident
        href = re.search(r'<a href="([^"]+)">' + re.escape(escape(ident)) + "</a>", html)
        assert href and client.get(unescape(href.group(1))).status_code == 200, ident
        # pasted with spaces at its ends (ids are stored stripped): the same client
        padded = client.get(f"/risk/{quote(' ' + ident + ' ', safe='')}")
        assert padded.status_code == 200 and padded.get_json()[ID_COLUMN] == ident, ident
        assert client.get(f"/client/%20{encoded}%20").status_code == 200, ident


@pytest.mark.reads_deployment
def test_dashboard_band_filter(client, expected):
    """/?band=low shows only low-risk clients (the first page of them)."""
    html = page(client, "/?band=low")
    lows = expected[expected["risk_band"] == "low"][ID_COLUMN].tolist()
    listed = html[html.index('id="risk"') :]  # the calls above it are not filtered
    assert set(re.findall(r'class="band (\w+)"', listed)) == {"low"}
    assert listed_ids(html) == lows[: dash.PAGE_ROWS]
    assert f"{len(lows)} client(s) match" in html


@pytest.mark.reads_deployment
def test_dashboard_bad_band_is_400(client):
    """/?band=bad is a 400 naming the parameter."""
    answer = client.get("/?band=bad")
    assert answer.status_code == 400
    assert "band" in answer.get_json()["error"]


def test_risk_endpoint_loads_no_pdf_or_plotting_library(deployed):
    """Serving /risk imports neither reportlab nor matplotlib (a light API process)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from risk_assessment.server.app import create_app; "
        "c = create_app(sys.argv[2]).test_client(); "
        "assert c.get('/risk').status_code == 200; assert c.get('/risk/r01').status_code == 200; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('reportlab', 'matplotlib')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(ROOT), str(deployed["config_file"])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_json_keeps_formula_ids_exactly(formula_ids):
    """/risk answers the ids as written (JSON is not a spreadsheet)."""
    client = api.create_app(formula_ids).test_client()
    ids = {c[ID_COLUMN] for c in client.get("/risk?top=1000").get_json()["clients"]}
    assert {c for c, *_ in FORMULA_ROWS} <= ids


# --- counts, changes, paging, sorting, the CSV download ---------------------------------------

NEW_RISKY = [(f"n{i:02d}", 2 + i, 80 + 3 * i, 11, 0) for i in range(3)]


@pytest.fixture
def changed(deployed):
    """Two lists: the first written after deploying; then three new risky clients arrive
    and r00's new observation is very active; the list is written again."""
    reporting.run_risk(deployed)
    write_csv(
        deployed["input_folder_path"] / "dataset4.csv", NEW_RISKY + [("r00", 300, 6000, 11, 0)]
    )
    ingestion.run_ingestion(deployed)
    reporting.run_risk(deployed)
    return deployed


@pytest.mark.reads_deployment
def test_band_counts_match_the_list(client, expected):
    """The chips count the clients of each band."""
    html = page(client)
    for band in risk.BANDS:
        n = int((expected["risk_band"] == band).sum())
        assert re.search(rf'<span class="dot {band}"></span>{band}\s*<b>{n}</b>', html)


@pytest.mark.reads_deployment
def test_no_previous_list_says_so(client):
    """Before a second list is written there is nothing to compare: the page says so."""
    assert "No earlier list to compare with yet" in page(client)


def test_changes_since_the_previous_list(changed):
    """New risky clients are 'new in high'; r00, now very active, 'moved down'."""
    client = api.create_app(changed).test_client()
    table = client.get("/risk?top=1000").get_json()["clients"]
    change = {c[ID_COLUMN]: c["change"] for c in table}
    assert {k for k, v in change.items() if v == "new_high"} == {c for c, *_ in NEW_RISKY}
    assert change["r00"] == "down"
    html = page(client)
    assert re.search(r"new in high\s*<b>3</b>", html) and re.search(r"moved down\s*<b>1</b>", html)
    assert sorted(listed_ids(page(client, "/?change=new_high"))) == ["n00", "n01", "n02"]
    assert listed_ids(page(client, "/?change=down")) == ["r00"]


def test_list_changes_rules():
    """new_high: high now, not before (new clients too); up/down: band moves; new: unseen."""
    prev = pd.DataFrame(
        {ID_COLUMN: ["a", "b", "c", "d"], "risk_band": ["medium", "low", "high", "high"]}
    )
    now = pd.DataFrame(
        {
            ID_COLUMN: ["a", "b", "c", "e", "f"],
            "risk_band": ["high", "medium", "low", "high", "low"],
        }
    )
    changes = risk.list_changes(now, prev)
    assert changes.tolist() == ["new_high", "up", "down", "new_high", "new"]
    counts = risk.change_counts(changes, now, prev)
    assert counts == {"new_high": 2, "up": 1, "down": 1, "new": 1, "left": 1}


@pytest.mark.reads_deployment
def test_paging_reaches_every_client(client, expected):
    """25 per page; page 2 holds the rest; the pager links to the next page."""
    first, second = page(client), page(client, "/?page=2")
    ids = expected[ID_COLUMN].tolist()
    assert listed_ids(first) == ids[:25] and listed_ids(second) == ids[25:]
    assert 'href="/?page=2"' in first and "page 1 of 2" in first
    assert f"26–{len(ids)} of" in second


@pytest.mark.reads_deployment
@pytest.mark.parametrize("sort", ["client", "-rank"])
def test_sorting(client, expected, sort):
    """sort=client lists ids A to Z; sort=-rank the lowest risk first."""
    ids = listed_ids(page(client, f"/?sort={sort}"))
    full = expected[ID_COLUMN].tolist()
    assert ids == (sorted(full)[:25] if sort == "client" else full[::-1][:25])


@pytest.mark.reads_deployment
@pytest.mark.parametrize("query", ["band=low&q=c0", "band=high", "q=r0&sort=client", ""])
def test_csv_download_is_exactly_what_is_filtered(client, query):
    """/risk?format=csv&... holds the rows /risk (JSON) finds for the same filter, in order."""
    answer = client.get(f"/risk?format=csv&{query}")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    rows = risk.read_people_csv(io.StringIO(answer.get_data(as_text=True)))
    body = client.get(f"/risk?top=1000&{query}").get_json()
    assert rows[ID_COLUMN].tolist() == [c[ID_COLUMN] for c in body["clients"]]
    assert {"rank", "exit_probability", "risk_band", "top_reasons"} <= set(rows.columns)


@pytest.mark.reads_deployment
def test_the_download_link_carries_the_filter(client):
    """The page's Download CSV link is /risk?format=csv with the page's own filter."""
    html = page(client, "/?q=c0&band=low&sort=client")
    link = re.search(r'id="download" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert link.startswith("/risk?") and "format=csv" in link
    assert {"q=c0", "band=low", "sort=client"} <= set(link.split("?")[1].split("&"))


def test_csv_download_neutralises_formula_ids(formula_ids):
    """In the download, formula-like ids start with a quote."""
    client = api.create_app(formula_ids).test_client()
    text = client.get("/risk?format=csv").get_data(as_text=True)
    for corp, *_ in FORMULA_ROWS:
        assert f"\n'{corp}," in text and f"\n{corp}," not in text


@pytest.mark.reads_deployment
@pytest.mark.parametrize("query, name", [("sort=bad", "sort"), ("change=bad", "change")])
def test_bad_sort_or_change_is_400(client, query, name):
    """An unknown sort or change filter is a 400 naming the parameter."""
    answer = client.get(f"/?{query}")
    assert answer.status_code == 400 and name in answer.get_json()["error"]


# --- the client page, the run history, the files ----------------------------------------------


def test_client_page_shows_history_scores_and_plain_reasons(changed):
    """/client/r00: both observations, each scored, and the client's plain reasons."""
    client = api.create_app(changed).test_client()
    html = page(client, "/client/r00")
    history = html[html.index("Observations") :]
    assert history.count('data-label="observation"') == 2
    assert history.count("%") >= 2
    record = client.get("/risk/r00").get_json()
    for reason in record["reasons"]:
        assert reason["text"] in html
    assert f"Rank {record['rank']} of" in html


@pytest.mark.reads_deployment
def test_client_page_of_an_exited_client(client):
    """A client that exited has a page (its history) but is not on the list."""
    html = page(client, "/client/c000")
    assert "has exited" in html and "yes" in html


@pytest.mark.reads_deployment
def test_client_page_of_an_unknown_client_is_404(client):
    """An id never seen is a 404 naming it."""
    answer = client.get("/client/nosuch")
    assert answer.status_code == 404 and "nosuch" in answer.get_json()["error"]


@pytest.mark.reads_deployment
def test_dashboard_links_to_client_pages(client):
    """Each listed client links to its page, which opens."""
    html = page(client)
    href = re.search(r'<td class="id"><a href="([^"]+)">', html).group(1)
    assert href.startswith("/client/") and page(client, href)


def test_runs_page_lists_the_runs(dashboard):
    """/runs shows the recorded runs with their reasons."""
    html = page(api.create_app(dashboard).test_client(), "/runs")
    assert "batch F1 interval reaches the deployed F1" in html and "0.600" in html


def test_report_files_are_served_once_written(reportable):
    """/report.pdf and /confusionmatrix.png: 404 before reporting.py ran, then the files."""
    client = api.create_app(reportable).test_client()
    assert client.get("/report.pdf").status_code == 404
    reporting.run_reporting(reportable)
    with client.get("/report.pdf") as pdf:  # a streamed file: closed after reading
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
        assert pdf.data.startswith(b"%PDF")
    with client.get("/confusionmatrix.png") as png:
        assert png.status_code == 200 and png.mimetype == "image/png"


def test_what_changes_only_with_a_run_is_computed_once(dashboard):
    """Model health (chart, intervals) is cached until a run is recorded."""
    app = api.create_app(dashboard)
    ext = app.extensions["risk_assessment"]
    with app.test_request_context("/"):
        first = dash.health(ext)
        assert dash.health(ext) is first
        store.record_run(dashboard["output_folder_path"], store.Run())
        assert dash.health(ext) is not first


def test_history_chart_is_readable_on_a_phone():
    """The F1 chart is inline SVG sized by its viewBox (text at 12 of 360 units)."""
    versions = [{"version": f"v{i:04d}", "f1": 0.5 + i / 100} for i in range(1, 13)]
    runs = [
        {"batch_f1": 0.5, "batch_f1_low": 0.4, "batch_f1_high": 0.6, "deployed_version": "v0003"}
    ]
    svg = model_health.history_svg(versions, runs)
    assert svg.startswith('<svg viewBox="0 0 360 ') and 'font-size="12"' in svg
    assert svg.count("<rect") == 1 and "v0012" in svg


def test_an_f1_of_one_is_written_inside_the_chart():
    """A version's F1 is written 7 units above its dot; at F1 = 1 the text (12 units high)
    still lies inside the chart, not cut off at its top edge."""
    svg = model_health.history_svg([{"version": "v0001", "f1": 1.0}], [])
    value = re.search(
        r'<text x="[\d.]+" y="([\d.]+)" text-anchor="middle" fill="#1d2733">1.00<', svg
    )
    assert value and float(value.group(1)) >= 12


def test_header_links_only_to_written_files(reportable):
    """Before reporting.py ran the header says there is no report; after, it links to it."""
    client = api.create_app(reportable).test_client()
    html = page(client)
    assert 'href="/report.pdf"' not in html and "no report yet" in html
    reporting.run_reporting(reportable)
    html = page(client)
    assert 'href="/report.pdf"' in html and 'href="/confusionmatrix.png"' in html


def test_a_run_still_in_the_write_ahead_log_changes_the_runs_stamp(tmp_path):
    """While another connection reads the store (the server's sign-in keeps some open), a
    commit stays in store.db-wal and store.db itself is unchanged: the runs panel's cache
    key must follow the WAL too, or a new run would not show."""
    import sqlite3
    from contextlib import closing

    from risk_assessment.store.records import Run

    config = {"output_folder_path": tmp_path}
    store.record_run(tmp_path, Run(batch_id=1, decision="none", reason="first"))
    with closing(sqlite3.connect(tmp_path / store.STORE_FILE)) as reader:
        reader.execute("SELECT COUNT(*) FROM runs").fetchone()
        before = dash.runs_stamp(config)
        store.record_run(tmp_path, Run(batch_id=2, decision="none", reason="second"))
        assert dash.runs_stamp(config) != before
