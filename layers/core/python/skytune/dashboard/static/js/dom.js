// Small DOM helpers: h("tag.class", {attrs}, children...)
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function fmt(value, column = "") {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.join(", ");
  if (typeof value === "number") {
    if (/^(created|started|ended)$|last_timestamp$/.test(column)) return new Date(value).toISOString().replace("T", " ").slice(0, 19);
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) >= 1e5 || (Math.abs(value) < 1e-3 && value !== 0) ? value.toExponential(4) : String(+value.toPrecision(6));
  }
  return String(value);
}

export function when(iso) {
  return iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 19) : "";
}

export function errorBox(error) {
  return h("div.error", { role: "alert" }, error && error.message ? error.message : String(error));
}
