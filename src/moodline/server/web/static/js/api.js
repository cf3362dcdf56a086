// Calls to the moodline API on the page's own origin. Paths are relative, so the page also
// works behind a reverse proxy that serves it under a prefix.

const KEY_STORAGE = "moodline.apiKey";

/** An API failure, carrying the server's one error body: {"error": {"type", "message", "details"}}. */
export class ApiError extends Error {
  constructor(status, type, message, details = [], retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.type = type;
    this.details = details;
    this.retryAfter = retryAfter; // seconds, from Retry-After on 429
  }
}

let apiKey = readStoredKey();
const listeners = new Set();

function readStoredKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return ""; // storage can be disabled; the key then lives for this page only
  }
}

export function getApiKey() {
  return apiKey;
}

export function setApiKey(key) {
  apiKey = key.trim();
  try {
    if (apiKey) sessionStorage.setItem(KEY_STORAGE, apiKey);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    /* see readStoredKey */
  }
}

/** Call `listener(error)` whenever the server answers 401. */
export function onUnauthorized(listener) {
  listeners.add(listener);
}

async function errorFrom(response) {
  const text = await response.text();
  const retryAfter = Number.parseFloat(response.headers.get("Retry-After")) || null;
  try {
    const body = JSON.parse(text);
    if (body && body.error && typeof body.error.message === "string") {
      const { type, message, details } = body.error;
      return new ApiError(response.status, type || "error", message, details || [], retryAfter);
    }
  } catch {
    /* not the API's JSON: a proxy's error page, for instance */
  }
  const reason = response.statusText ? ` ${response.statusText}` : "";
  return new ApiError(response.status, "http_error", `the server answered HTTP ${response.status}${reason}`);
}

/**
 * Send a request; resolve with the parsed JSON answer or reject with an ApiError.
 * `json` is sent as a JSON body, `form` (FormData) as multipart.
 */
export async function request(path, { method = "GET", json, form, signal } = {}) {
  const headers = { Accept: "application/json" };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // the browser sets the multipart boundary
  }
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
  let response;
  try {
    response = await fetch(path, { method, headers, body, signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "network", "cannot reach the moodline server; is it still running?");
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401) listeners.forEach((listener) => listener(error));
    throw error;
  }
  return response.json();
}

/** Describe any failure in one sentence for the page; the API's own message is shown as it is. */
export function describe(error) {
  if (error instanceof ApiError) {
    const status = error.status ? ` (HTTP ${error.status})` : "";
    return `${error.message}${status}`;
  }
  return String(error && error.message ? error.message : error);
}

export const getInfo = (signal) => request("info", { signal });

export const predict = (texts, signal) => request("batch_predict", { method: "POST", json: { texts }, signal });

export const predictOne = (text, signal) => request("predict", { method: "POST", json: { text }, signal });

export function analyseTranscript({ file, text, format, emotions = true }, signal) {
  if (file) {
    const form = new FormData();
    form.append("file", file, file.name);
    if (format) form.append("format", format);
    if (!emotions) form.append("emotions", "false");
    return request("transcripts", { method: "POST", form, signal });
  }
  const json = { transcript: text };
  if (format) json.format = format;
  if (!emotions) json.emotions = false;
  return request("transcripts", { method: "POST", json, signal });
}

/** Several transcript files in one multipart request: {"calls": [...], "summary": {...}} (see the README). */
export function analyseCalls({ files, format, emotions = true }, signal) {
  const form = new FormData();
  for (const file of files) form.append("file", file, file.name);
  if (format) form.append("format", format);
  if (!emotions) form.append("emotions", "false");
  return request("transcripts", { method: "POST", form, signal });
}
