// The experiment view: runs table (columns, sort, filter, query builder, selection, cursor paging,
// CSV) and charts of the selected (or filtered) runs. State lives in the URL (app.js setState).
import { get, post, request, enc } from "../api.js";
import { h, fmt, errorBox } from "../dom.js";
import { state, setState } from "../app.js";
import { chart, chartBox, dispose, disposeAll, smooth, lineOption, barOption, scatterOption, parallelOption } from "../charts.js";
import { queryBuilder, quoteName } from "../querybuilder.js";

const PAGE = 50;
const CHART_RUNS = 1000;   // runs fed to bar / parallel / scatter (one search page)
const LINE_RUNS = 20;      // runs drawn in the line chart
const SERIES_POINTS = 600; // server-side downsampling target per series and view
const ATTRS = ["run_id", "name", "experiment", "trial", "status", "created", "started", "ended", "source", "parent"];

const list = (text) => (text ? text.split(",").map((s) => s.trim()).filter(Boolean) : []);
const metricOf = (column) => { const m = column.match(/^metrics\.(`(?:[^`]|``)*`|[^.]+)\.(\w+)$/); return m ? { name: m[1].startsWith("`") ? m[1].slice(1, -1).replaceAll("``", "`") : m[1], stat: m[2] } : null; };

export function parseOrder(text) {
  return list(text).map((part) => { const m = part.match(/^(.*?)(?:\s+(ASC|DESC))?$/i); return { field: m[1].trim(), dir: (m[2] || "ASC").toUpperCase() }; });
}
export const orderText = (keys) => keys.map((k) => `${k.field} ${k.dir}`).join(", ");

// Click: sort by this column alone (again: flip). Shift-click: add it as a further key (again: flip).
export function clickSort(keys, field, shift) {
  const found = keys.find((k) => k.field === field);
  if (shift) {
    if (found) return keys.map((k) => (k.field === field ? { field, dir: k.dir === "ASC" ? "DESC" : "ASC" } : k));
    return [...keys, { field, dir: "ASC" }];
  }
  if (found && keys.length === 1) return [{ field, dir: found.dir === "ASC" ? "DESC" : "ASC" }];
  return [{ field, dir: "ASC" }];
}

export async function experimentPage(app, experiment) {
  // every column the runs have: the keys of full rows (a search without `columns`), which cost the
  // server a read of each run, so only the table's first page asks for them; the charts' search
  // names its columns and is answered from the experiment index alone (see chartColumns)
  let allColumns = [];
  let tableRows = [], chartRows = [];
  let cursors = [null], pageIndex = 0, nextCursor = null;
  const st = () => state();
  // the user's filter as typed (so the API's error positions match it), AND the brushed ranges
  const filterOf = () => (st().f && st().b ? `(${st().f}) AND ${st().b}` : st().f || st().b || "");
  const selected = () => new Set(list(st().sel));

  // ---- controls ----
  const filterInput = h("input.filter", { type: "text", id: "filter", value: st().f || "", placeholder: "filter, e.g. params.lr < 0.01 AND metrics.val_loss.at(10) < 0.3 (Enter)" });
  const filterError = h("div.error", { id: "filter-error", hidden: true });
  const brushInfo = h("div.row", { id: "brush-info" });
  const countInfo = h("span.muted", { id: "page-info" });
  const table = h("table", { id: "runs" });
  const columnsBox = h("div.panel", { id: "columns-picker", hidden: true });
  const qbBox = h("div", { id: "qb-box" });
  const prev = h("button", { id: "prev-page", onclick: () => { if (pageIndex > 0) { pageIndex -= 1; loadTable(); } } }, "‹ prev");
  const next = h("button", { id: "next-page", onclick: () => { if (nextCursor) { cursors[pageIndex + 1] = nextCursor; pageIndex += 1; loadTable(); } } }, "next ›");
  const apply = (text) => { filterInput.value = text; setState({ f: text, b: null, sel: null }); resetPaging(); reloadAll(); };
  filterInput.addEventListener("keydown", (e) => { if (e.key === "Enter") apply(filterInput.value.trim()); });
  const chartsBox = h("div.charts", { id: "charts" });

  app.append(
    h("h1", {}, "Experiment ", h("span", { id: "experiment-name" }, experiment)),
    h("div.row", {}, filterInput, h("button.primary", { id: "apply-filter", onclick: () => apply(filterInput.value.trim()) }, "Filter"),
      h("button", { id: "toggle-qb", onclick: () => { qbBox.hidden = !qbBox.hidden; } }, "Query builder"),
      h("button", { id: "toggle-columns", onclick: () => { columnsBox.hidden = !columnsBox.hidden; } }, "Columns"),
      h("button", { id: "export-csv", onclick: exportCsv }, "Export CSV")),
    filterError, qbBox, columnsBox, brushInfo,
    h("div.row", {}, prev, next, countInfo,
      h("button", { id: "clear-selection", onclick: () => { setState({ sel: null }); drawTable(); loadCharts(); } }, "clear selection")),
    h("div.table-wrap", {}, table), chartsBox);
  qbBox.hidden = true;

  function reloadAll() { drawBrush(); loadTable(); loadCharts(); }
  function resetPaging() { cursors = [null]; pageIndex = 0; nextCursor = null; }
  function showError(error) {
    filterError.hidden = !error;
    filterError.textContent = error ? `${error.code ? error.code + ": " : ""}${error.message}` : "";
  }

  function visibleColumns() {
    const chosen = list(st().c);
    if (chosen.length) return chosen;
    const params = allColumns.filter((c) => c.startsWith("params.")).slice(0, 6);
    const metrics = allColumns.filter((c) => /^metrics\..*\.last$/.test(c)).slice(0, 4);
    return ["name", "status", "created", ...params, ...metrics];
  }

  // ---- table ----
  let tableTicket = 0, chartTicket = 0;  // answers to superseded requests are dropped
  const learnColumns = (rows) => {
    const seen = new Set(allColumns);
    for (const row of rows) for (const key of Object.keys(row)) if (!seen.has(key)) { seen.add(key); allColumns.push(key); }
  };
  let discovered = null;  // the first full-row page, once
  function discover(tableAnswer) {
    if (!discovered) {
      discovered = (list(st().c).length || !tableAnswer
        ? post("/v1/runs/search", { experiments: [experiment], limit: PAGE, filter: st().f || undefined, order_by: st().o || undefined })
        : tableAnswer).then((page) => learnColumns(page.rows)).catch(() => { discovered = null; });
    }
    return discovered;
  }

  async function loadTable() {
    const ticket = ++tableTicket;
    const body = { experiments: [experiment], limit: PAGE, filter: filterOf() || undefined,
      order_by: st().o || undefined, cursor: cursors[pageIndex] || undefined };
    if (list(st().c).length) body.columns = ["run_id", ...list(st().c).filter((c) => c !== "run_id")];
    try {
      const answer = post("/v1/runs/search", body);
      if (!discovered && !body.columns) discover(answer);
      const page = await answer;
      if (ticket !== tableTicket) return;
      if (!body.columns) learnColumns(page.rows);
      showError(null);
      tableRows = page.rows; nextCursor = page.next_cursor || null;
    } catch (error) { if (ticket !== tableTicket) return; showError(error); tableRows = []; nextCursor = null; }
    drawTable();
  }

  function drawTable() {
    const cols = visibleColumns();
    const keys = parseOrder(st().o);
    const sel = selected();
    const head = h("tr", {}, h("th", {}, ""), ...cols.map((col) => {
      const i = keys.findIndex((k) => k.field === col);
      return h("th.sortable", { dataset: { col }, title: "click: sort; shift-click: add a sort key",
        onclick: (e) => { setState({ o: orderText(clickSort(parseOrder(st().o), col, e.shiftKey)) || null }); resetPaging(); loadTable(); loadCharts(); } },
        col, i >= 0 ? h("span.sort", {}, (keys[i].dir === "ASC" ? "▲" : "▼") + (keys.length > 1 ? i + 1 : "")) : null);
    }));
    const rows = tableRows.map((row) => h("tr", { dataset: { runId: row.run_id } },
      h("td", {}, h("input.select-run", { type: "checkbox", checked: sel.has(row.run_id), onchange: (e) => {
        const now = selected(); e.target.checked ? now.add(row.run_id) : now.delete(row.run_id);
        setState({ sel: [...now].join(",") }); loadCharts(); } })),
      ...cols.map((col) => {
        const value = row[col];
        const cell = h(typeof value === "number" ? "td.num" : "td", { dataset: { col } });
        if (col === "name") cell.append(h("a", { href: `/runs/${enc(row.run_id)}` }, fmt(value, col)));
        else cell.textContent = fmt(value, col);
        return cell;
      })));
    table.replaceChildren(h("thead", {}, head), h("tbody", {}, rows.length ? rows : [h("tr", {}, h("td.muted", { colSpan: cols.length + 1 }, "no runs"))]));
    prev.disabled = pageIndex === 0; next.disabled = !nextCursor;
    countInfo.textContent = `page ${pageIndex + 1} · ${tableRows.length} runs shown${sel.size ? ` · ${sel.size} selected` : ""}`;
  }

  function drawColumnsPicker() {
    const chosen = new Set(visibleColumns());
    const groups = [["attributes", ATTRS], ["params", allColumns.filter((c) => c.startsWith("params."))],
      ["metrics", allColumns.filter((c) => c.startsWith("metrics."))], ["tags", allColumns.filter((c) => c.startsWith("tags."))]];
    const custom = h("input", { type: "text", id: "custom-column", placeholder: "another field, e.g. metrics.loss.at(10)", size: 36 });
    columnsBox.replaceChildren(...groups.map(([label, cols]) => h("div", {}, h("strong", {}, label),
      h("div.columns-picker", {}, ...cols.map((col) => h("label", {}, h("input", { type: "checkbox", value: col, checked: chosen.has(col),
        onchange: (e) => { const now = visibleColumns().filter((c) => c !== col); if (e.target.checked) now.push(col);
          setState({ c: now.join(",") }); loadTable(); } }), col))))),
    h("div.row", {}, custom, h("button", { id: "add-column", onclick: () => { if (custom.value.trim()) { setState({ c: [...visibleColumns(), custom.value.trim()].join(",") }); drawColumnsPicker(); loadTable(); } } }, "add column")));
  }

  // ---- charts ----
  const metricNames = () => [...new Set(allColumns.map(metricOf).filter(Boolean).map((m) => m.name))];
  const numericFields = () => allColumns.filter((c) => c.startsWith("params.") && chartRows.some((r) => typeof r[c] === "number"));
  const paramFields = () => allColumns.filter((c) => c.startsWith("params."));
  const summaryFields = () => allColumns.filter((c) => c.startsWith("metrics."));
  // a setting naming a column the chart rows lack re-runs the charts' search
  const select = (id, options, value, key) => h("select", { id, onchange: (e) => { setState({ [key]: e.target.value });
    if (chartColumns().every((c) => fetched.has(c))) drawCharts(); else loadCharts(); } },
    ...options.map((o) => h("option", { value: o, selected: o === value }, o)));

  // What each chart shows, from the URL state and the known columns (drawCharts draws these).
  function chartSettings() {
    const s = st();
    const metrics = metricNames();
    const summaries = summaryFields();
    const params = paramFields();
    const metric = s.m && metrics.includes(s.m) ? s.m : metrics[0];
    const barField = s.bar && summaries.includes(s.bar) ? s.bar : summaries.find((c) => c.endsWith(".max")) || summaries[0];
    return { s, metrics, summaries, params, metric, barField,
      pm: s.pm && summaries.includes(s.pm) ? s.pm : barField,
      dims: (list(s.pd).length ? list(s.pd) : params.slice(0, 8)).filter((d) => allColumns.includes(d)),
      sy: s.sy && summaries.includes(s.sy) ? s.sy : barField };
  }
  // The columns the charts read: names, every param (parallel axes, scatter, numeric detection), the
  // line metric's count (which runs logged it) and the summaries on show.
  function chartColumns() {
    const c = chartSettings();
    const wanted = ["run_id", "name", ...c.params, ...c.dims, c.barField, c.pm, c.sy];
    if (c.metric) wanted.push(`metrics.${quoteName(c.metric)}.count`);
    return [...new Set(wanted.filter(Boolean))];
  }
  let fetched = new Set();
  async function loadCharts() {
    const ticket = ++chartTicket;
    await discover();
    if (ticket !== chartTicket) return;
    const sel = [...selected()];
    const filter = sel.length ? `run_id IN (${sel.map((id) => `'${id}'`).join(", ")})` : (st().f || undefined);
    const columns = chartColumns();
    try {
      const page = await post("/v1/runs/search", { experiments: [experiment], limit: CHART_RUNS, filter, order_by: st().o || undefined, columns });
      if (ticket !== chartTicket) return;
      chartRows = page.rows; fetched = new Set(columns); lineHeld = null;
    } catch (error) { if (ticket !== chartTicket) return; chartRows = []; fetched = new Set(); }
    drawCharts();
  }

  let lineRequest = 0;
  let lineHeld = null;  // { metric, ids, coarse }: the line chart's last series, reused by display toggles
  let redrawLine = () => {};
  function drawCharts() {
    disposeAll();
    const { s, metrics, metric, summaries, params, barField, pm, dims, sy } = chartSettings();
    const numeric = numericFields();
    const boxes = [];
    if (!chartRows.length || !metric) { chartsBox.replaceChildren(h("div.muted", {}, "no runs with metrics to chart")); return; }

    // line chart
    const smoothing = Number(s.s || 0);
    const line = chartBox("line-chart", "Metric over step",
      select("line-metric", metrics, metric, "m"),
      h("label", {}, "smoothing ", h("input", { type: "range", id: "line-smoothing", min: 0, max: 0.99, step: 0.01, value: smoothing,
        onchange: (e) => { setState({ s: e.target.value === "0" ? null : e.target.value }); redrawLine(); } })),
      h("label", {}, h("input", { type: "checkbox", id: "line-log", checked: s.log === "1", onchange: (e) => { setState({ log: e.target.checked }); redrawLine(); } }), " log scale"),
      h("label", {}, h("input", { type: "checkbox", id: "line-time", checked: s.x === "time", onchange: (e) => { setState({ x: e.target.checked ? "time" : null }); redrawLine(); } }), " wall time"));
    // smoothing, log scale and wall time redraw the line chart alone, from the series already fetched
    redrawLine = () => { const now = st(); dispose(line.el); drawLine(line.el, metric, Number(now.s || 0), now.log === "1", now.x === "time"); };
    boxes.push(line.panel);

    // bar chart of a summary
    const bar = chartBox("bar-chart", "Summary per run", select("bar-field", summaries, barField, "bar"),
      select("bar-order", ["desc", "asc"], s.bo || "desc", "bo"));
    boxes.push(bar.panel);

    // parallel coordinates
    const par = chartBox("parallel-chart", "Parallel coordinates (brush an axis to filter the table)", select("parallel-metric", summaries, pm, "pm"));
    boxes.push(par.panel);

    // scatter param vs metric
    const sx = s.sx && params.includes(s.sx) ? s.sx : numeric[0] || params[0];
    const sc = chartBox("scatter-chart", "Param vs metric", select("scatter-x", params, sx, "sx"), select("scatter-y", summaries, sy, "sy"));
    boxes.push(sc.panel);

    // group-by bands
    const groupKeys = [...params, ...allColumns.filter((c) => c.startsWith("tags.")), "status", "trial"];
    const gk = s.gk && groupKeys.includes(s.gk) ? s.gk : params[0] || "status";
    const gm = s.gm && metrics.includes(s.gm) ? s.gm : metric;
    const gb = chartBox("group-chart", "Group mean ± std over steps", select("group-key", groupKeys, gk, "gk"), select("group-metric", metrics, gm, "gm"));
    const gbError = h("div.error", { id: "group-error", hidden: true });
    gb.panel.append(gbError);
    boxes.push(gb.panel);
    chartsBox.replaceChildren(...boxes);

    drawLine(line.el, metric, smoothing, s.log === "1", s.x === "time");
    const ranked = chartRows.filter((r) => typeof r[barField] === "number").sort((a, b) => (s.bo === "asc" ? a[barField] - b[barField] : b[barField] - a[barField])).slice(0, 60);
    chart(bar.el).setOption(barOption({ names: ranked.map((r) => r.name), values: ranked.map((r) => r[barField]), label: barField }));
    const parDims = [...dims, pm];
    const parChart = chart(par.el);
    parChart.setOption(parallelOption({ dims: parDims, rows: chartRows.map((r) => parDims.map((d) => r[d] ?? null)), names: chartRows.map((r) => r.name) }));
    let brushTimer = null;
    parChart.on("axisareaselected", () => { clearTimeout(brushTimer); brushTimer = setTimeout(() => brushToFilter(parChart, parDims), 150); });
    chart(sc.el).setOption(scatterOption({ xName: sx, yName: sy, points: chartRows.filter((r) => r[sx] != null && typeof r[sy] === "number").map((r) => [r[sx], r[sy], r.name]) }));
    drawGroups(gb.el, gbError, gk, gm);
  }

  async function drawLine(el, metric, smoothing, logScale, wallTime) {
    const ticket = ++lineRequest;
    const has = `metrics.${quoteName(metric)}.count`;  // only runs that logged the metric
    const runs = chartRows.filter((r) => r[has]).slice(0, LINE_RUNS);
    // one request for every run's series (POST /v1/analytics/series), downsampled server-side
    const fetchSeries = async (range) => {
      if (!runs.length) return [];
      const body = { runs: runs.map((r) => r.run_id), metrics: [metric], max_points: SERIES_POINTS };
      if (range) { body.min_step = Math.max(0, Math.floor(range[0])); body.max_step = Math.max(body.min_step, Math.ceil(range[1])); }
      const answer = await post("/v1/analytics/series", body);
      const byRun = new Map(answer.series.map((s) => [s.run_id, s]));
      return runs.map((run) => { const s = byRun.get(run.run_id);
        return { points: s ? s.steps.map((step, i) => ({ step, timestamp_ms: s.timestamps_ms[i], value: s.values[i] })) : [] }; });
    };
    const toData = (points) => smooth(points.map((p) => [wallTime ? p.timestamp_ms : p.step, p.value]), smoothing)
      .map((p, i) => (logScale && p[1] <= 0 ? [p[0], null] : [...p, points[i].step]));
    const ids = runs.map((r) => r.run_id).join(",");
    let coarse;
    if (lineHeld && lineHeld.metric === metric && lineHeld.ids === ids) coarse = lineHeld.coarse;
    else {
      try { coarse = await fetchSeries(); lineHeld = { metric, ids, coarse }; } catch { coarse = runs.map(() => ({ points: [] })); }
    }
    if (ticket !== lineRequest) return;
    const instance = chart(el);
    instance.setOption(lineOption({ xName: wallTime ? "time" : "step", yName: metric, logScale,
      series: runs.map((run, i) => ({ id: run.run_id, name: run.name, data: toData(coarse[i].points) })) }));
    if (wallTime) return;
    let zoomTimer = null, zoomTicket = 0;
    instance.on("datazoom", () => {
      clearTimeout(zoomTimer);
      zoomTimer = setTimeout(async () => {  // a short debounce: a wheel or a slider drag sends bursts
        const zoom = ++zoomTicket;
        const [lo, hi] = instance.getModel().getComponent("xAxis", 0).axis.scale.getExtent();
        let fine;
        try { fine = await fetchSeries([lo, hi]); } catch { fine = runs.map(() => ({ points: [] })); }
        if (ticket !== lineRequest || zoom !== zoomTicket || instance.isDisposed()) return;
        // finer points inside the view, the coarse ones outside it: the axis extent stays put
        instance.setOption({ series: runs.map((run, i) => ({ id: run.run_id, data: toData([
          ...coarse[i].points.filter((p) => p.step < lo), ...fine[i].points, ...coarse[i].points.filter((p) => p.step > hi)]) })) });
        el.dataset.zoomed = `${Math.floor(lo)}-${Math.ceil(hi)}`;
      }, 50);
    });
  }

  function brushToFilter(parChart, dims) {
    const conds = [];
    dims.forEach((dim, i) => {
      const axis = parChart.getModel().getComponent("parallelAxis", i);
      const intervals = axis.activeIntervals || [];
      if (!intervals.length) return;
      if (axis.get("type") === "category") {
        const data = axis.get("data");
        const picked = data.filter((_, k) => intervals.some(([a, b]) => k >= a && k <= b));
        conds.push(`${dim} IN (${picked.map((v) => `'${String(v).replaceAll("'", "\\'")}'`).join(", ") || "''"})`);
      } else {
        const parts = intervals.map(([a, b]) => `(${dim} >= ${+a.toPrecision(6)} AND ${dim} <= ${+b.toPrecision(6)})`);
        conds.push(parts.length > 1 ? `(${parts.join(" OR ")})` : parts[0]);
      }
    });
    setState({ b: conds.join(" AND ") || null });
    drawBrush(); resetPaging(); loadTable();
  }

  function drawBrush() {
    const b = st().b;
    brushInfo.replaceChildren(...(b ? [h("span.chip", { id: "brush-filter" }, "brushed: " + b),
      h("button", { id: "clear-brush", onclick: () => { setState({ b: null }); drawBrush(); resetPaging(); loadTable(); drawCharts(); } }, "clear")] : []));
  }

  async function drawGroups(el, errorEl, key, metric) {
    const m = `metrics.${quoteName(metric)}`;
    const base = { experiments: [experiment], filter: st().f || undefined };
    try {
      const range = await post("/v1/analytics/group-by", { ...base, group_by: key, aggregates: `min(${m}.min_step), max(${m}.max_step)` });
      const lo = Math.min(...range.groups.map((g) => g[`min(${m}.min_step)`]).filter((v) => v != null));
      const hi = Math.max(...range.groups.map((g) => g[`max(${m}.max_step)`]).filter((v) => v != null));
      if (!Number.isFinite(lo) || !Number.isFinite(hi)) return;
      const bins = Math.max(1, Math.min(24, hi - lo + 1));
      const edges = Array.from({ length: bins + 1 }, (_, i) => Math.round(lo + ((hi - lo + 1) * i) / bins));
      const windows = edges.slice(0, -1).map((a, i) => [a, Math.max(a, edges[i + 1] - 1)]);
      const aggs = windows.flatMap(([a, b]) => [`mean(${m}.window(${a}, ${b}).avg)`, `std(${m}.window(${a}, ${b}).avg)`]);
      const result = await post("/v1/analytics/group-by", { ...base, group_by: key, aggregates: aggs.join(", ") });
      errorEl.hidden = true;
      const series = [];
      result.groups.slice(0, 8).forEach((g) => {
        const label = `${key}=${fmt(g[key])}`;
        const xs = windows.map(([a, b]) => (a + b) / 2);
        const mean = windows.map(([a, b]) => g[`mean(${m}.window(${a}, ${b}).avg)`]);
        const std = windows.map(([a, b]) => g[`std(${m}.window(${a}, ${b}).avg)`] ?? 0);
        series.push({ type: "line", name: `${label} −std`, stack: label, data: xs.map((x, i) => [x, mean[i] == null ? null : mean[i] - std[i]]), lineStyle: { opacity: 0 }, symbol: "none", tooltip: { show: false } });
        series.push({ type: "line", name: `${label} ±std`, stack: label, data: xs.map((x, i) => [x, mean[i] == null ? null : 2 * std[i]]), lineStyle: { opacity: 0 }, areaStyle: { opacity: 0.2 }, symbol: "none" });
        series.push({ type: "line", name: label, data: xs.map((x, i) => [x, mean[i]]), showSymbol: false });
      });
      chart(el).setOption({ animation: false, tooltip: { trigger: "axis" }, legend: { type: "scroll", top: 0, data: series.filter((x) => !/std$/.test(x.name)).map((x) => x.name) },
        grid: { left: 60, right: 20, top: 50, bottom: 30 }, xAxis: { type: "value", name: "step", scale: true }, yAxis: { type: "value", name: metric, scale: true }, series });
    } catch (error) { errorEl.hidden = false; errorEl.textContent = error.message; }
  }

  async function exportCsv() {
    const columns = visibleColumns();
    let cursor, text = "", first = true;
    try {
      do {
        const response = await request("POST", "/v1/analytics/table", { experiments: [experiment], filter: filterOf() || undefined,
          order_by: st().o || undefined, columns, format: "csv", limit: 1000, cursor }, { raw: true });
        const chunk = await response.text();
        text += first ? chunk : chunk.slice(chunk.indexOf("\r\n") + 2);  // one header line
        first = false;
        cursor = response.headers.get("x-next-cursor") || undefined;
      } while (cursor);
    } catch (error) { showError(error); return; }
    const link = h("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })), download: `${experiment}.csv`, id: "csv-link" });
    document.body.append(link); link.click(); link.remove();
  }

  drawBrush();
  await Promise.all([loadTable(), loadCharts()]);
  drawTable(); drawColumnsPicker();
  qbBox.append(queryBuilder({ fields: [...ATTRS.map((a) => ({ value: a })), ...allColumns.filter((c) => !ATTRS.includes(c)).map((c) => ({ value: c }))],
    metrics: metricNames(), onApply: (text) => apply(text) }));
  return () => disposeAll();
}
