// Tuning jobs: the list, and a job page that polls while the job runs (no reload needed).
import { get, post, enc } from "../api.js";
import { h, fmt, when, errorBox } from "../dom.js";
import { state, setState } from "../app.js";
import { chart, chartBox, disposeAll, scatterOption, parallelOption } from "../charts.js";

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
      const [described, listed] = await Promise.all([get(`/v1/tuning-jobs/${enc(name)}`), listTrials()]);
      job = described; trials = listed;
      if (!importance || RUNNING.has(job.HyperParameterTuningJobStatus) || importance.trials !== scored().length
          || importance.ObjectiveMetricName !== importanceMetric())
        importance = await get(`/v1/tuning-jobs/${enc(name)}/importance?metric=${enc(importanceMetric())}`);
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
  // skytune's extensions beyond AMT (docs/tuning.md): several objectives and outcome constraints
  const objectives = () => job.HyperParameterTuningJobConfig.HyperParameterTuningJobObjectives || [objective()];
  const constraints = () => job.HyperParameterTuningJobConfig.OutcomeConstraints || [];
  const multi = () => objectives().length > 1;
  const metricOf = (t, name) => {
    const reported = (t.FinalObjectiveMetrics || []).find((m) => m.MetricName === name);
    return reported ? reported.Value : name === objective().MetricName ? objOf(t) : undefined;
  };
  const observedOf = (t, name) => (t.OutcomeConstraintValues || []).find((c) => c.MetricName === name)?.Observed;
  const infeasible = (t) => t.Feasible === false;
  // the metrics whose importance can be asked for: every objective, then every constrained metric
  const importanceMetrics = () => [...new Set([...objectives(), ...constraints()].map((m) => m.MetricName))];
  const importanceMetric = () => (importanceMetrics().includes(state().im) ? state().im : objective().MetricName);
  const paretoNames = () => new Set((job.ParetoFrontTrainingJobs || []).map((t) => t.TrainingJobName));

  function draw() {
    const counters = job.TrainingJobStatusCounters;
    const status = job.HyperParameterTuningJobStatus;
    const best = job.BestTrainingJob;
    const obj = objective();
    header.replaceChildren(
      h("div.row.counters", {}, h("span.chip", { id: "job-status" }, status),
        ...Object.entries(counters).map(([k, v]) => h("span", { dataset: { counter: k } }, `${k}: `, h("strong", {}, v))),
        RUNNING.has(status) ? h("button.danger", { id: "stop-job", onclick: stop }, "Stop") : null),
      constraints().length ? h("div.row.counters", { id: "feasibility" },
        ...Object.entries(job.OutcomeConstraintCounters || {}).map(([k, v]) => h("span", { dataset: { counter: k } }, `${k}: `, h("strong", {}, v))),
        h("span.muted", {}, constraints().map((c) => `${c.MetricName} ${c.Operator} ${fmt(c.Value)}`).join(", "))) : null,
      job.FailureReason ? h("div.error", { id: "job-failure", role: "alert" }, `Failed: ${job.FailureReason}`) : null,
      completionNote(),
      ignoredHistory(),
      multi() ? paretoHeader() : h("div.row", { id: "best-trial" }, h("strong", {}, constraints().length ? "Best feasible trial: " : "Best trial: "), best
        ? [h("a", { href: best.RunId ? `/runs/${enc(best.RunId)}` : "#" }, best.TrainingJobName), ` ${obj.MetricName} = ${fmt(best.FinalHyperParameterTuningJobObjectiveMetric.Value)} `,
          h("span.muted", {}, Object.entries(best.TunedHyperParameters).map(([k, v]) => `${k}=${v}`).join(", "))]
        : h("span.muted", {}, "none yet")));
    drawTrials();
    drawCharts();
  }

  // Why a job ended early (a completion criterion), as describe's TuningJobCompletionDetails says.
  function completionNote() {
    const details = job.TuningJobCompletionDetails;
    if (!details) return null;
    const extra = details.NumberOfTrainingJobsObjectiveNotImproving !== undefined
      ? ` (${details.NumberOfTrainingJobsObjectiveNotImproving} trials without improvement)` : "";
    return h("div.row.muted", { id: "completion" }, `Ended by completion criterion ${details.CompletionReason}${extra}`);
  }

  // History (own or warm-start parents' trials) the optimiser could not use: shown, never silent.
  function ignoredHistory() {
    const ignored = job.IgnoredHistory;
    if (!ignored || !ignored.Count) return null;
    const reasons = [...new Set(ignored.Observations.map((o) => o.Reason))];
    return h("div.warning", { id: "ignored-history" }, `${ignored.Count} observation(s) of history not used by the optimiser: `,
      reasons.slice(0, 3).join("; "), reasons.length > 3 ? ` (and ${reasons.length - 3} more reasons)` : "");
  }

  // With several objectives there is no single best trial: the Pareto set (describe's
  // ParetoFrontTrainingJobs, feasible trials only under constraints) takes its place.
  function paretoHeader() {
    const front = job.ParetoFrontTrainingJobs || [];
    return h("div.row", { id: "pareto-set" }, h("strong", {}, `Pareto set (${front.length}): `),
      front.length ? front.flatMap((t, i) => [i ? ", " : "", h("a", { href: t.RunId ? `/runs/${enc(t.RunId)}` : "#" }, t.TrainingJobName)])
        : h("span.muted", {}, "none yet"),
      h("span.muted", {}, ` (${objectives().map((o) => `${o.Type === "Maximize" ? "max" : "min"} ${o.MetricName}`).join(", ")})`));
  }

  async function stop() {
    try { job = await post(`/v1/tuning-jobs/${enc(name)}/stop`); draw(); clearTimeout(timer); timer = setTimeout(load, 300); }
    catch (error) { errorEl.hidden = false; errorEl.textContent = error.message; }
  }

  // Columns: id (the URL's sort key and the header's data-col), label, sort key and cell of a trial.
  function trialColumns() {
    const params = [...new Set(trials.flatMap((t) => Object.keys(t.TunedHyperParameters)))].sort();
    const front = paretoNames();
    const num = (key) => (t) => h("td.num", {}, fmt(key(t)));
    const cols = [
      { id: "#", key: (t) => t.TrainingJobNumber, cell: num((t) => t.TrainingJobNumber) },
      { id: "trial", key: (t) => t.TrainingJobName,
        cell: (t) => h("td", {}, t.RunId ? h("a", { href: `/runs/${enc(t.RunId)}` }, t.TrainingJobName) : t.TrainingJobName) },
      { id: "status", key: (t) => t.TrainingJobStatus, cell: (t) => h("td", {}, t.TrainingJobStatus) },
      ...(trials.some((t) => t.FailureReason || t.StopReason) ? [{ id: "reason", key: (t) => t.FailureReason || t.StopReason,
        cell: (t) => h("td.reason", { title: t.FailureReason || t.StopReason || "" }, t.FailureReason || t.StopReason || "") }] : []),
      ...(multi()
        ? [...objectives().map((o) => ({ id: `objective:${o.MetricName}`, label: o.MetricName, key: (t) => metricOf(t, o.MetricName),
            cell: num((t) => metricOf(t, o.MetricName)) })),
          { id: "pareto", key: (t) => (front.has(t.TrainingJobName) ? 1 : 0), cell: (t) => h("td", {}, front.has(t.TrainingJobName) ? "yes" : "") }]
        : [{ id: "objective", key: objOf, cell: num(objOf) }]),
      ...constraints().map((c) => ({ id: `constraint:${c.MetricName}`, label: `${c.MetricName} ${c.Operator} ${fmt(c.Value)}`,
        key: (t) => observedOf(t, c.MetricName), cell: num((t) => observedOf(t, c.MetricName)) })),
      ...(constraints().length ? [{ id: "feasible", key: (t) => (t.Feasible === undefined ? undefined : t.Feasible ? 1 : 0),
        cell: (t) => h("td", {}, t.Feasible === undefined ? "" : t.Feasible ? "yes" : "no") }] : []),
      ...params.map((p) => ({ id: p, key: (t) => value(t.TunedHyperParameters[p] ?? ""), cell: (t) => h("td.num", {}, t.TunedHyperParameters[p] ?? "") })),
    ];
    return cols.map((c) => ({ label: c.id, ...c }));
  }

  function drawTrials() {
    const cols = trialColumns();
    const sort = cols.some((c) => c.id === state().ts) ? state().ts : "#";
    const desc = state().td === "1";
    const keyOf = cols.find((c) => c.id === sort).key;
    const rows = [...trials].sort((a, b) => {
      const x = keyOf(a), y = keyOf(b);
      if (x === undefined || x === null) return 1; if (y === undefined || y === null) return -1;
      return (x < y ? -1 : x > y ? 1 : 0) * (desc ? -1 : 1);
    });
    trialsTable.replaceChildren(
      h("thead", {}, h("tr", {}, ...cols.map((col) => h("th.sortable", { dataset: { col: col.id }, onclick: () => {
        setState({ ts: col.id, td: sort === col.id && !desc }); drawTrials(); } }, col.label, sort === col.id ? h("span.sort", {}, desc ? "▼" : "▲") : null)))),
      h("tbody", {}, rows.map((t) => h(infeasible(t) ? "tr.infeasible" : "tr", { dataset: { trial: t.TrainingJobName } },
        ...cols.map((col) => col.cell(t))))));
  }

  function drawCharts() {
    disposeAll();
    const obj = objective();
    const maximize = obj.Type === "Maximize";
    const params = [...new Set(trials.flatMap((t) => Object.keys(t.TunedHyperParameters)))].sort();
    const sp = state().hp && params.includes(state().hp) ? state().hp : (importance && Object.keys(importance.importances || {})[0]) || params[0];
    const history = chartBox("objective-chart", `${obj.MetricName} per trial (best so far)`);
    const asked = importanceMetrics();
    const imp = asked.length > 1
      ? chartBox("importance-chart", "Hyperparameter importance for", h("select", { id: "importance-metric", onchange: async (e) => {
          setState({ im: e.target.value });
          try { importance = await get(`/v1/tuning-jobs/${enc(name)}/importance?metric=${enc(importanceMetric())}`); }
          catch (error) { errorEl.hidden = false; errorEl.textContent = error.message; }
          if (alive) drawCharts(); } }, ...asked.map((m) => h("option", { value: m, selected: m === importanceMetric() }, m))))
      : chartBox("importance-chart", `Hyperparameter importance (${obj.MetricName})`);
    const scatter = chartBox("hp-scatter", "Hyperparameter vs objective",
      h("select", { id: "hp-select", onchange: (e) => { setState({ hp: e.target.value }); drawCharts(); } }, ...params.map((p) => h("option", { value: p, selected: p === sp }, p))));
    const par = chartBox("hp-parallel", "Parallel coordinates");
    const pareto = multi() ? paretoChart() : null;
    charts.replaceChildren(...(pareto ? [pareto.box.panel] : []), history.panel, imp.panel, scatter.panel, par.panel);
    if (pareto) pareto.draw();
    const done = scored();
    let best = null;
    // best so far counts feasible trials only (the best trial of a constrained job is the best feasible one)
    const bestLine = done.filter((t) => !infeasible(t)).map((t) => { const v = objOf(t); best = best === null ? v : maximize ? Math.max(best, v) : Math.min(best, v); return [t.TrainingJobNumber, best]; });
    const point = (t) => [t.TrainingJobNumber, objOf(t), t.TrainingJobName];
    chart(history.el).setOption({ animation: false, tooltip: { trigger: "item" }, legend: { top: 0 },
      grid: { left: 60, right: 20, top: 40, bottom: 30 }, xAxis: { type: "value", name: "trial", minInterval: 1 }, yAxis: { type: "value", name: obj.MetricName, scale: true },
      series: [{ type: "scatter", name: "objective", data: done.filter((t) => !infeasible(t)).map(point) },
        { type: "line", name: "best so far", step: "end", showSymbol: false, data: bestLine },
        ...(constraints().length ? [{ type: "scatter", name: "infeasible", itemStyle: { color: "#b0b6c3" }, data: done.filter(infeasible).map(point) }] : [])] });
    const shares = Object.entries((importance && importance.importances) || {});
    chart(imp.el).setOption({ animation: false, tooltip: { trigger: "axis" }, grid: { left: 100, right: 20, top: 10, bottom: 30 },
      xAxis: { type: "value", max: 1 }, yAxis: { type: "category", data: shares.map(([k]) => k).reverse() },
      series: [{ type: "bar", name: "importance", data: shares.map(([, v]) => v).reverse() }] });
    if (!shares.length) imp.panel.append(h("div.muted", {}, `needs 3 or more scored trials (${done.length} so far)`));
    chart(scatter.el).setOption(scatterOption({ xName: sp || "", yName: obj.MetricName,
      points: done.filter((t) => sp in t.TunedHyperParameters).map((t) => [value(t.TunedHyperParameters[sp]), objOf(t), t.TrainingJobName]) }));
    const metrics = objectives().map((o) => o.MetricName);
    chart(par.el).setOption(parallelOption({ dims: [...params, ...metrics], names: done.map((t) => t.TrainingJobName),
      rows: done.map((t) => [...params.map((p) => (p in t.TunedHyperParameters ? value(t.TunedHyperParameters[p]) : null)),
        ...metrics.map((m) => metricOf(t, m) ?? null)]) }));
  }

  // Two of the objectives against each other: the Pareto set (joined, when there are only two
  // objectives, by its front line), the dominated trials and, under constraints, the infeasible ones.
  function paretoChart() {
    const names = objectives().map((o) => o.MetricName);
    const pick = (key, fallback) => (names.includes(state()[key]) ? state()[key] : fallback);
    const xName = pick("px", names[0]), yName = pick("py", names[1] === xName ? names[0] : names[1]);
    const select = (id, key, chosen) => h("select", { id, onchange: (e) => { setState({ [key]: e.target.value }); drawCharts(); } },
      ...names.map((n) => h("option", { value: n, selected: n === chosen }, n)));
    const box = chartBox("pareto-chart", "Pareto front", ...(names.length > 2 ? [select("pareto-x", "px", xName), select("pareto-y", "py", yName)] : []));
    const front = paretoNames();
    const reported = trials.filter((t) => metricOf(t, xName) !== undefined && metricOf(t, yName) !== undefined);
    const point = (t) => [metricOf(t, xName), metricOf(t, yName), t.TrainingJobName];
    const onFront = reported.filter((t) => front.has(t.TrainingJobName)).map(point).sort((a, b) => a[0] - b[0]);
    const series = [
      { type: names.length === 2 ? "line" : "scatter", name: "Pareto set", data: onFront, symbolSize: 9, step: false, z: 3 },
      { type: "scatter", name: "dominated", symbolSize: 7, itemStyle: { color: "#8fa3c7" },
        data: reported.filter((t) => !front.has(t.TrainingJobName) && !infeasible(t)).map(point) },
      ...(constraints().length ? [{ type: "scatter", name: "infeasible", symbolSize: 7, itemStyle: { color: "#b0b6c3" },
        data: reported.filter(infeasible).map(point) }] : []),
    ];
    const draw = () => chart(box.el).setOption({ animation: false, legend: { top: 0 },
      tooltip: { trigger: "item", formatter: (p) => `${p.data[2]}<br>${xName}: ${fmt(p.data[0])}<br>${yName}: ${fmt(p.data[1])}` },
      grid: { left: 60, right: 40, top: 40, bottom: 40 },
      xAxis: { type: "value", name: xName, scale: true }, yAxis: { type: "value", name: yName, scale: true }, series });
    return { box, draw };
  }

  await load();
  return () => { alive = false; clearTimeout(timer); disposeAll(); };
}
