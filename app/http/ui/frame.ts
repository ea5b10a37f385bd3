/**
 * The frame of the UI's pages (`pages.ts`): navigation, the bundled stylesheet and script served by
 * vh itself (`assets.ts`), and the page's data as a JSON island the script reads. Nothing from the
 * network but this server; the content security policy says so to the browser too.
 */
import { esc } from "./layout.js";

/** Everything from this origin only; inline style attributes are allowed (uPlot sizes its canvas with them), inline script is not. */
export const UI_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/** JSON that is safe inside a <script> element: no `<` (so no `</script>`), no line separators. */
export function jsonIsland(data: unknown): string {
  const text = JSON.stringify(data ?? null)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
  return `<script type="application/json" id="vh-data">${text}</script>`;
}

/** A whole UI page; `body` is HTML already escaped by the caller; `kind` picks the script's behaviour. */
export function uiPage(opts: { title: string; kind: string; body: string; data?: unknown; who?: string }): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(opts.title)} — vh</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/ui/assets/app.css"><script defer src="/ui/assets/app.js"></script></head>
<body data-page="${esc(opts.kind)}"><header class="top"><a class="brand" href="/ui/executions">vh</a>
<nav><a href="/ui/executions">Executions</a></nav>${opts.who ? `<span class="who">${esc(opts.who)}</span>` : ""}</header>
<main>${opts.body}</main>${opts.data === undefined ? "" : jsonIsland(opts.data)}</body></html>`;
}

/** Seconds as "1 h 2 min", "3 min 4 s", "5.2 s". */
export function duration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return "";
  if (seconds < 60) return `${Math.round(seconds * 10) / 10} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** A value as a table cell shows it: strings as they are, everything else as JSON. */
export function show(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}
