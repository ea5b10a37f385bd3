/**
 * `vh model report model://x/v3 --format md|html`: a model version's technical documentation,
 * laid out by the sections regulators use — the SR 11-7 model inventory fields first, then the EU
 * AI Act Annex IV items (general description, data provenance, training methodology, metrics,
 * versions and changes, human oversight, record-keeping) and the downstream use. Every value that
 * rests on a record links to it (the record's API path, under `baseUrl` when one is given). One
 * document model, two renderings (Markdown and a self-contained HTML page), so they cannot drift.
 * Pure. (`--format json` is the AuditReport itself: app/models/audit.ts.)
 */
import type { AuditReport, ExecutionRef, TrailEvent } from "../../app/models/audit.js";
import { formatBytes } from "../format.js";
import { cell, short } from "./format.js";

/** A piece of text: plain, `code`, or a link to the record it rests on. */
type Inline = { text: string; code?: boolean; href?: string | null } | string;
type Cell = Inline | Inline[];
type Block =
  | { kind: "p"; text: Cell }
  | { kind: "table"; header: string[]; rows: Cell[][]; empty: string }
  | { kind: "pre"; lang: string; text: string };
interface Section {
  id: string;
  title: string;
  /** The regulation's item the section answers. */
  basis: string;
  blocks: Block[];
}

const NOT_RECORDED = "not recorded by vh";

function documentOf(r: AuditReport): { title: string; intro: Cell[]; sections: Section[] } {
  const href = (api: string | null | undefined) => (api ? `${r.baseUrl ?? ""}${api}` : null);
  const code = (text: string, api?: string | null): Inline => ({ text, code: true, href: href(api) });
  const link = (text: string, api?: string | null): Inline => ({ text, href: href(api) });
  const execLink = (x: ExecutionRef | null | undefined): Inline => (x ? link(`${x.project} #${x.counter} (${x.step})`, x.api) : "–");
  const eventLink = (h: TrailEvent): Inline => link(`#${h.id}`, h.api);
  const sourceOf = (h: TrailEvent): Inline => (h.sourceUrl ? { text: h.source, href: h.sourceUrl } : h.source);
  const value = (v: unknown): string => cell(v);
  const e = r.execution;
  const inv = r.inventory;

  const inventory: Section = {
    id: "inventory",
    title: "Model inventory",
    basis: "SR 11-7 (model inventory)",
    blocks: [
      {
        kind: "table",
        header: ["field", "value"],
        empty: "",
        rows: [
          ["model", link(inv.model, r.api.model)],
          ["model id", code(inv.modelId)],
          ["version", link(inv.version, r.api.version)],
          ["owner", inv.owner ?? NOT_RECORDED],
          ["purpose", inv.purpose ?? "none given (the model's description)"],
          ["status", inv.status],
          ["approval date", inv.approvalDate ?? "–"],
          ["approver", inv.approver && inv.approvalEvent ? [inv.approver, " (event ", link(`#${inv.approvalEvent.id}`, inv.approvalEvent.api), ")"] : "–"],
          ["validation evidence", inv.validationEvidence ? [execLink(inv.validationEvidence.execution), inv.validationEvidence.metrics.length ? `: ${inv.validationEvidence.metrics.join(", ")}` : ": no metrics recorded"] : "–"],
          ["limitations", NOT_RECORDED],
          ["current latest", r.latest ?? "none approved"],
        ],
      },
    ],
  };

  const general: Section = {
    id: "general",
    title: "General description",
    basis: "EU AI Act Annex IV §1(a), §1(c)",
    blocks: [
      {
        kind: "table",
        header: ["field", "value"],
        empty: "",
        rows: [
          ["version", link(r.version, r.api.version)],
          ["id", code(r.id)],
          ["description", value(r.description)],
          ["created", `${r.createdAt} by ${r.createdBy ?? "–"} (${r.sourceKind})`],
          ["tags", r.tags.length ? r.tags.join(", ") : "–"],
          ["files digest (sha256)", code(r.filesSha256)],
          ["approved digest", r.approvedSha256 ? code(r.approvedSha256) : "–"],
          ["size", formatBytes(r.size)],
        ],
      },
      { kind: "table", header: ["file", "sha256", "size", "datum"], empty: "No files.", rows: r.files.map((f) => [code(f.name), code(f.sha256), formatBytes(f.size), link(f.datum, f.api)]) },
    ],
  };

  const provenance: Section = {
    id: "data",
    title: "Data provenance",
    basis: "EU AI Act Annex IV §2(d)",
    blocks: [
      {
        kind: "p",
        text: ["Every file that went into the training, directly or through an upstream execution, with what it resolved to when the consuming execution was created (", link("lineage", r.api.lineage), ")."],
      },
      {
        kind: "table",
        header: ["consumed by", "input", "file", "sha256", "size", "requested as", "resolved to", "produced by", "object pin"],
        empty: "No recorded inputs.",
        rows: r.provenance.map((p) => [
          execLink(p.consumer),
          p.input ?? "–",
          code(p.file),
          code(p.sha256),
          formatBytes(p.size),
          code(p.uri),
          [`${p.resolved.kind}: `, p.resolved.api ? link(p.resolved.ref, p.resolved.api) : p.resolved.ref],
          execLink(p.producer),
          p.objectVersionId ? `version ${p.objectVersionId}` : p.etag ? `ETag ${p.etag}` : "–",
        ]),
      },
    ],
  };

  const methodology: Section = { id: "methodology", title: "Training methodology", basis: "EU AI Act Annex IV §2(a)–(c)", blocks: [] };
  const metrics: Section = { id: "metrics", title: "Metrics", basis: "EU AI Act Annex IV §2(g), §3; SR 11-7 (validation)", blocks: [] };
  if (!e) {
    methodology.blocks.push({ kind: "p", text: "No source execution: the version was made from files by hand, so vh holds no training record for it." });
    metrics.blocks.push({ kind: "p", text: "No source execution, so no metrics." });
  } else {
    const rp = e.reproducibility;
    const host = (e.runtime?.["host"] ?? {}) as Record<string, unknown>;
    methodology.blocks.push(
      {
        kind: "table",
        header: ["field", "value"],
        empty: "",
        rows: [
          ["execution", [link(`${e.project} #${e.counter}`, e.api), ` (${e.status})`]],
          ["step", e.step],
          ["commit", e.commitSha ? code(e.commitSha) : "–"],
          ["code snapshot (sha256)", e.codeSha256 ? code(e.codeSha256) : "–"],
          ["valohai.yaml", code(e.yamlPath)],
          ["triggered by", e.triggeredBy ?? "–"],
          ["started", e.startedAt ?? "–"],
          ["ended", e.endedAt ?? "–"],
          ["duration", e.durationSeconds === null ? "–" : `${e.durationSeconds.toFixed(1)} s`],
        ],
      },
      { kind: "pre", lang: "sh", text: e.command },
      { kind: "table", header: ["parameter", "value"], empty: "No parameters.", rows: Object.keys(e.parameters).sort().map((k) => [k, value(e.parameters[k])]) },
      {
        kind: "table",
        header: ["environment and hardware", "value"],
        empty: "",
        rows: [
          ["image", code(e.image)],
          ["image digest", rp.imageDigest ? code(rp.imageDigest) : `– (${value(e.runtime?.["mode"])} mode)`],
          ["mode", value(e.runtime?.["mode"])],
          ["runner", value(e.runtime?.["runner"])],
          ["gpus requested", String(e.gpus)],
          ...Object.keys(host).sort().map((k): Cell[] => [`host.${k}`, value(host[k])]),
          ["runtime fingerprint", rp.fingerprint === null ? "–" : rp.fingerprint + (rp.fingerprintMissing ? ` (${rp.fingerprintMissing})` : "") + (rp.truncated ? " (package lists cut at their bound)" : "")],
          ["os", value(rp.os)],
          ...rp.interpreters.map((i): Cell[] => [`interpreter ${i.program ?? "?"}`, [value(i.version), i.path ? ` at ` : "", i.path ? code(i.path) : ""]]),
          ["pip packages", rp.pipPackages === null ? "–" : String(rp.pipPackages)],
          ["npm packages", rp.npmPackages === null ? "–" : String(rp.npmPackages)],
          ["random seed", value(rp.seed)],
          ...Object.keys(e.environmentVariables).sort().map((k): Cell[] => [`env ${k}`, value(e.environmentVariables[k])]),
        ],
      },
    );
    const keys = Object.keys(e.metrics).sort();
    metrics.blocks.push(
      { kind: "p", text: ["The last value of each metric the source execution printed (", link("its record", e.api), ")."] },
      { kind: "table", header: ["metric", "last value"], empty: "None recorded.", rows: keys.map((k) => [k, value(e.metrics[k])]) },
    );
  }

  const versions: Section = {
    id: "versions",
    title: "Versions and changes",
    basis: "EU AI Act Annex IV §6",
    blocks: [
      {
        kind: "table",
        header: ["version", "status", "created", "by", "files digest", "source execution", "description"],
        empty: "No versions.",
        rows: r.versions.map((v) => [
          v.version === r.version ? [link(v.version, v.api), " (this)"] : link(v.version, v.api),
          v.status + (v.statusBy ? ` by ${v.statusBy}` : ""),
          v.createdAt,
          v.createdBy ?? "–",
          code(short(v.filesSha256)),
          execLink(v.sourceExecution),
          value(v.description),
        ]),
      },
    ],
  };

  const oversight: Section = {
    id: "oversight",
    title: "Human oversight",
    basis: "EU AI Act Annex IV §2(e), Art. 14",
    blocks: [
      {
        kind: "p",
        text: `Approvers: ${r.model.approvers.length ? r.model.approvers.join(", ") : "anyone with write permission on the repository"}; separation of duties ${r.model.separationOfDuties ? "on (whoever triggered the training cannot approve it)" : "off"}.`,
      },
      {
        kind: "table",
        header: ["time", "decision", "actor", "source", "reason", "event"],
        empty: "No decisions recorded.",
        rows: r.approvals.map((h) => [h.at, h.kind, h.actor, sourceOf(h), value(h.reason), eventLink(h)]),
      },
      {
        kind: "table",
        header: ["approval requested on", "head commit", "files digest", "at"],
        empty: "No approval requested on a pull request.",
        rows: r.approvalRequests.map((q) => [`${q.repo}#${q.prNumber}`, code(short(q.headSha)), code(short(q.filesSha256)), q.requestedAt]),
      },
    ],
  };

  const chainRows = r.auditChain.chains.map((c): Cell[] => [c.table, String(c.rows), c.ok ? "intact" : `broken: ${c.broken?.message ?? "?"}`, code(short(c.lastHash))]);
  const records: Section = {
    id: "records",
    title: "Record-keeping",
    basis: "EU AI Act Art. 12 (record-keeping)",
    blocks: [
      {
        kind: "p",
        text: [
          `The model's events are append-only in the database and hash-chained; verified ${r.auditChain.verifiedAt}: `,
          r.auditChain.ok ? "every chain intact" : "A CHAIN IS BROKEN — the records below may have been edited",
          " (",
          link("verify", r.api.auditVerify),
          ").",
        ],
      },
      { kind: "table", header: ["chain", "rows", "verdict", "last hash"], empty: "", rows: chainRows },
      {
        kind: "table",
        header: ["time", "event", "actor", "source", "reason / details", "hash", "record"],
        empty: "No events.",
        rows: r.history.map((h) => {
          const d = h.kind === "alias_changed" ? `latest: ${cell(h.details["from"])} → ${cell(h.details["to"])}` : h.kind === "used" ? `by #${cell(h.details["counter"])} as ${cell(h.details["uri"])}` : "";
          return [h.at, h.kind, h.actor, sourceOf(h), value(h.reason ?? (d || null)), code(short(h.hash)), eventLink(h)];
        }),
      },
    ],
  };

  const downstream: Section = {
    id: "downstream",
    title: "Downstream use",
    basis: "EU AI Act Annex IV §1(b) (interaction with other systems); SR 11-7 (model use)",
    blocks: [
      {
        kind: "table",
        header: ["execution", "input", "via", "status"],
        empty: "Not used by any execution yet.",
        rows: r.downstream.edges.map((d) => {
          const x = r.downstream.executions[d.consumer];
          return [
            x ? link(`${x.project} #${x.counter} (${x.step})`, `/api/v1/executions/${x.id}`) : d.consumer,
            d.input,
            d.modelVersion && d.modelVersion !== d.uri ? `${d.uri} → ${d.modelVersion}` : d.uri,
            x?.status ?? "–",
          ];
        }),
      },
    ],
  };

  return {
    title: `Audit report: ${r.version}`,
    intro: [
      [`Generated ${r.generatedAt}. `, "Laid out by the SR 11-7 model inventory fields and the EU AI Act Annex IV technical documentation items; every linked value is the record it comes from (", link("this report as JSON", `${r.api.report}?format=json`), ")."],
    ],
    sections: [inventory, general, provenance, methodology, metrics, versions, oversight, records, downstream],
  };
}

// --- Markdown ---

const mdEscape = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

function mdInline(x: Inline): string {
  if (typeof x === "string") return mdEscape(x);
  const t = x.code ? `\`${x.text.replace(/`/g, "'")}\`` : mdEscape(x.text).replace(/[[\]]/g, "\\$&");
  return x.href ? `[${t}](${x.href.replace(/[()\s]/g, encodeURIComponent)})` : t;
}
const mdCell = (c: Cell) => (Array.isArray(c) ? c.map(mdInline).join("") : mdInline(c));

function mdBlock(b: Block): string {
  if (b.kind === "p") return `${mdCell(b.text)}\n`;
  if (b.kind === "pre") return "```" + b.lang + "\n" + b.text + "\n```\n";
  if (b.rows.length === 0) return b.empty ? `${b.empty}\n` : "";
  return [`| ${b.header.join(" | ")} |`, `|${b.header.map(() => "---").join("|")}|`, ...b.rows.map((r) => `| ${r.map(mdCell).join(" | ")} |`)].join("\n") + "\n";
}

export function renderAuditReport(r: AuditReport): string {
  const d = documentOf(r);
  const out = [`# ${d.title}`, "", ...d.intro.map((c) => `${mdCell(c)}\n`)];
  d.sections.forEach((s, i) => {
    out.push(`## ${i + 1}. ${s.title}`, "", `*${s.basis}*`, "");
    for (const b of s.blocks) {
      const text = mdBlock(b);
      if (text) out.push(text);
    }
  });
  return out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n";
}

// --- HTML: one self-contained page (no scripts, no external assets), printable ---

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function htmlInline(x: Inline): string {
  if (typeof x === "string") return esc(x);
  const t = x.code ? `<code>${esc(x.text)}</code>` : esc(x.text);
  // Only http(s) and path links: a record's URL never becomes a javascript: link.
  return x.href && /^(https?:\/\/|\/)/.test(x.href) ? `<a href="${esc(x.href)}">${t}</a>` : t;
}
const htmlCell = (c: Cell) => (Array.isArray(c) ? c.map(htmlInline).join("") : htmlInline(c));

function htmlBlock(b: Block): string {
  if (b.kind === "p") return `<p>${htmlCell(b.text)}</p>`;
  if (b.kind === "pre") return `<pre><code class="language-${esc(b.lang)}">${esc(b.text)}</code></pre>`;
  if (b.rows.length === 0) return b.empty ? `<p class="empty">${esc(b.empty)}</p>` : "";
  const head = `<tr>${b.header.map((h) => `<th scope="col">${esc(h)}</th>`).join("")}</tr>`;
  const rows = b.rows.map((r) => `<tr>${r.map((c) => `<td>${htmlCell(c)}</td>`).join("")}</tr>`).join("\n");
  return `<table>\n<thead>${head}</thead>\n<tbody>\n${rows}\n</tbody>\n</table>`;
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1f24}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
.basis{color:#57606a;font-style:italic;margin-top:-.5rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;width:100%}th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}code{font:12px ui-monospace,monospace;word-break:break-all}pre{background:#f6f8fa;padding:.5rem;overflow-x:auto}
.empty{color:#57606a}nav ol{columns:2}@media print{a{color:inherit}nav{display:none}}`;

export function renderAuditReportHtml(r: AuditReport): string {
  const d = documentOf(r);
  const out = [
    "<!doctype html>",
    '<html lang="en">',
    `<head><meta charset="utf-8"><title>${esc(d.title)}</title><style>${STYLE}</style></head>`,
    "<body>",
    `<h1>${esc(d.title)}</h1>`,
    ...d.intro.map((c) => `<p>${htmlCell(c)}</p>`),
    `<nav><ol>${d.sections.map((s) => `<li><a href="#${s.id}">${esc(s.title)}</a> <span class="basis">${esc(s.basis)}</span></li>`).join("")}</ol></nav>`,
  ];
  d.sections.forEach((s, i) => {
    out.push(`<section id="${s.id}">`, `<h2>${i + 1}. ${esc(s.title)}</h2>`, `<p class="basis">${esc(s.basis)}</p>`);
    for (const b of s.blocks) {
      const text = htmlBlock(b);
      if (text) out.push(text);
    }
    out.push("</section>");
  });
  out.push("</body>", "</html>");
  return out.join("\n") + "\n";
}
