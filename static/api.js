// The JSON API (api/openapi.json), as small functions. Errors carry the server's {"error": "..."} text.
// Paths are relative to the page, so that the UI works under --base-path (a proxy's /mail/).

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function url(path, params = {}) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const query = search.toString();
  return query ? `${path}?${query}` : path;
}

async function request(method, path, { params, body } = {}) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url(path, params), init);
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      message = (await response.json()).error || message;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(response.status, message);
  }
  return response.status === 204 ? null : response.json();
}

const enc = encodeURIComponent;

export const messageUrl = (id, suffix = "") => `api/messages/${enc(id)}${suffix}`;
export const partUrl = (id, partId) => messageUrl(id, `/parts/${enc(partId)}`);
export const htmlUrl = (id, remote) => messageUrl(id, remote ? "/html?remote=1" : "/html");
export const rawUrl = (id) => messageUrl(id, "/raw");

// `mailbox` (null: every mailbox the user may see) scopes each listing and bulk change.
export const listMessages = (q, mailbox, limit, offset) =>
  request("GET", "api/messages", { params: { q, mailbox, limit, offset } });
export const getMessage = (id) => request("GET", messageUrl(id));
export const getMessageSession = (id) => request("GET", messageUrl(id, "/session"));
export const setRead = (id, read) => request("PATCH", messageUrl(id), { body: { read } });
export const setTags = (id, tags) => request("PATCH", messageUrl(id), { body: { tags } });
export const deleteMessage = (id) => request("DELETE", messageUrl(id));
export const deleteAll = (q, mailbox) => request("DELETE", "api/messages", { params: { q, mailbox } });
export const markAllRead = (q, mailbox) =>
  request("POST", "api/messages/read", { body: { query: q || undefined, mailbox: mailbox ?? undefined } });
export const listSessions = (mailbox, limit, offset) =>
  request("GET", "api/sessions", { params: { mailbox, limit, offset } });
export const listMailboxes = () => request("GET", "api/mailboxes");
export const listTags = (mailbox) => request("GET", "api/tags", { params: { mailbox } });

// A release answers its record both when sent (200) and when the next hop refused it or could not be
// reached (502); any other status is an error with the server's reason (no relay, a refused recipient).
export async function releaseMessage(id, to) {
  const response = await fetch(messageUrl(id, "/release"), {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify({ to }),
  });
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not JSON: the status line says it
  }
  if (response.ok || response.status === 502) return body;
  throw new ApiError(response.status, body.error || `${response.status} ${response.statusText}`);
}

// The preview's remote-content count travels in a header, which an <iframe> cannot show us.
export async function blockedRemote(id) {
  const response = await fetch(htmlUrl(id, false), { method: "HEAD" });
  return response.ok ? Number(response.headers.get("X-Blocked-Remote") || 0) : 0;
}

export async function rawText(id, maxBytes) {
  const response = await fetch(rawUrl(id));
  if (!response.ok) throw new ApiError(response.status, `${response.status} ${response.statusText}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const shown = bytes.subarray(0, maxBytes);
  return { text: new TextDecoder("utf-8").decode(shown), truncated: bytes.length > maxBytes };
}
