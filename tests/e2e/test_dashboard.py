"""The dashboard in a real browser (Playwright driving Debian's chromium) against `skytune local`
as a user runs it: data made through the SDK, every page checked by value, charts read back from
their ECharts instances. Any console error or failed request fails the test."""
from __future__ import annotations

import csv
import io
import math
import os
import re
import signal
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

import skytune
from tests.support.browser import ARGS, chromium_path, option, screenshot, settle, watch

pytest.importorskip("playwright.sync_api")
if chromium_path() is None:  # `make test` installs it (make chromium); a bare pytest run may not have it
    pytest.skip("no chromium (make chromium)", allow_module_level=True)
from playwright.sync_api import expect, sync_playwright  # noqa: E402

expect.set_options(timeout=60_000)  # a loaded 2-core CI machine: the local API serves one request at a time per function

from tests.support.local_process import LocalProcess  # noqa: E402
from tests.support.polling import eventually  # noqa: E402

pytestmark = pytest.mark.timeout(900)  # the data fixture starts a stack and runs a tuning job

LRS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3]
TRIAL = """
    import sys, time
    x = int(sys.argv[sys.argv.index("--x") + 1])
    for epoch in range(1, 4):
        print(f"epoch={epoch} acc={x / 10 + epoch / 100:.3f}", flush=True)
    if x >= 90:
        time.sleep(900)
"""


def tuning_body(script: Path, name: str, low: int, high: int) -> dict:
    return {
        "name": name, "strategy": "Grid", "objective": {"metric_name": "acc", "type": "Maximize"},
        "parameter_ranges": {"IntegerParameterRanges": [{"Name": "x", "MinValue": str(low), "MaxValue": str(high)}]},
        "resource_limits": {"max_parallel_training_jobs": 2},
        "trial": {"runner": "local", "command": ["python", str(script)], "heartbeat_seconds": 30, "max_runtime_in_seconds": 1200,
                  "metric_definitions": [{"Name": "acc", "Regex": "epoch=(?P<step>\\d+) acc=(?P<value>[0-9.]+)"}]},
    }


@pytest.fixture(scope="module")
def stack(cloud_assembly, tmp_path_factory):
    # the trial scripts are run by this interpreter (local mode's runner allows what it is told to)
    process = LocalProcess(cloud_assembly, tmp_path_factory.mktemp("dashboard-data"), extra_args=("--allow-command", "python"))
    # its access log goes to a pipe: drain it, or the server blocks once the pipe's buffer is full
    for stream in (process.process.stdout, process.process.stderr):
        threading.Thread(target=lambda s=stream: [None for _ in iter(s.readline, "")], daemon=True).start()
    process.wait_ready(timeout=180)
    token = getattr(process, "token", None)  # local mode's token (None where it runs without one)
    previous = os.environ.get("SKYTUNE_TOKEN")
    if token:
        os.environ["SKYTUNE_TOKEN"] = token  # the SDK sends it
    yield process
    if previous is None:
        os.environ.pop("SKYTUNE_TOKEN", None)
    else:
        os.environ["SKYTUNE_TOKEN"] = previous
    process.process.send_signal(signal.SIGTERM)
    process.process.wait(timeout=60)


@pytest.fixture(scope="module")
def data(stack, tmp_path_factory):
    return make_data(stack.url, tmp_path_factory.mktemp("trial"), getattr(stack, "token", None))


def make_data(url: str, tmp: Path, token: str | None = None) -> dict:
    """12 runs (6 learning rates x 2 optimisers), a parent with a child, lineage, a long series, two tuning jobs."""
    experiment = f"dash-{uuid.uuid4().hex[:6]}"
    runs = {}
    for i, (lr, opt) in enumerate((lr, opt) for opt in ("adam", "sgd") for lr in LRS):
        with skytune.Run(experiment=experiment, name=f"{opt}-{lr}", url=url, flush_interval=30) as run:  # one batch at exit
            run.log_params({"lr": lr, "opt": opt, "seed": i % 3})
            run.set_tag("team", "vision" if opt == "adam" else "nlp")
            for step in range(40):
                run.log_metrics({"loss": (1 + lr * 10) / (step + 1) + (0.1 if opt == "sgd" else 0.0),
                                 "acc": 1 - 0.5 / (step + 1) - lr}, step=step)
        runs[run.name] = run.run_id
    client = skytune.Client(url)
    http = requests.Session()
    if token:
        http.headers["X-Skytune-Token"] = token
    parent = runs["adam-0.01"]
    child = client.create_run(experiment=experiment, name="child-eval", parent=parent, params={"lr": 0.01, "opt": "adam", "seed": 9})
    for start in range(0, 5000, 1000):  # a long series: zooming fetches finer data
        client.log_batch(child["run_id"], metrics=[{"name": "loss", "value": 1.0 + math.sin(step / 50) / 10, "step": step}
                                                   for step in range(start, start + 1000)])
    client.update_run(child["run_id"], status="Completed")
    runs["child-eval"] = child["run_id"]
    client.update_run(parent, outputs=[{"name": "model", "uri": f"s3://bucket/{experiment}/model.pt"}])
    client.update_run(child["run_id"], inputs=[{"name": "model", "uri": f"s3://bucket/{experiment}/model.pt"}])

    script = tmp / "trial.py"
    script.write_text(textwrap.dedent(TRIAL))
    done_job, hanging_job = f"{experiment}-grid", f"{experiment}-hang"
    assert http.post(f"{url}/v1/tuning-jobs", json=tuning_body(script, done_job, 1, 5)).status_code == 201
    deadline = time.monotonic() + 120
    while http.get(f"{url}/v1/tuning-jobs/{done_job}").json()["HyperParameterTuningJobStatus"] != "Completed":
        assert time.monotonic() < deadline, "the grid job did not complete"
        time.sleep(0.5)
    return {"url": url, "experiment": experiment, "runs": runs, "done_job": done_job, "hanging_job": hanging_job, "http": http,
            "script": script}


@pytest.fixture(scope="module")
def browser(stack):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, data, stack):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.set_default_navigation_timeout(90_000)
    page.problems = watch(page)
    token = getattr(stack, "token", None)  # a local server with a token: visiting /?token= sets the cookie
    if token:
        page.goto(f"{data['url']}/?token={token}")
    yield page
    problems = page.problems.report()
    context.close()
    assert problems == [], problems


def column(page, col: str) -> list[str]:
    return page.locator(f"#runs tbody td[data-col='{col}']").all_inner_texts()


def wait_chart(page, selector: str, predicate, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            opt = option(page, selector)
            if predicate(opt):
                return opt
        except AssertionError:
            pass
        assert time.monotonic() < deadline, f"chart {selector} never matched"
        page.wait_for_timeout(100)


def test_experiments_list_shows_run_counts_and_searches_by_name(page, data):
    page.goto(data["url"] + "/")
    row = page.locator(f"#experiments tr[data-name='{data['experiment']}']")
    expect(row).to_be_visible()
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == data["experiment"] and cells[2] == "13"
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", cells[3])
    page.fill("#experiment-search", "no-such-experiment")
    expect(page.locator("#experiments tbody")).to_contain_text("no experiments")
    page.fill("#experiment-search", data["experiment"][:8])
    expect(row).to_be_visible()
    assert "q=" in page.url
    screenshot(page, "experiments")


def test_runs_table_sorts_on_click_and_shift_click_and_keeps_it_in_the_url(page, data):
    page.goto(f"{data['url']}/experiments/{data['experiment']}")
    expect(page.locator("#runs tbody tr")).to_have_count(13)
    page.click("#runs th[data-col='params.lr']")
    expect(page.locator("#runs th[data-col='params.lr'] .sort")).to_have_text("▲")
    lrs = [float(v) for v in column(page, "params.lr")]
    assert lrs == sorted(lrs)
    page.click("#runs th[data-col='params.lr']")
    expect(page.locator("#runs th[data-col='params.lr'] .sort")).to_have_text("▼")
    assert [float(v) for v in column(page, "params.lr")] == sorted(lrs, reverse=True)
    # a second key: opt ascending, then lr descending within it
    page.click("#runs th[data-col='params.opt']")
    expect(page.locator("#runs th[data-col='params.opt'] .sort")).to_have_text("▲")
    page.click("#runs th[data-col='params.lr']", modifiers=["Shift"])
    expect(page.locator("#runs th[data-col='params.lr'] .sort")).to_have_text("▲2")
    page.click("#runs th[data-col='params.lr']", modifiers=["Shift"])
    expect(page.locator("#runs th[data-col='params.lr'] .sort")).to_have_text("▼2")
    opts, lrs = column(page, "params.opt"), [float(v) for v in column(page, "params.lr")]
    pairs = list(zip(opts, lrs))
    assert pairs == sorted(pairs, key=lambda p: (p[0], -p[1]))
    assert parse_qs(urlsplit(page.url).query)["o"] == ["params.opt ASC, params.lr DESC"]
    page.reload()  # the view comes back from the URL
    expect(page.locator("#runs th[data-col='params.lr'] .sort")).to_have_text("▼2")
    assert list(zip(column(page, "params.opt"), [float(v) for v in column(page, "params.lr")])) == pairs


def test_a_broken_filter_shows_the_api_error_and_a_good_one_filters(page, data):
    page.goto(f"{data['url']}/experiments/{data['experiment']}")
    expect(page.locator("#runs tbody tr")).to_have_count(13)
    page.fill("#filter", "params.lr >")
    page.press("#filter", "Enter")
    expect(page.locator("#filter-error")).to_have_text(re.compile(r"position 11: expected a value .* after '>' but found end of input"))
    settle(page)  # the charts asked with the broken filter too: every answer is a 400, and only those
    assert page.problems.take("response 400: POST") and page.problems.take("status of 400")
    page.fill("#filter", "params.opt = 'sgd' AND params.lr >= 0.03")
    page.press("#filter", "Enter")
    expect(page.locator("#runs tbody tr")).to_have_count(3)
    expect(page.locator("#filter-error")).to_be_hidden()
    assert sorted(column(page, "name")) == ["sgd-0.03", "sgd-0.1", "sgd-0.3"]


def test_query_builder_writes_the_filter_text(page, data):
    page.goto(f"{data['url']}/experiments/{data['experiment']}")
    page.click("#toggle-qb")
    rows = page.locator("#query-builder .qb-row")
    rows.nth(0).locator("select.qb-field").select_option("params.opt")
    rows.nth(0).locator("input.qb-value").fill("adam")
    page.click("#query-builder .qb-add-step")
    rows.nth(1).locator("input.qb-field-text").fill("metrics.loss.at(9)")
    rows.nth(1).locator("input.qb-field-text").dispatch_event("change")
    rows.nth(1).locator("select.qb-op").select_option("<")
    rows.nth(1).locator("input.qb-value").fill("0.15")
    page.click("#query-builder .qb-add-group")
    page.locator("#query-builder .qb-group").nth(1).locator("select.qb-field").select_option("tags.team")
    page.locator("#query-builder .qb-group").nth(1).locator("input.qb-value").fill("nlp")
    page.locator("#query-builder select.qb-outer").select_option("OR")
    expected = "(params.opt = 'adam' AND metrics.loss.at(9) < 0.15) OR tags.team = 'nlp'"
    expect(page.locator("#qb-preview")).to_have_text(expected)
    page.click("#query-builder .qb-apply")
    expect(page.locator("#filter")).to_have_value(expected)
    # adam runs with loss at step 9 = (1 + 10 lr) / 10 < 0.15: lr < 0.05 (4 runs, child has no step 9 below), plus 6 nlp runs
    expect(page.locator("#runs tbody tr")).to_have_count(10)
    assert parse_qs(urlsplit(page.url).query)["f"] == [expected]


def test_charts_hold_the_series_of_the_runs(page, data):
    page.goto(f"{data['url']}/experiments/{data['experiment']}?m=acc&bar=metrics.acc.max&o=name%20ASC")
    # one line per run that logged acc (the child did not)
    line = wait_chart(page, "#line-chart", lambda o: len(o["series"]) == 12 and all(s["data"] for s in o["series"]))
    names = [s["name"] for s in line["series"]]
    assert names == sorted(names)
    adam = next(s for s in line["series"] if s["name"] == "adam-0.001")
    assert [p[0] for p in adam["data"]] == list(range(40))
    assert adam["data"][0][1] == pytest.approx(1 - 0.5 - 0.001)
    bar = option(page, "#bar-chart")
    values = bar["series"][0]["data"]
    assert values == sorted(values, reverse=True) and len(values) == 12
    assert bar["xAxis"][0]["data"][0] == "adam-0.001"  # the highest accuracy
    par = option(page, "#parallel-chart")
    assert [a["name"] for a in par["parallelAxis"]] == ["params.lr", "params.opt", "params.seed", "metrics.acc.max"]
    assert len(par["series"][0]["data"]) == 13
    scatter = option(page, "#scatter-chart")
    assert len(scatter["series"][0]["data"]) == 12  # the child has no acc
    group = wait_chart(page, "#group-chart", lambda o: any(s["name"] == "params.lr=0.001" for s in o.get("series", [])))
    mean = next(s for s in group["series"] if s["name"] == "params.lr=0.001")
    # two runs (adam, sgd) at lr=0.001 share the same acc curve, so std is 0; 40 steps in 24 windows:
    # the first is steps 0..1, drawn at 0.5, its mean the average acc over those steps
    assert mean["data"][0] == [0.5, pytest.approx(((1 - 0.5) + (1 - 0.25)) / 2 - 0.001, abs=1e-9)]
    assert len(mean["data"]) == 24
    band = next(s for s in group["series"] if s["name"] == "params.lr=0.001 ±std")
    assert band["data"][0][1] == pytest.approx(0, abs=1e-9)
    # smoothing and log scale come from the URL and change the chart
    page.check("#line-log")
    wait_chart(page, "#line-chart", lambda o: o["yAxis"][0]["type"] == "log")
    assert parse_qs(urlsplit(page.url).query)["log"] == ["1"]
    screenshot(page, "experiment")


def test_selection_drives_the_charts_and_zoom_fetches_finer_points(page, data):
    sent = []  # (method, path, JSON body) of every API request
    page.on("request", lambda r: sent.append((r.method, urlsplit(r.url).path, r.post_data_json if r.post_data else None))
            if "/v1/" in r.url else None)
    page.goto(f"{data['url']}/experiments/{data['experiment']}?m=loss")
    child = data["runs"]["child-eval"]
    page.check(f"#runs tr[data-run-id='{child}'] input.select-run")
    page.check(f"#runs tr[data-run-id='{data['runs']['adam-0.01']}'] input.select-run")
    assert set(parse_qs(urlsplit(page.url).query)["sel"][0].split(",")) == {child, data["runs"]["adam-0.01"]}
    line = wait_chart(page, "#line-chart", lambda o: len(o["series"]) == 2)
    long = next(s for s in line["series"] if s["name"] == "child-eval")
    coarse_inside = [p for p in long["data"] if 1000 <= p[0] <= 1500]
    assert len(long["data"]) <= 600
    page.evaluate("""() => echarts.getInstanceByDom(document.querySelector('#line-chart'))
        .dispatchAction({type: 'dataZoom', startValue: 1000, endValue: 1500})""")
    page.wait_for_function("document.querySelector('#line-chart').dataset.zoomed !== undefined")
    zoomed = next(s for s in option(page, "#line-chart")["series"] if s["name"] == "child-eval")
    fine_inside = [p for p in zoomed["data"] if 1000 <= p[0] <= 1500]
    assert len(fine_inside) == 501 > len(coarse_inside)  # every point of the window, not the coarse sample
    assert [p[0] for p in fine_inside] == list(range(1000, 1501))
    # every series came from the batch route, one request per drawing: none from the one-series route
    assert not [path for _, path, _ in sent if "/metrics/" in path]
    batches = [body for _, path, body in sent if path == "/v1/analytics/series"]
    assert batches[-1] == {"runs": batches[-1]["runs"], "metrics": ["loss"], "max_points": 600, "min_step": 1000, "max_step": 1500}
    assert set(batches[-1]["runs"]) == {child, data["runs"]["adam-0.01"]}
    # the charts' search names its columns (answered from the index); full rows only for the table's first page
    searches = [body for method, path, body in sent if path == "/v1/runs/search"]
    chart_searches = [b for b in searches if b.get("limit") == 1000]
    assert chart_searches and all("columns" in b and "metrics.loss.count" in b["columns"] for b in chart_searches)


def test_brushing_the_parallel_axes_filters_the_table(page, data):
    page.goto(f"{data['url']}/experiments/{data['experiment']}")
    par = wait_chart(page, "#parallel-chart", lambda o: len(o["series"][0]["data"]) == 13)
    assert par["parallelAxis"][0]["name"] == "params.lr"
    page.evaluate("""() => echarts.getInstanceByDom(document.querySelector('#parallel-chart'))
        .dispatchAction({type: 'axisAreaSelect', parallelAxisIndex: 0, intervals: [[0.02, 0.5]]})""")
    expect(page.locator("#brush-filter")).to_contain_text("params.lr >= 0.02 AND params.lr <= 0.5")
    expect(page.locator("#runs tbody tr")).to_have_count(6)
    assert sorted({float(v) for v in column(page, "params.lr")}) == [0.03, 0.1, 0.3]
    page.click("#clear-brush")
    expect(page.locator("#runs tbody tr")).to_have_count(13)


def test_columns_and_csv_export(page, data):
    page.goto(f"{data['url']}/experiments/{data['experiment']}?c=name,params.lr,metrics.loss.at(9)&o=name%20ASC")
    expect(page.locator("#runs thead th")).to_have_count(4)
    cells = page.locator("#runs tbody tr").first.locator("td").all_inner_texts()
    assert cells[1] == "adam-0.001" and float(cells[2]) == 0.001 and float(cells[3]) == pytest.approx(1.01 / 10)
    with page.expect_download() as download:
        page.click("#export-csv")
    text = Path(download.value.path()).read_text()
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["name", "params.lr", "metrics.loss.at(9)"]
    assert [row[0] for row in table[1:]] == sorted(data["runs"])


def test_cursor_paging(page, data, stack):
    experiment = f"pages-{uuid.uuid4().hex[:6]}"
    client = skytune.Client(stack.url)
    client.ensure_experiment(experiment)
    for i in range(55):
        client.create_run(experiment=experiment, name=f"r{i:02d}")
    indexed = eventually(lambda: client.search_page(experiments=[experiment], columns=["name"], limit=100).get("rows", []),
                         lambda rows: len(rows) >= 55, timeout=30, interval=0.3)
    assert len(indexed) == 55, "the index did not take the 55 runs"
    page.goto(f"{data['url']}/experiments/{experiment}?o=name%20ASC&c=name")
    expect(page.locator("#runs tbody tr")).to_have_count(50)
    page.click("#next-page")
    expect(page.locator("#runs tbody tr")).to_have_count(5)
    assert column(page, "name") == [f"r{i}" for i in range(50, 55)]
    page.click("#prev-page")
    expect(page.locator("#runs tbody tr")).to_have_count(50)
    assert column(page, "name")[0] == "r00"


def test_run_page_shows_params_summaries_lineage_and_children(page, data):
    parent = data["runs"]["adam-0.01"]
    page.goto(f"{data['url']}/runs/{parent}")
    expect(page.locator("#run-name")).to_have_text("adam-0.01")
    params = dict(row.locator("td").all_inner_texts() for row in page.locator("#run-params tr").all())
    assert params == {"lr": "0.01", "opt": "adam", "seed": "2"}
    assert page.locator("#run-metrics tr[data-metric='loss'] td").all_inner_texts()[:2] == ["loss", str(round(1.1 / 40, 6))]
    expect(page.locator("#run-children a")).to_have_text("child-eval")
    expect(page.locator("#run-lineage [data-side='downstream']")).to_contain_text("child-eval")
    chart = wait_chart(page, "#metric-acc", lambda o: len(o["series"][0]["data"]) == 40)
    assert chart["series"][0]["data"][-1][1] == pytest.approx(1 - 0.5 / 40 - 0.01)
    screenshot(page, "run")
    page.click("#run-children a")
    expect(page.locator("#run-name")).to_have_text("child-eval")
    expect(page.locator("#run-lineage [data-side='upstream']")).to_contain_text("adam-0.01")
    expect(page.locator("#run-attributes")).to_contain_text(parent)


def test_run_page_lists_artifacts_and_downloads_an_uploaded_one(page, data, tmp_path):
    model = tmp_path / "model.bin"
    model.write_bytes(bytes(range(256)) * 40)  # 10,240 bytes
    with skytune.Run(experiment=f"{data['experiment']}-art", name="with-artifacts", url=data["url"]) as run:
        run.log_artifact(model, artifact_path="checkpoints")
        run.log_text("accuracy 0.9", "notes/summary.txt")
    skytune.Client(data["url"]).update_run(run.run_id, inputs=[{"name": "train", "uri": "s3://bucket/train.csv"}])
    page.goto(f"{data['url']}/runs/{run.run_id}")
    rows = page.locator("#run-artifacts tbody tr")
    expect(rows).to_have_count(3)
    model_row = page.locator("#run-artifacts tr[data-name='checkpoints/model.bin']")
    cells = model_row.locator("td").all_inner_texts()
    assert cells[0] == "output" and cells[2].endswith(f"/{run.run_id}/artifacts/checkpoints/model.bin")
    assert cells[3] == "10.0 KB" and cells[4].startswith("sha256:")
    train = page.locator("#run-artifacts tr[data-name='train']")
    assert train.locator("td").first.inner_text() == "input"
    expect(train.locator("button.download")).to_have_count(0)  # a reference, not stored by skytune
    with page.expect_download() as caught:
        model_row.locator("button.download").click()
    download = caught.value
    assert download.suggested_filename == "model.bin"
    assert Path(download.path()).read_bytes() == model.read_bytes()


def test_tuning_job_page(page, data):
    page.goto(f"{data['url']}/tuning-jobs")
    row = page.locator(f"#tuning-jobs tr[data-name='{data['done_job']}']")
    expect(row).to_be_visible()
    assert row.locator("td").all_inner_texts()[1:4] == ["Completed", "Grid", "5"]
    row.locator("a").click()
    expect(page.locator("#job-status")).to_have_text("Completed")
    expect(page.locator("#best-trial")).to_contain_text("acc = 0.53")
    expect(page.locator("#stop-job")).to_have_count(0)
    history = wait_chart(page, "#objective-chart", lambda o: len(o["series"][0]["data"]) == 5)
    assert sorted(p[1] for p in history["series"][0]["data"]) == pytest.approx([0.13, 0.23, 0.33, 0.43, 0.53])
    best = [p[1] for p in history["series"][1]["data"]]
    assert best == sorted(best) and best[-1] == pytest.approx(0.53)
    importance = option(page, "#importance-chart")
    assert importance["yAxis"][0]["data"] == ["x"] and importance["series"][0]["data"] == [1]
    par = option(page, "#hp-parallel")
    assert [a["name"] for a in par["parallelAxis"]] == ["x", "acc"] and len(par["series"][0]["data"]) == 5
    scatter = option(page, "#hp-scatter")
    points = sorted((p[0], p[1]) for p in scatter["series"][0]["data"])
    assert points == [(x, pytest.approx(x / 10 + 0.03)) for x in range(1, 6)]
    page.click("#trials th[data-col='objective']")
    page.click("#trials th[data-col='objective']")
    first = page.locator("#trials tbody tr").first
    assert first.locator("td").nth(3).inner_text() == "0.53"
    screenshot(page, "tuning-job")
    first.locator("a").click()
    expect(page.locator("#run-name")).to_have_text(re.compile(data["done_job"]))


MULTI_TRIAL = """
    import sys
    x = int(sys.argv[sys.argv.index("--x") + 1])
    acc = [0.5, 0.7, 0.6, 0.9, 0.8, 0.95][x - 1]
    print(f"acc={acc} latency={10 * x} mem={100 * x}", flush=True)
"""


def test_multi_objective_job_page_shows_pareto_front_and_feasibility(page, data, tmp_path):
    """A job with two objectives (max acc, min latency) and a constraint (mem <= 500): x = 1..6 gives
    (acc, latency) = (.5, 10) (.7, 20) (.6, 30) (.9, 40) (.8, 50) (.95, 60); x = 6 breaks the
    constraint, x = 3 and 5 are dominated, so the Pareto set is x = 1, 2, 4."""
    script = tmp_path / "multi.py"
    script.write_text(textwrap.dedent(MULTI_TRIAL))
    name = f"{data['experiment']}-pareto"
    body = tuning_body(script, name, 1, 6)
    body["objectives"] = [{"metric_name": "acc", "type": "Maximize"}, {"metric_name": "latency", "type": "Minimize"}]
    body["outcome_constraints"] = [{"metric_name": "mem", "operator": "<=", "value": 500}]
    body["trial"]["metric_definitions"] = [{"Name": m, "Regex": f"{m}=(?P<value>[0-9.]+)"} for m in ("acc", "latency", "mem")]
    http, url = data["http"], data["url"]
    created = http.post(f"{url}/v1/tuning-jobs", json=body)
    assert created.status_code == 201, created.text
    status = eventually(lambda: http.get(f"{url}/v1/tuning-jobs/{name}").json()["HyperParameterTuningJobStatus"],
                        lambda s: s not in ("InProgress", "Stopping"), timeout=180)
    assert status == "Completed"
    listed = http.get(f"{url}/v1/tuning-jobs/{name}/trials?limit=100").json()["TrainingJobSummaries"]
    by_x = {int(t["TunedHyperParameters"]["x"]): t["TrainingJobName"] for t in listed}
    assert sorted(by_x) == [1, 2, 3, 4, 5, 6]

    page.goto(f"{url}/tuning-jobs/{name}")
    expect(page.locator("#job-status")).to_have_text("Completed")
    expect(page.locator("#pareto-set a")).to_have_count(3)
    assert sorted(page.locator("#pareto-set a").all_inner_texts()) == sorted(by_x[x] for x in (1, 2, 4))
    expect(page.locator("#best-trial")).to_have_count(0)  # no single best trial with two objectives
    expect(page.locator("#feasibility [data-counter='Feasible'] strong")).to_have_text("5")
    expect(page.locator("#feasibility [data-counter='Infeasible'] strong")).to_have_text("1")

    front = wait_chart(page, "#pareto-chart", lambda o: len(o["series"]) == 3)
    series = {s["name"]: s["data"] for s in front["series"]}
    assert [(p[0], p[1], p[2]) for p in series["Pareto set"]] == [(0.5, 10, by_x[1]), (0.7, 20, by_x[2]), (0.9, 40, by_x[4])]
    assert sorted((p[0], p[1]) for p in series["dominated"]) == [(0.6, 30), (0.8, 50)]
    assert [(p[0], p[1]) for p in series["infeasible"]] == [(0.95, 60)]
    assert front["xAxis"][0]["name"] == "acc" and front["yAxis"][0]["name"] == "latency"

    history = option(page, "#objective-chart")
    by_name = {s["name"]: s["data"] for s in history["series"]}
    assert sorted(p[1] for p in by_name["objective"]) == [0.5, 0.6, 0.7, 0.8, 0.9]
    assert [p[1] for p in by_name["infeasible"]] == [0.95]
    assert by_name["best so far"][-1][1] == 0.9  # the best *feasible* acc, not x = 6's 0.95
    par = option(page, "#hp-parallel")
    assert [a["name"] for a in par["parallelAxis"]] == ["x", "acc", "latency"]
    assert page.locator("#importance-metric option").all_inner_texts() == ["acc", "latency", "mem"]
    with page.expect_response(lambda r: "/importance?metric=mem" in r.url) as asked:
        page.select_option("#importance-metric", "mem")
    assert asked.value.json()["ObjectiveMetricName"] == "mem" and asked.value.json()["trials"] == 6
    wait_chart(page, "#importance-chart", lambda o: o["yAxis"][0]["data"] == ["x"] and o["series"][0]["data"] == [1])
    assert "im=mem" in page.url

    headers = page.locator("#trials thead th").all_inner_texts()
    assert [h.rstrip("▲▼") for h in headers] == ["#", "trial", "status", "acc", "latency", "pareto", "mem <= 500", "feasible", "x"]
    infeasible_row = page.locator(f"#trials tr[data-trial='{by_x[6]}']")
    assert "infeasible" in infeasible_row.get_attribute("class")
    assert infeasible_row.locator("td").nth(7).inner_text() == "no"
    page.click("#trials th[data-col='objective:latency']")
    first = page.locator("#trials tbody tr").first.locator("td")
    assert first.nth(4).inner_text() == "10" and first.nth(5).inner_text() == "yes"
    assert "ts=objective%3Alatency" in page.url or "ts=objective:latency" in page.url
    screenshot(page, "tuning-job-pareto")


FAILING_TRIAL = """
    import sys
    print("CUDA out of memory (tried to allocate 2.00 GiB)", file=sys.stderr, flush=True)
    sys.exit(3)
"""


def wait_until_ended(data, name: str) -> str:
    return eventually(lambda: data["http"].get(f"{data['url']}/v1/tuning-jobs/{name}").json()["HyperParameterTuningJobStatus"],
                      lambda s: s not in ("InProgress", "Stopping"), timeout=180)


def test_job_page_says_why_a_job_failed_and_which_history_it_ignored(page, data, tmp_path):
    http, url = data["http"], data["url"]
    failing = tmp_path / "failing.py"
    failing.write_text(textwrap.dedent(FAILING_TRIAL))
    failed_job = f"{data['experiment']}-fails"
    assert http.post(f"{url}/v1/tuning-jobs", json=tuning_body(failing, failed_job, 1, 2)).status_code == 201
    # warm-started from the grid job, with a parameter its trials never had: their history is unusable
    child = f"{data['experiment']}-warm"
    body = tuning_body(data["script"], child, 1, 5)
    body.update(strategy="Bayesian", warm_start={"parent_jobs": [data["done_job"]], "type": "TransferLearning"},
                resource_limits={"max_parallel_training_jobs": 1, "max_number_of_training_jobs": 1})
    body["parameter_ranges"]["IntegerParameterRanges"].append({"Name": "y", "MinValue": "1", "MaxValue": "3"})
    created = http.post(f"{url}/v1/tuning-jobs", json=body)
    assert created.status_code == 201, created.text
    assert wait_until_ended(data, failed_job) == "Failed" and wait_until_ended(data, child) == "Completed"

    page.goto(f"{url}/tuning-jobs/{failed_job}")
    expect(page.locator("#job-status")).to_have_text("Failed")
    expect(page.locator("#job-failure")).to_contain_text("no trial reported the objective metric 'acc'")
    expect(page.locator("#trials th[data-col='reason']")).to_have_count(1)
    reasons = page.locator("#trials td.reason").all_inner_texts()
    assert len(reasons) == 2 and all("exit code 3" in r and "CUDA out of memory" in r for r in reasons), reasons
    expect(page.locator("#ignored-history")).to_have_count(0)

    page.goto(f"{url}/tuning-jobs/{child}")
    expect(page.locator("#job-status")).to_have_text("Completed")
    expect(page.locator("#ignored-history")).to_contain_text("5 observation(s) of history not used")
    expect(page.locator("#ignored-history")).to_contain_text("y is missing")
    expect(page.locator("#job-failure")).to_have_count(0)
    expect(page.locator("#trials th[data-col='reason']")).to_have_count(0)  # no trial failed or was stopped


def test_stop_button_stops_a_running_job(page, data):
    # started here, so that its trials (which never end by themselves) are surely running
    assert data["http"].post(f"{data['url']}/v1/tuning-jobs",
                             json=tuning_body(data["script"], data["hanging_job"], 90, 92)).status_code == 201
    page.goto(f"{data['url']}/tuning-jobs/{data['hanging_job']}")
    expect(page.locator("#job-status")).to_have_text("InProgress", timeout=20000)
    expect(page.locator("[data-counter='InProgress'] strong")).to_have_text(re.compile("[12]"), timeout=20000)
    page.click("#stop-job")
    expect(page.locator("#job-status")).to_have_text(re.compile("Stopping|Stopped"))
    expect(page.locator("#job-status")).to_have_text("Stopped", timeout=60000)  # polled, no reload
    assert data["http"].get(f"{data['url']}/v1/tuning-jobs/{data['hanging_job']}").json()["HyperParameterTuningJobStatus"] == "Stopped"


def test_the_browser_signs_api_requests_as_botocore_does(page, data):
    """The deployed dashboard's SigV4 (js/sigv4.js, WebCrypto) gives botocore's signature for the same request."""
    from datetime import datetime, timezone
    from unittest import mock

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    page.goto(data["url"] + "/tuning-jobs")
    expect(page.locator("#tuning-jobs")).to_be_visible()
    creds = {"accessKeyId": "AKIDEXAMPLE", "secretAccessKey": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "sessionToken": "token/+="}
    # a POST with a body and an encoded query; the batch series read; a GET whose path holds an encoded '/'
    for method, url, body in [
            ("POST", "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/runs/search?limit=5&cursor=a%2Fb", '{"filter": "params.lr < 0.1"}'),
            ("POST", "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/analytics/series", '{"runs": ["01J"], "metrics": ["train/loss"], "max_points": 600}'),
            ("GET", "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/runs/01J/metrics/train%2Floss%20x?max_points=600", None)]:
        headers = {"content-type": "application/json"} if body else {}
        signed = page.evaluate("""async ([method, url, body, headers, creds]) => {
            const { sigv4 } = await import('/js/sigv4.js');
            return (await sigv4({ method, headers, body: body || undefined }, url, creds,
                                'eu-west-1', 'execute-api', new Date(Date.UTC(2026, 10, 28, 12, 0, 0)))).headers;
        }""", [method, url, body, headers, creds])
        request = AWSRequest(method=method, url=url, data=body.encode() if body else None, headers=headers)
        with mock.patch("botocore.auth.get_current_datetime", return_value=datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)):
            SigV4Auth(Credentials(creds["accessKeyId"], creds["secretAccessKey"], creds["sessionToken"]), "execute-api", "eu-west-1").add_auth(request)
        assert signed["x-amz-date"] == request.headers["X-Amz-Date"] == "20261128T120000Z"
        assert signed["authorization"] == request.headers["Authorization"], (method, url)
