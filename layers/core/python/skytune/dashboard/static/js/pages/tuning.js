// Tuning jobs: the list, and a job page that polls while the job runs (no reload needed).
import { get, post, enc } from "../api.js";
import { h, fmt, when, errorBox } from "../dom.js";
import { state, setState } from "../app.js";
import { chart, chartBox, chartsReady, disposeAll, scatterOption, parallelOption } from "../charts.js";

const POLL_MS = 2000;
const RUNNING = new Set(["InProgress", "Stopping"]);
const value = (text) => { const n = Number(text); return text !== "" && Number.isFinite(n) ? n : text; };

export async function tuningJobsPage(app) {
  const body = h("tbody");
  app.append(h("h1", {}, "Tuning jobs"), h("table", { id: "tuning-jobs" }, h("thead", {}, h("tr", {},
    ...["Job", "Status", "Strategy", "Completed", "In progress", "Failed", "Stopped", "Created"].map((t) => h("th", {}, t)))), body));
  let jobs = [];
  try {
    let cursor = null;
    do {
      const page = await get(`/v1/tuning-jobs?limit=100${cursor ? "&cursor=" + enc(cursor) : ""}`);
      jobs = jobs.concat(page.HyperParameterTuningJobSummaries); cursor = page.NextToken;
    } while (cursor);
  } catch (error) { app.append(errorBox(error)); return; }
  body.replaceChildren(...jobs.map((j) => { const c = j.TrainingJobStatusCounters; return h("tr", { dataset: { name: j.HyperParameterTuningJobName } },
    h("td", {}, h("a", { href: `/tuning-jobs/${enc(j.HyperParameterTuningJobName)}` }, j.HyperParameterTuningJobName)),
    h("td", {}, j.HyperParameterTuningJobStatus), h("td", {}, j.Strategy), h("td.num", {}, c.Completed), h("td.num", {}, c.InProgress),
    h("td.num", {}, c.NonRetryableError), h("td.num", {}, c.Stopped), h("td", {}, when(j.CreationTime))); }));
  if (!jobs.length) body.append(h("tr", {}, h("td.muted", { colSpan: 8 }, "no tuning jobs")));
}

export async function tuningJobPage(app, name) {
  let timer = null, alive = true, job = null, trials = [], importance = null;
  const header = h("div", { id: "job-header" });
  const errorEl = h("div.error", { id: "job-error", hidden: true });
  const trialsTable = h("table", { id: "trials" });
  const charts = h("div.charts", { id: "job-charts" });
  app.append(h("h1", {}, "Tuning job ", h("span", { id: "job-name" }, name)), header, errorEl, charts, h("h2", {}, "Trials"), h("div.table-wrap", {}, trialsTable));

  async function load() {
    try {
      const [described, listed] = await Promise.all([get(`/v1/tuning-jobs/${enc(name)}`), listTrials(), chartsReady()]);
      job = described; trials = listed;
      if (!importance || RUNNING.has(job.HyperParameterTuningJobStatus) || importance.trials !== scored().length)
        importance = await get(`/v1/tuning-jobs/${enc(name)}/importance`);
      errorEl.hidden = true;
    } catch (error) { errorEl.hidden = false; errorEl.textContent = error.message; }
    if (!alive || !job) return;
    draw();
    if (RUNNING.has(job.HyperParameterTuningJobStatus)) timer = setTimeout(load, POLL_MS);
  }

  async function listTrials() {
    let all = [], cursor = null;
    do {
      const page = await get(`/v1/tuning-jobs/${enc(name)}/trials?limit=1000${cursor ? "&cursor=" + enc(cursor) : ""}`);
      all = all.concat(page.TrainingJobSummaries); cursor = page.NextToken;
    } while (cursor);
    return all.sort((a, b) => a.TrainingJobNumber - b.TrainingJobNumber);
  }

  const objective = () => job.HyperParameterTuningJobConfig.HyperParameterTuningJobObjective;
  const scored = () => trials.filter((t) => t.FinalHyperParameterTuningJobObjectiveMetric);
  const objOf = (t) => t.FinalHyperParameterTuningJobObjectiveMetric?.Value;

  function draw() {
    const counters = job.TrainingJobStatusCounters;
    const status = job.HyperParameterTuningJobStatus;
    const best = job.BestTrainingJob;
    const obj = objective();
    header.replaceChildren(
      h("div.row.counters", {}, h("span.chip", { id: "job-status" }, status),
        ...Object.entries(counters).map(([k, v]) => h("span", { dataset: { counter: k } }, `${k}: `, h("strong", {}, v))),
        RUNNING.has(status) ? h("button.danger", { id: "stop-job", onclick: stop }, "Stop") : null),
      h("div.row", { id: "best-trial" }, h("strong", {}, "Best trial: "), best
        ? [h("a", { href: best.RunId ? `/runs/${enc(best.RunId)}` : "#" }, best.TrainingJobName), ` ${obj.MetricName} = ${fmt(best.FinalHyperParameterTuningJobObjectiveMetric.Value)} `,
          h("span.muted", {}, Object.entries(best.TunedHyperParameters).map(([k, v]) => `${k}=${v}`).join(", "))]
        : h("span.muted", {}, "none yet")));
    drawTrials();
    drawCharts();
  }

  async function stop() {
    try { job = await post(`/v1/tuning-jobs/${enc(name)}/stop`); draw(); clearTimeout(timer); timer = setTimeout(load, 300); }
    catch (error) { errorEl.hidden = false; errorEl.textContent = error.message; }
  }

  function drawTrials() {
    const params = [...new Set(trials.flatMap((t) => Object.keys(t.TunedHyperParameters)))].sort();
    const cols = ["#", "trial", "status", "objective", ...params];
    const sort = state().ts || "#";
    const desc = state().td === "1";
    const keyOf = (t, col) => col === "#" ? t.TrainingJobNumber : col === "trial" ? t.TrainingJobName : col === "status" ? t.TrainingJobStatus
      : col === "objective" ? objOf(t) : value(t.TunedHyperParameters[col] ?? "");
    const rows = [...trials].sort((a, b) => {
      const x = keyOf(a, sort), y = keyOf(b, sort);
      if (x === undefined || x === null) return 1; if (y === undefined || y === null) return -1;
      return (x < y ? -1 : x > y ? 1 : 0) * (desc ? -1 : 1);
    });
    trialsTable.replaceChildren(
      h("thead", {}, h("tr", {}, ...cols.map((col) => h("th.sortable", { dataset: { col }, onclick: () => {
        setState({ ts: col, td: sort === col && !desc }); drawTrials(); } }, col, sort === col ? h("span.sort", {}, desc ? "▼" : "▲") : null)))),
      h("tbody", {}, rows.map((t) => h("tr", { dataset: { trial: t.TrainingJobName } },
        h("td.num", {}, t.TrainingJobNumber),
        h("td", {}, t.RunId ? h("a", { href: `/runs/${enc(t.RunId)}` }, t.TrainingJobName) : t.TrainingJobName),
        h("td", {}, t.TrainingJobStatus), h("td.num", {}, fmt(objOf(t))),
        ...params.map((p) => h("td.num", {}, t.TunedHyperParameters[p] ?? ""))))));
  }

  function drawCharts() {
    disposeAll();
    const obj = objective();
    const maximize = obj.Type === "Maximize";
    const params = [...new Set(trials.flatMap((t) => Object.keys(t.TunedHyperParameters)))].sort();
    const sp = state().hp && params.includes(state().hp) ? state().hp : (importance && Object.keys(importance.importances || {})[0]) || params[0];
    const history = chartBox("objective-chart", `${obj.MetricName} per trial (best so far)`);
    const imp = chartBox("importance-chart", "Hyperparameter importance");
    const scatter = chartBox("hp-scatter", "Hyperparameter vs objective",
      h("select", { id: "hp-select", onchange: (e) => { setState({ hp: e.target.value }); drawCharts(); } }, ...params.map((p) => h("option", { value: p, selected: p === sp }, p))));
    const par = chartBox("hp-parallel", "Parallel coordinates");
    charts.replaceChildren(history.panel, imp.panel, scatter.panel, par.panel);
    const done = scored();
    let best = null;
    const bestLine = done.map((t) => { const v = objOf(t); best = best === null ? v : maximize ? Math.max(best, v) : Math.min(best, v); return [t.TrainingJobNumber, best]; });
    chart(history.el).setOption({ animation: false, tooltip: { trigger: "item" }, legend: { top: 0 },
      grid: { left: 60, right: 20, top: 30, bottom: 30 }, xAxis: { type: "value", name: "trial", minInterval: 1 }, yAxis: { type: "value", name: obj.MetricName, scale: true },
      series: [{ type: "scatter", name: "objective", data: done.map((t) => [t.TrainingJobNumber, objOf(t), t.TrainingJobName]) },
        { type: "line", name: "best so far", step: "end", showSymbol: false, data: bestLine }] });
    const shares = Object.entries((importance && importance.importances) || {});
    chart(imp.el).setOption({ animation: false, tooltip: { trigger: "axis" }, grid: { left: 100, right: 20, top: 10, bottom: 30 },
      xAxis: { type: "value", max: 1 }, yAxis: { type: "category", data: shares.map(([k]) => k).reverse() },
      series: [{ type: "bar", name: "importance", data: shares.map(([, v]) => v).reverse() }] });
    if (!shares.length) imp.panel.append(h("div.muted", {}, `needs 3 or more scored trials (${done.length} so far)`));
    chart(scatter.el).setOption(scatterOption({ xName: sp || "", yName: obj.MetricName,
      points: done.filter((t) => sp in t.TunedHyperParameters).map((t) => [value(t.TunedHyperParameters[sp]), objOf(t), t.TrainingJobName]) }));
    const dims = [...params, obj.MetricName];
    chart(par.el).setOption(parallelOption({ dims, names: done.map((t) => t.TrainingJobName),
      rows: done.map((t) => [...params.map((p) => (p in t.TunedHyperParameters ? value(t.TunedHyperParameters[p]) : null)), objOf(t)]) }));
  }

  await load();
  return () => { alive = false; clearTimeout(timer); disposeAll(); };
}
