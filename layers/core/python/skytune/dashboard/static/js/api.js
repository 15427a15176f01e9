// The documented /v1 API, nothing else. Locally the API is on the same origin (a token, when the
// local server has one, travels as the `skytune_token` cookie or the X-Skytune-Token header);
// deployed, /config.json names the API URL and the auth mode (see docs/dashboard.md).
import { signRequest } from "./sigv4.js";

let config = null;
const token = new URLSearchParams(location.search).get("token");
if (token) sessionStorage.setItem("skytune_token", token);

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || (body && body.message) || `HTTP ${status}`);
    this.status = status; this.code = error.code; this.field = error.field; this.details = error.details;
  }
}

async function loadConfig() {
  if (!config) {
    const response = await fetch("/config.json", { cache: "no-cache" });
    config = response.ok ? await response.json() : { apiUrl: "", auth: "none" };
  }
  return config;
}

let pending = 0;
function busy(delta) {
  pending += delta;
  const el = document.getElementById("busy");
  if (el) el.hidden = pending <= 0;
}

export async function request(method, path, body, { raw = false } = {}) {
  // no await once the config is known: the request leaves before the caller's next drawing work
  const cfg = config || await loadConfig();
  const url = (cfg.apiUrl || "") + path;
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  const stored = sessionStorage.getItem("skytune_token");
  if (stored) headers["x-skytune-token"] = stored;
  let init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
  if (cfg.auth === "iam" || cfg.auth === "jwt") init = await signRequest(cfg, url, init);
  busy(1);
  try {
    const response = await fetch(url, init);
    if (raw && response.ok) return response;
    const text = await response.text();
    let parsed = null;
    try { parsed = text ? JSON.parse(text) : null; } catch { parsed = { message: text }; }
    if (!response.ok) throw new ApiError(response.status, parsed);
    return parsed;
  } finally { busy(-1); }
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body);
export const enc = encodeURIComponent;
