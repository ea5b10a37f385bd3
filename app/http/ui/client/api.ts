/** The page's data island and calls to this server (the session cookie goes with them). */

export function pageData<T>(): T {
  const el = document.getElementById("vh-data");
  return JSON.parse(el?.textContent ?? "null") as T;
}

/** JSON from this server; throws an Error with the server's message on a non-2xx answer. */
export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, { credentials: "same-origin", headers: { accept: "application/json", ...(init?.body ? { "content-type": "application/json" } : {}) }, ...init });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const msg = (body as { error?: { message?: string } } | null)?.error?.message ?? `${res.status} ${res.statusText}`;
    throw new Error(msg);
  }
  return body as T;
}

export const TERMINAL = new Set(["completed", "failed", "error", "stopped", "lost"]);

export function executionApi(project: string, id: string): string {
  return `/api/v1/projects/${encodeURIComponent(project)}/executions/${encodeURIComponent(id)}`;
}

/** Sets a status badge's text and class. */
export function setStatus(el: Element, status: string): void {
  el.textContent = status;
  el.className = el.className.replace(/\bs-[a-z]+\b/g, "").trim() + ` s-${status}`;
}
