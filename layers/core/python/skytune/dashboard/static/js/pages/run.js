import { get, post, enc } from "../api.js";
import { h, fmt, when, errorBox } from "../dom.js";
import { chart, chartBox, disposeAll, lineOption } from "../charts.js";

const kv = (id, entries) => h("table.kv", { id }, h("tbody", {}, entries.length ? entries.map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, v))) : [h("tr", {}, h("td.muted", {}, "none"))]));
const SERIES_PER_REQUEST = 50;  // x max_points 1000: the batch read's 50,000-point limit
const runLink = (r) => h("a", { href: `/runs/${enc(r.run_id)}` }, r.name || r.run_id);

// The run's inputs and outputs; those stored under this run's artifacts (uploaded through the
// artifact routes) download through a presigned URL asked for on click (it expires in minutes).
function artifactsTable(run) {
  const own = `mlflow-artifacts:/${run.experiment}/${run.run_id}/artifacts/`;
  const rows = [...run.inputs.map((a) => ["input", a]), ...run.outputs.map((a) => ["output", a])];
  const download = async (a, button) => {
    try {
      const ticket = await get(`/v1/runs/${enc(run.run_id)}/artifacts/download?path=${enc(a.uri.slice(own.length))}`);
      const link = h("a", { href: ticket.url, download: a.name.split("/").pop() });
      document.body.append(link); link.click(); link.remove();
    } catch (error) { button.replaceWith(errorBox(error)); }
  };
  return h("table", { id: "run-artifacts" }, h("thead", {}, h("tr", {}, ...["", "name", "uri", "size", "digest", ""].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.length ? rows.map(([side, a]) => h("tr", { dataset: { side, name: a.name } },
      h("td.muted", {}, side), h("td", {}, a.name), h("td", {}, h("code", {}, a.uri)), h("td.num", {}, a.size === undefined || a.size === null ? "" : bytes(a.size)),
      h("td", {}, h("code.muted", {}, a.digest || "")),
      h("td", {}, side === "output" && a.uri.startsWith(own) ? h("button.download", { onclick: (e) => download(a, e.target) }, "download") : "")))
      : [h("tr", {}, h("td.muted", { colSpan: 6 }, "none"))]));
}

function bytes(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return i ? `${n.toFixed(1)} ${units[i]}` : `${n} B`;
}

export async function runPage(app, runId) {
  let run, lineage, children;
  try {
    let lineageError = null;  // the page stays usable without its lineage
    [run, lineage, children] = await Promise.all([get(`/v1/runs/${enc(runId)}`),
      get(`/v1/runs/${enc(runId)}/lineage`).catch((error) => { lineageError = error; return { upstream: { runs: [], artifacts: [] }, downstream: { runs: [], artifacts: [] } }; }),
      get(`/v1/runs/${enc(runId)}/children`)]);
    if (lineageError) app.append(errorBox(lineageError));
  } catch (error) { app.append(errorBox(error)); return; }
  const metrics = Object.keys(run.metrics).sort();
  const stats = ["last", "min", "max", "avg", "count", "last_step"];
  app.append(
    h("h1", {}, "Run ", h("span", { id: "run-name" }, run.name)),
    h("div.row", {}, h("span.chip", {}, h("a", { href: `/experiments/${enc(run.experiment)}` }, run.experiment)),
      h("span.chip", { id: "run-status" }, run.status), h("span.muted", {}, run.run_id),
      run.trials.length ? h("span.chip", {}, "trials: " + run.trials.join(", ")) : null),
    h("div.charts", {},
      h("div.panel", {}, h("h2", {}, "Attributes"), kv("run-attributes", [["created", when(run.created_at)], ["started", when(run.start_time)],
        ["ended", when(run.end_time)], ["source", run.source || ""], ["parent", run.parent ? h("a", { href: `/runs/${enc(run.parent)}` }, run.parent) : ""]])),
      h("div.panel", {}, h("h2", {}, "Params"), kv("run-params", Object.entries(run.params).sort().map(([k, v]) => [k, fmt(v)]))),
      h("div.panel", {}, h("h2", {}, "Tags"), kv("run-tags", Object.entries(run.tags).sort().map(([k, v]) => [k, v]))),
      h("div.panel", {}, h("h2", {}, "Children"), h("ul", { id: "run-children" }, ...(children.runs.length ? children.runs.map((c) => h("li", {}, runLink(c), " ", h("span.muted", {}, c.status))) : [h("li.muted", {}, "none")])))),
    h("h2", {}, "Metric summaries"),
    h("table", { id: "run-metrics" }, h("thead", {}, h("tr", {}, h("th", {}, "metric"), ...stats.map((s) => h("th", {}, s)))),
      h("tbody", {}, metrics.map((m) => h("tr", { dataset: { metric: m } }, h("td", {}, m), ...stats.map((s) => h("td.num", {}, fmt(run.metrics[m][s]))))))),
    h("h2", {}, "Artifacts"), artifactsTable(run),
    h("h2", {}, "Lineage"),
    h("div.charts", { id: "run-lineage" },
      ...[["upstream", lineage.upstream], ["downstream", lineage.downstream]].map(([label, side]) => h("div.panel", { dataset: { side: label } },
        h("strong", {}, label),
        h("ul", {}, ...side.runs.map((r) => h("li", {}, runLink(r), ` (depth ${r.depth})`)),
          ...side.artifacts.map((a) => h("li", {}, h("code", {}, a.uri))),
          ...(side.runs.length + side.artifacts.length ? [] : [h("li.muted", {}, "none")]))))),
    h("h2", {}, "Metrics"));
  const grid = h("div.charts", { id: "run-charts" });
  app.append(grid);
  const boxes = new Map(metrics.map((metric) => {
    const box = chartBox(`metric-${metric.replace(/[^\w-]/g, "_")}`, metric);
    box.el.dataset.metric = metric;
    grid.append(box.panel);
    return [metric, box];
  }));
  // every chart's series in a few requests (POST /v1/analytics/series: at most 50,000 points each)
  for (let i = 0; i < metrics.length; i += SERIES_PER_REQUEST) {
    const chunk = metrics.slice(i, i + SERIES_PER_REQUEST);
    post("/v1/analytics/series", { runs: [runId], metrics: chunk, max_points: 1000 }).then((answer) => {
      for (const s of answer.series) {
        chart(boxes.get(s.metric).el).setOption(lineOption({ yName: s.metric,
          series: [{ id: runId, name: s.metric, data: s.steps.map((step, k) => [step, s.values[k]]) }] }));
      }
    }).catch((error) => chunk.forEach((metric) => boxes.get(metric).panel.append(errorBox(error))));
  }
  return () => disposeAll();
}
