"""The dashboard's performance budget, measured in a real browser (Playwright + Debian's chromium)
against the local stack (DynamoDB Local, in-process API served over HTTP).

    make bench-dashboard            # or: .venv/bin/python -m benchmarks.dashboard.run --runs 10000

Data: `--runs` synthetic runs (benchmarks/search/data.py, bulk-written as the search benchmark does)
for the experiment page; 20 runs x `--points` points of one metric written through the metric store
for the line chart; 1,000 runs for parallel coordinates. Times are wall-clock from the browser's
side (navigation or input until the chart / table holds the expected data), median of `--repeats`.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import threading
import time
from pathlib import Path

from benchmarks.search.data import synthetic_run
from benchmarks.search.skytune_side import NOW, SkytuneSide
from skytune.local.http_api import serve
from skytune.local.dynamodb_local import free_port
from skytune.metrics.store import MetricPoint
from skytune.tracking import runs
from skytune.tracking.records import RunInput, RunStatus
from tests.support.browser import ARGS, chromium_path

ROOT = Path(__file__).resolve().parents[2]


def load(side: SkytuneSide, n_runs: int, n_points: int) -> dict:
    started = time.monotonic()
    for name, count in (("bench-runs", n_runs), ("bench-parallel", 1000)):
        side.create_experiment(name)
        side.load_bulk(name, [synthetic_run(i) for i in range(count)])
    side.create_experiment("bench-curves")
    curve_ids = []
    for r in range(20):
        run = runs.create_run(side.repo, RunInput(experiment="bench-curves", name=f"curve-{r:02d}", params={"r": r},
                                                  status=RunStatus.COMPLETED, start_time=NOW, end_time=NOW), now=NOW)
        points = [MetricPoint("loss", 1 / (1 + step / 1000) + 0.05 * math.sin(step / 300 + r), step, 1_800_000_000_000 + step)
                  for step in range(n_points)]
        side.store_factory(seed=r).write(run.run_id, points)
        curve_ids.append(run.run_id)
    for name in ("bench-runs", "bench-parallel", "bench-curves"):
        side.build_index(name)  # what the first search would do (`skytune reindex`), outside the timings
    return {"curve_ids": curve_ids, "load_s": time.monotonic() - started}


def chart_ready(page, selector: str, condition: str) -> None:
    # (ECharts loads async: the table may be drawn before the library is there)
    page.wait_for_function(f"""() => {{ const el = document.querySelector('{selector}'); const c = el && window.echarts && echarts.getInstanceByDom(el);
        if (!c) return false; const o = c.getOption(); return {condition}; }}""", timeout=120_000)


class ServerTimings:
    """Each API invocation's time inside its handler and its wait for the function (the local API
    runs one request at a time per function, as one Lambda execution environment does)."""

    def __init__(self, functions) -> None:
        self.entries: list[tuple[str, int, int]] = []
        handler_of, invoke = functions.handler, functions.invoke

        def timed_handler(logical_id):
            handler = handler_of(logical_id)

            def call(event, context):
                started = time.monotonic()
                try:
                    return handler(event, context)
                finally:
                    event["_handler_ms"] = round((time.monotonic() - started) * 1000)
            return call

        def timed_invoke(logical_id, event):
            started = time.monotonic()
            try:
                return invoke(logical_id, event)
            finally:
                total = round((time.monotonic() - started) * 1000)
                spent = event.get("_handler_ms", total) if isinstance(event, dict) else total
                if isinstance(event, dict) and event.get("rawPath", "").startswith("/v1/"):
                    self.entries.append((event["rawPath"][4:], spent, total - spent))

        functions.handler, functions.invoke = timed_handler, timed_invoke

    def take(self) -> list[tuple[str, int, int]]:
        taken, self.entries = self.entries, []
        return taken


def experiment_page(browser, base: str, n_runs: int, server: ServerTimings | None, label: str = "") -> tuple[float, float]:
    """The experiment page with n_runs runs: (first table page shown, table + every chart drawn), s."""
    if server:
        server.take()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    t0 = time.monotonic()
    page.goto(f"{base}/experiments/bench-runs")
    page.wait_for_function("document.querySelectorAll('#runs tbody tr').length === 50", timeout=120_000)
    table = time.monotonic() - t0
    print(f"{label}table of {n_runs} runs: {table:.3f} s", flush=True)
    # bulk-loaded runs carry summaries but no series points (benchmarks/search): the line chart
    # is measured on bench-curves below; here the table, bar and parallel charts
    chart_ready(page, "#bar-chart", "o.series[0].data.length > 0")
    chart_ready(page, "#parallel-chart", "o.series[0].data.length === 1000")
    chart_ready(page, "#line-chart", "Array.isArray(o.series)")  # drawn (these runs hold no points)
    interactive = time.monotonic() - t0
    print(f"{label}interactive: {interactive:.3f} s (load average {os.getloadavg()[0]:.1f})", flush=True)
    timeline = page.evaluate("""() => ({
        requests: performance.getEntriesByType('resource').filter(e => e.name.includes('/v1/'))
          .map(e => [e.name.split('/v1/')[1].split('?')[0], Math.round(e.startTime), Math.round(e.duration)]),
        echarts: performance.getEntriesByType('resource').filter(e => e.name.includes('echarts'))
          .map(e => [Math.round(e.startTime), Math.round(e.responseEnd)]),
        dom_content_loaded: Math.round(performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd),
        marks: performance.getEntriesByType('mark').map(m => [m.name, Math.round(m.startTime)]) })""")
    print("  /v1 requests [path, start ms, duration ms]:", timeline["requests"], flush=True)
    print(f"  ECharts fetched [start, end ms]: {timeline['echarts']}; DOMContentLoaded {timeline['dom_content_loaded']} ms;"
          f" page marks [name, ms]: {timeline['marks']}", flush=True)
    if server:
        print("  server [path, handler ms, wait for the function ms]:", server.take(), flush=True)
    page.close()
    return table, interactive


_static_root: list[Path] = []


@contextlib.contextmanager
def static_from(root: Path):
    """Serve the dashboard's files from `root` (e.g. an earlier revision's static folder) meanwhile."""
    _static_root.append(root)
    try:
        yield
    finally:
        _static_root.pop()


def serve_static_from_override() -> None:
    import skytune.local.static_files as static_files

    serve_file = static_files.static_response

    def chosen(path, root=None):
        return serve_file(path, _static_root[-1]) if _static_root else serve_file(path)
    static_files.static_response = chosen


def measure(base: str, curve_ids: list[str], n_runs: int, repeats: int, server: ServerTimings | None = None,
            before: Path | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    keys = ("table", "interactive", "line_nav", "line_first", "line_toggle", "zoom", "brush_render", "brush_table")
    if before is not None:
        keys = ("before_table", "before_interactive", *keys)
    results: dict[str, list[float]] = {k: [] for k in keys}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        # one cold load of each page first (imports, first reads of the index), not counted
        for path in ("experiments/bench-runs", "experiments/bench-parallel", f"experiments/bench-curves?m=loss&sel={','.join(curve_ids)}"):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/{path}")
            page.wait_for_function("document.querySelectorAll('#runs tbody tr').length > 0", timeout=600_000)
            page.wait_for_function("!document.querySelector('#busy') || document.querySelector('#busy').hidden", timeout=600_000)
            page.close()
        for _ in range(repeats):
            if server:
                server.take()
            if before is not None:  # the same page with the earlier files, alternating with this branch's
                with static_from(before):
                    table, interactive = experiment_page(browser, base, n_runs, server, "before: ")
                results["before_table"].append(table)
                results["before_interactive"].append(interactive)
            table, interactive = experiment_page(browser, base, n_runs, server)
            results["table"].append(table)
            results["interactive"].append(interactive)

            # 2. line chart: 20 runs x N points, fetched downsampled: from navigation, then redrawn by
            # toggling log scale (the page's data in hand, the series fetched again)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            t0 = time.monotonic()
            page.goto(f"{base}/experiments/bench-curves?m=loss&sel={','.join(curve_ids)}")
            chart_ready(page, "#line-chart", "o.series.length === 20 && o.series.every(s => s.data.length > 0) && (window.drawnAt = performance.now())")
            results["line_nav"].append(time.monotonic() - t0)
            # first render: from the series request leaving the page to the 20 lines drawn (request,
            # server-side reads and M4 downsampling, transfer, drawing); the page's own load and the
            # runs search before it are in line_nav
            results["line_first"].append(page.evaluate("""() => { const sent = performance.getEntriesByType('resource')
                .filter(e => e.name.includes('/v1/analytics/series') || e.name.includes('/metrics/'));
                return (window.drawnAt - Math.min(...sent.map(e => e.startTime))) / 1000; }"""))
            t0 = time.monotonic()
            page.check("#line-log")
            chart_ready(page, "#line-chart", "o.yAxis[0].type === 'log' && o.series.length === 20 && o.series.every(s => s.data.length > 0)")
            results["line_toggle"].append(time.monotonic() - t0)
            t0 = time.monotonic()
            page.evaluate("""() => echarts.getInstanceByDom(document.querySelector('#line-chart'))
                .dispatchAction({type: 'dataZoom', start: 40, end: 45})""")
            page.wait_for_function("document.querySelector('#line-chart').dataset.zoomed !== undefined", timeout=60_000)
            results["zoom"].append(time.monotonic() - t0)
            page.close()

            # 3. parallel coordinates, 1,000 runs: brushing (chart re-render, then the table's reload)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/experiments/bench-parallel")
            chart_ready(page, "#parallel-chart", "o.series[0].data.length === 1000")
            renders = page.evaluate("""() => { const c = echarts.getInstanceByDom(document.querySelector('#parallel-chart'));
                const times = []; for (let i = 0; i < 20; i++) { const t = performance.now();
                  c.dispatchAction({type: 'axisAreaSelect', parallelAxisIndex: 1, intervals: [[1e-5 * (1 + i), 1e-2]]});
                  times.push(performance.now() - t); } return times; }""")
            results["brush_render"].append(statistics.median(renders) / 1000)
            t0 = time.monotonic()
            page.wait_for_function("document.querySelector('#brush-filter') !== null", timeout=60_000)
            page.wait_for_function("!document.querySelector('#busy') || document.querySelector('#busy').hidden", timeout=120_000)
            results["brush_table"].append(time.monotonic() - t0)
            page.close()
        browser.close()
    for key, values in results.items():
        print(f"{key}: " + ", ".join(f"{v:.3f}" for v in values), flush=True)
    return {k: statistics.median(v) for k, v in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before-static", type=Path, default=None,
                        help="another copy of the dashboard's static folder (e.g. `git archive REV "
                             "layers/core/python/skytune/dashboard/static | tar -x -C build/before`): the "
                             "experiment page is measured with it too, alternating, in the same run")
    args = parser.parse_args()
    side = SkytuneSide(ROOT)
    try:
        loaded = load(side, args.runs, args.points)
        port = free_port()
        if args.before_static is not None:
            serve_static_from_override()
        server = serve(side.stack.http_api(), "127.0.0.1", port)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        timings = ServerTimings(side.stack.functions)
        figures = measure(f"http://127.0.0.1:{port}", loaded["curve_ids"], args.runs, args.repeats, timings, args.before_static)
        server.shutdown()
    finally:
        side.stop()
    budget = {"before_table": None, "before_interactive": 1.5, "table": None, "interactive": 1.5, "line_nav": None, "line_first": 1.0, "line_toggle": None, "zoom": 0.5,
              "brush_render": None, "brush_table": None}
    print(json.dumps({"runs": args.runs, "points": args.points, "load_s": round(loaded["load_s"], 1),
                      "load_average": [round(x, 2) for x in os.getloadavg()],
                      **{k: round(v, 3) for k, v in figures.items()}}, indent=1))
    for key, value in figures.items():
        limit = budget[key]
        print(f"| {key} | {value:.3f} s | {'≤ ' + str(limit) + ' s' if limit else ''} | {'' if limit is None else ('met' if value <= limit else 'missed')} |")


if __name__ == "__main__":
    main()
