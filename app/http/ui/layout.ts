/** The pages' shared frame: HTML escaping and one plain layout (no script anywhere). */

export function esc(s: unknown): string {
  return String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A whole page; `body` is HTML already escaped by the caller. */
export function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:14px system-ui,sans-serif;margin:2rem;color:#222;max-width:60rem}table{border-collapse:collapse;width:100%}
td,th{padding:.35rem .6rem;border-bottom:1px solid #ddd;text-align:left}th{background:#f4f4f4}

.s-completed{color:#1a7f37}.s-failed,.s-error,.s-lost{color:#cf222e}.s-running,.s-starting,.s-uploading{color:#9a6700}
code,pre{background:#f4f4f4;padding:0 .2rem}pre{padding:.6rem;overflow:auto}.error{color:#cf222e}.ok{color:#1a7f37}
form{margin:1rem 0}label{display:inline-block;min-width:9rem}input{margin:.2rem 0}</style></head><body>${body}</body></html>`;
}
