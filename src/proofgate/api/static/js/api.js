// Calls to this server's /v1 API. With API keys configured, the console asks for one once and
// keeps it in this tab's session storage; every call sends it as a bearer token.

const KEY_ITEM = "proofgate.apiKey";
let askForKey = async () => null; // set by the page: shows the key form, resolves with a key

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `the server answered ${status}`);
    this.status = status;
    this.body = body;
  }
}

export function onKeyNeeded(ask) {
  askForKey = ask;
}

export function storedKey() {
  return sessionStorage.getItem(KEY_ITEM);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_ITEM);
}

function headers(extra) {
  const sent = { Accept: "application/json", ...extra };
  const key = storedKey();
  if (key) sent.Authorization = `Bearer ${key}`;
  return sent;
}

// fetch() with the key; on 401 asks for a key (once per call) and tries again with it.
export async function send(path, { method = "GET", body, accept } = {}) {
  const extra = body === undefined ? {} : { "Content-Type": "application/json" };
  if (accept) extra.Accept = accept;
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetch(path, {
      method,
      headers: headers(extra),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status !== 401 || attempt > 0) return response;
    const refusal = await response.json().catch(() => ({}));
    const key = await askForKey(refusal.message || "This server needs an API key.");
    if (!key) return new Response(JSON.stringify(refusal), { status: 401 });
    sessionStorage.setItem(KEY_ITEM, key);
  }
}

export async function api(path, options = {}) {
  const response = await send(path, options);
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

// Each line of an NDJSON answer, parsed, as it arrives.
export async function* ndjson(path) {
  const response = await send(path, { accept: "application/x-ndjson" });
  if (!response.ok) {
    throw new ApiError(response.status, await response.json().catch(() => null));
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop();
    for (const line of lines) if (line.trim()) yield JSON.parse(line);
  }
  if (pending.trim()) yield JSON.parse(pending);
}
