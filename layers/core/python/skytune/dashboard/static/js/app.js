// The single-page app: a tiny router over history paths; every page keeps its view state in the
// URL's query string (filter, sort, columns, selection, chart settings), so a URL is a shareable view.
import { experimentsPage } from "./pages/experiments.js";
import { experimentPage } from "./pages/experiment.js";
import { runPage } from "./pages/run.js";
import { tuningJobsPage, tuningJobPage } from "./pages/tuning.js";
import { chartsReady } from "./charts.js";

const routes = [
  [/^\/$/, experimentsPage],
  [/^\/experiments\/?$/, experimentsPage],
  [/^\/experiments\/([^/]+)$/, experimentPage],
  [/^\/runs\/([^/]+)$/, runPage],
  [/^\/tuning-jobs\/?$/, tuningJobsPage],
  [/^\/tuning-jobs\/([^/]+)$/, tuningJobPage],
];

let cleanup = null;

export function state() {
  return Object.fromEntries(new URLSearchParams(location.search));
}

// Merge `changes` into the URL's query string (null/"" removes a key) without a reload or a new
// history entry; the page re-reads state() when it needs it.
export function setState(changes) {
  const params = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === undefined || value === "" || value === false) params.delete(key);
    else params.set(key, value === true ? "1" : String(value));
  }
  params.delete("token");
  const query = params.toString();
  history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
}

export function navigate(href) {
  history.pushState(null, "", href);
  render();
}

async function render() {
  if (cleanup) { try { cleanup(); } catch (e) { console.warn(e); } cleanup = null; }
  const app = document.getElementById("app");
  app.replaceChildren();
  const path = location.pathname;
  for (const [pattern, page] of routes) {
    const match = path.match(pattern);
    if (match) {
      const args = match.slice(1).map(decodeURIComponent);
      const shown = page(app, ...args);
      // a page that draws no chart: the preloaded chart library still runs once the browser is idle
      setTimeout(() => chartsReady().catch(() => {}), 1000);
      cleanup = await shown || null;
      return;
    }
  }
  app.textContent = "Not found";
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || link.target || link.hasAttribute("download")) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener("popstate", render);
if (new URLSearchParams(location.search).has("token")) setState({});  // keep the token out of shared URLs
render();
