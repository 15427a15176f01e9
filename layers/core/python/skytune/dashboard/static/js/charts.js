// ECharts helpers. Every chart is one option object on one instance per element, so a test (or a
// user's console) can read it back with echarts.getInstanceByDom(el).getOption().
import { h } from "./dom.js";

const instances = new Set();
window.addEventListener("resize", () => instances.forEach((c) => c.resize()));

export function chartBox(id, title, ...controls) {
  const el = h("div.chart", { id });
  return { el, panel: h("div.panel", {}, h("div.row", {}, h("strong", {}, title), ...controls), el) };
}

export function chart(el) {
  let instance = echarts.getInstanceByDom(el);
  if (!instance) { instance = echarts.init(el, null, { renderer: "canvas" }); instances.add(instance); }
  return instance;
}

export function dispose(el) {
  const instance = echarts.getInstanceByDom(el);
  if (instance) { instances.delete(instance); instance.dispose(); }
}

export function disposeAll() {
  instances.forEach((c) => c.dispose());
  instances.clear();
}

// Exponential moving average with TensorBoard's debiasing (weight in [0, 1)).
export function smooth(points, weight) {
  if (!weight) return points;
  let last = 0, n = 0;
  return points.map(([x, y]) => {
    if (!Number.isFinite(y)) return [x, y];
    last = last * weight + (1 - weight) * y; n += 1;
    return [x, last / (1 - weight ** n)];
  });
}

export function lineOption({ series, logScale, xName = "step", yName = "" }) {
  return {
    animation: false,
    tooltip: { trigger: "axis", confine: true, valueFormatter: (v) => (typeof v === "number" ? v.toPrecision(5) : v) },
    legend: { type: "scroll", top: 0 },
    grid: { left: 60, right: 20, top: 50, bottom: 60 },  // room for the y axis' name below the legend
    xAxis: { type: xName === "time" ? "time" : "value", name: xName, scale: true },
    yAxis: { type: logScale ? "log" : "value", name: yName, scale: true },
    dataZoom: [{ type: "inside", xAxisIndex: 0, filterMode: "none" }, { type: "slider", xAxisIndex: 0, filterMode: "none", height: 18, bottom: 8 }],
    series: series.map((s) => ({ type: "line", name: s.name, id: s.id, data: s.data, showSymbol: false,
      sampling: "lttb", large: true, progressive: 0, ...s.extra })),
  };
}

export function barOption({ names, values, label }) {
  return {
    animation: false,
    tooltip: { trigger: "axis" },
    grid: { left: 60, right: 20, top: 20, bottom: 70 },
    xAxis: { type: "category", data: names, axisLabel: { rotate: 30, interval: 0, fontSize: 10 } },
    yAxis: { type: "value", name: label, scale: true },
    series: [{ type: "bar", name: label, data: values }],
  };
}

export function scatterOption({ points, xName, yName, extra = [] }) {
  return {
    animation: false,
    tooltip: { trigger: "item", formatter: (p) => `${p.data[2] || ""}<br>${xName}: ${p.data[0]}<br>${yName}: ${p.data[1]}` },
    grid: { left: 60, right: 20, top: 30, bottom: 40 },
    xAxis: { type: "value", name: xName, scale: true },
    yAxis: { type: "value", name: yName, scale: true },
    series: [{ type: "scatter", name: yName, data: points, symbolSize: 7 }, ...extra],
  };
}

// Parallel coordinates: `dims` are column names, `rows` arrays of values in that order; string
// values get a category axis.
export function parallelOption({ dims, rows, names }) {
  const axes = dims.map((dim, i) => {
    const values = rows.map((r) => r[i]).filter((v) => v !== null && v !== undefined);
    const categorical = values.some((v) => typeof v !== "number");
    return categorical ? { dim: i, name: dim, type: "category", data: [...new Set(values.map(String))] } : { dim: i, name: dim, scale: true };
  });
  return {
    animation: false,
    parallelAxis: axes,
    parallel: { left: 40, right: 80, top: 40, bottom: 20 },
    tooltip: { trigger: "item", formatter: (p) => names[p.dataIndex] || "" },
    series: [{ type: "parallel", name: "runs", lineStyle: { width: 1, opacity: 0.5 }, progressive: 0, smooth: false,
      data: rows.map((r) => r.map((v, i) => (axes[i].type === "category" && v !== null && v !== undefined ? String(v) : v))) }],
  };
}
