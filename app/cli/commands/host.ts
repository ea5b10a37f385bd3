/**
 * `vh host add|list|remove|check`: GPU hosts reached over SSH (docs/scheduler.md).
 *
 *   vh host add gpu-1 ssh://ubuntu@10.0.0.5:22 --key ~/.ssh/vh_gpu --label gpu=a100
 *   vh host add gpu-1 ssh://ubuntu@10.0.0.5:22 --key ~/.ssh/vh_gpu --host-key SHA256:…   (pin a known key)
 *   vh host list           each host, its GPUs and what runs on each
 */
import fs from "node:fs";
import path from "node:path";
import type { Context } from "../context.js";
import { CliError } from "../errors.js";
import { jsonText, table } from "../format.js";
import { println } from "../io.js";

interface HostView {
  name: string;
  kind: string;
  address: string | null;
  hostKeySha256?: string | null;
  labels: Record<string, string>;
  enabled: boolean;
  status: string;
  lastError: string | null;
  facts: { cpuCount?: number; memoryBytes?: number; cudaVersion?: string | null; os?: string } | null;
  gpus: { index: number; name: string; memoryMiB: number; driverVersion: string; execution: { project: string; counter: number; status: string } | null }[];
  executions: { project: string; counter: number; status: string; gpus: number[] }[];
}

export function parseLabels(values: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf("=");
    if (i <= 0) throw new CliError(`--label takes KEY=VALUE, not "${v}".`);
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

export async function hostAddCommand(ctx: Context, name: string, url: string, opts: { key?: string; label?: string[]; hostKey?: string; json?: boolean }): Promise<number> {
  if (!opts.key) throw new CliError("vh host add NAME ssh://user@host:port --key FILE: the private key file is required (its content is sent to the vh server, which keeps it mode 600).");
  if (opts.hostKey !== undefined && !/^SHA256:[A-Za-z0-9+/]{43}$/.test(opts.hostKey)) {
    throw new CliError(`--host-key takes the key's SHA256 fingerprint as ssh-keygen -lf shows it (SHA256:…), not "${opts.hostKey}".`);
  }
  const keyFile = path.resolve(ctx.io.cwd, opts.key);
  let privateKey: string;
  try {
    privateKey = fs.readFileSync(keyFile, "utf8");
  } catch (err) {
    throw new CliError(`--key ${opts.key}: cannot read ${keyFile} (${(err as NodeJS.ErrnoException).code ?? String(err)}).`);
  }
  // The key's content, not its path: the server never reads a path an API caller names.
  const json = { name, url, privateKey, labels: parseLabels(opts.label), ...(opts.hostKey ? { hostKey: opts.hostKey } : {}) };
  const host = await ctx.client().json<HostView>("POST", "/hosts", { json });
  if (opts.json) ctx.io.stdout.write(jsonText(host));
  else {
    const pin = host.hostKeySha256 ? `host key ${host.hostKeySha256} pinned` : "its host key is pinned on the first check";
    ctx.info(`Host ${host.name} saved (${url}; ${pin}); a worker checks it and discovers its GPUs within seconds: vh host check ${host.name}.`);
  }
  return 0;
}

/** `--json`: the API's answer, `{"removed": NAME}`. */
export async function hostRemoveCommand(ctx: Context, name: string, opts: { json?: boolean } = {}): Promise<number> {
  const removed = await ctx.client().json<{ removed: string }>("DELETE", `/hosts/${encodeURIComponent(name)}`);
  if (opts.json) ctx.io.stdout.write(jsonText(removed));
  else ctx.info(`Host ${name} removed.`);
  return 0;
}

function gib(bytes: number | undefined): string {
  return bytes ? `${Math.round(bytes / 2 ** 30)} GiB` : "?";
}

export function formatHosts(hosts: HostView[]): string {
  const rows: string[][] = [];
  for (const h of hosts) {
    const state = h.enabled ? h.status : `${h.status}, disabled`;
    const cpu = h.facts ? `${h.facts.cpuCount ?? "?"} CPU, ${gib(h.facts.memoryBytes)}` : "";
    const cuda = h.facts?.cudaVersion ? `CUDA ${h.facts.cudaVersion}` : "";
    const labels = Object.entries(h.labels).map(([k, v]) => `${k}=${v}`).join(",");
    rows.push([h.name, state, `${h.gpus.length} GPU`, [cpu, cuda].filter(Boolean).join(", "), labels, h.address ?? h.kind]);
    for (const g of h.gpus) {
      const on = g.execution ? `${g.execution.project} #${g.execution.counter} (${g.execution.status})` : "free";
      rows.push([`  gpu ${g.index}`, "", g.name || "?", `${Math.round(g.memoryMiB / 1024)} GiB, driver ${g.driverVersion || "?"}`, on, ""]);
    }
    const cpuOnly = h.executions.filter((e) => e.gpus.length === 0);
    if (cpuOnly.length > 0) rows.push(["  cpu-only", "", "", "", cpuOnly.map((e) => `${e.project} #${e.counter}`).join(", "), ""]);
    if (h.lastError && h.status === "down") rows.push(["  error", "", h.lastError.slice(0, 100), "", "", ""]);
  }
  return table(["HOST", "STATUS", "GPUS", "RESOURCES", "LABELS / RUNNING", "ADDRESS"], rows);
}

export async function hostListCommand(ctx: Context, opts: { json?: boolean }): Promise<number> {
  const { results } = await ctx.client().json<{ results: HostView[] }>("GET", "/hosts");
  if (opts.json) {
    ctx.io.stdout.write(jsonText(results));
    return 0;
  }
  if (results.length === 0) {
    println(ctx.io.stdout, "No hosts. Add one: vh host add NAME ssh://user@host:port --key FILE");
    return 0;
  }
  ctx.io.stdout.write(formatHosts(results));
  return 0;
}

export async function hostCheckCommand(ctx: Context, name: string, opts: { json?: boolean }): Promise<number> {
  const host = await ctx.client().json<HostView>("POST", `/hosts/${encodeURIComponent(name)}/check`);
  if (opts.json) ctx.io.stdout.write(jsonText(host));
  else ctx.io.stdout.write(formatHosts([host]));
  return host.status === "up" ? 0 : 1;
}
