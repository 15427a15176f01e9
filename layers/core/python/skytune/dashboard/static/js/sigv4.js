// Deployed dashboards only (config.auth "iam" or "jwt"). Locally this module is never exercised.
// iam: the Cognito identity pool's temporary credentials sign each request with SigV4 (WebCrypto).
// jwt: the user pool's ID token goes in the Authorization header.
const enc = new TextEncoder();
const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
const sha256 = async (data) => hex(await crypto.subtle.digest("SHA-256", typeof data === "string" ? enc.encode(data) : data));
async function hmac(key, data) {
  const k = await crypto.subtle.importKey("raw", typeof key === "string" ? enc.encode(key) : key,
    { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", k, enc.encode(data));
}
const rfc3986 = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());

// SigV4 for execute-api (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html)
export async function sigv4(init, url, creds, region, service = "execute-api", now = new Date()) {
  const u = new URL(url);
  const amzDate = now.toISOString().replace(/[:-]|\.\d{3}/g, "");
  const date = amzDate.slice(0, 8);
  const headers = { ...(init.headers || {}), host: u.host, "x-amz-date": amzDate };
  if (creds.sessionToken) headers["x-amz-security-token"] = creds.sessionToken;
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v).trim()]));
  const names = Object.keys(lower).sort();
  const query = [...u.searchParams.entries()].map(([k, v]) => [rfc3986(k), rfc3986(v)])
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1)).map((p) => p.join("=")).join("&");
  const path = u.pathname.split("/").map((s) => rfc3986(s)).join("/");  // already encoded once: twice, as botocore does for execute-api
  const canonical = [init.method, path, query, names.map((n) => `${n}:${lower[n]}\n`).join(""), names.join(";"),
    await sha256(init.body || "")].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, await sha256(canonical)].join("\n");
  let key = await hmac("AWS4" + creds.secretAccessKey, date);
  for (const part of [region, service, "aws4_request"]) key = await hmac(key, part);
  const signature = hex(await hmac(key, toSign));
  delete lower.host;  // the browser sets Host itself
  lower.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`;
  return { ...init, headers: lower };
}

function idToken(cfg) {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("id_token")) { sessionStorage.setItem("skytune_id_token", hash.get("id_token")); history.replaceState(null, "", location.pathname + location.search); }
  const tokenValue = sessionStorage.getItem("skytune_id_token");
  if (!tokenValue) {  // the user pool's hosted login (implicit grant), back to this page
    location.assign(`${cfg.loginUrl}/login?response_type=token&client_id=${cfg.userPoolClientId}&redirect_uri=${encodeURIComponent(location.origin + "/")}`);
    throw new Error("signing in");
  }
  return tokenValue;
}

let cached = null;
async function credentials(cfg) {
  if (cached && cached.expiration - Date.now() > 60000) return cached;
  const jwt = idToken(cfg);
  const provider = `cognito-idp.${cfg.region}.amazonaws.com/${cfg.userPoolId}`;
  const call = async (target, body) => {
    const r = await fetch(`https://cognito-identity.${cfg.region}.amazonaws.com/`, { method: "POST",
      headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": `AWSCognitoIdentityService.${target}` },
      body: JSON.stringify(body) });
    if (!r.ok) { sessionStorage.removeItem("skytune_id_token"); throw new Error(`${target}: HTTP ${r.status}`); }
    return r.json();
  };
  const { IdentityId } = await call("GetId", { IdentityPoolId: cfg.identityPoolId, Logins: { [provider]: jwt } });
  const { Credentials: c } = await call("GetCredentialsForIdentity", { IdentityId, Logins: { [provider]: jwt } });
  cached = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretKey, sessionToken: c.SessionToken, expiration: c.Expiration * 1000 };
  return cached;
}

export async function signRequest(cfg, url, init) {
  if (cfg.auth === "jwt") return { ...init, headers: { ...init.headers, authorization: idToken(cfg) } };
  return sigv4(init, url, await credentials(cfg), cfg.region);
}
