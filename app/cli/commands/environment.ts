/**
 * `vh environment list|show`: the environments rented hosts come from (VH_ENVIRONMENTS_FILE on the
 * server; docs/compute.md), their instances now, what waits for them and what they cost.
 *
 *   vh environment list          one line per environment
 *   vh environment show gpu-spot  its recipe, instances (lifecycle, type, zone, price, what runs) and cost
 */
import type { Context } from "../context.js";
import type { EnvironmentView } from "../../environments/present.js";
import { jsonText, table } from "../format.js";
import { println } from "../io.js";

export function usd(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  return n >= 1 ? `$${n.toFixed(2)}` : `$${n.toFixed(4)}`;
}

function market(e: Pick<EnvironmentView, "spot" | "maxPrice">): string {
  return e.spot ? `spot${e.maxPrice !== null ? ` ≤ ${usd(e.maxPrice)}/h` : ""}` : "on-demand";
}

function gpuText(t: EnvironmentView["instanceTypes"][number]): string {
  return t.gpus ? `${t.gpus}× ${t.gpuModel ?? "GPU"}` : "no GPU";
}

export async function environmentListCommand(ctx: Context, opts: { json?: boolean }): Promise<number> {
  const { results } = await ctx.client().json<{ results: EnvironmentView[] }>("GET", "/environments");
  if (opts.json) {
    ctx.io.stdout.write(jsonText(results));
    return 0;
  }
  if (results.length === 0) {
    println(ctx.io.stdout, "No environments. The server reads them from VH_ENVIRONMENTS_FILE (docs/compute.md).");
    return 0;
  }
  const rows = results.map((e) => {
    const live = e.instances.filter((i) => i.lifecycle !== "failed");
    return [
      `${e.name}${e.default ? " (default)" : ""}`,
      `${e.provider} ${e.region}`,
      e.instanceTypes.map((t) => t.name).join(", "),
      e.instanceTypes[0] ? gpuText(e.instanceTypes[0]) : "",
      market(e),
      `${live.length} (${e.minInstances}–${e.maxInstances})`,
      String(e.queued),
      usd(e.costUsd),
    ];
  });
  ctx.io.stdout.write(table(["ENVIRONMENT", "WHERE", "TYPES", "GPUS", "MARKET", "INSTANCES", "QUEUED", "COST"], rows));
  return 0;
}

export async function environmentShowCommand(ctx: Context, name: string, opts: { json?: boolean }): Promise<number> {
  const e = await ctx.client().json<EnvironmentView>("GET", `/environments/${encodeURIComponent(name)}`);
  if (opts.json) {
    ctx.io.stdout.write(jsonText(e));
    return 0;
  }
  const out = ctx.io.stdout;
  println(out, `${e.name}${e.default ? " (the default environment)" : ""}${e.description ? `: ${e.description}` : ""}`);
  println(out, `  provider     ${e.provider}, region ${e.region}, ${market(e)}`);
  for (const t of e.instanceTypes) println(out, `  type         ${t.name}: ${gpuText(t)}, ${t.vcpus} vCPU, ${t.memoryGiB} GiB, on-demand ${usd(t.onDemandPerHour)}/h`);
  println(out, `  instances    min ${e.minInstances}, max ${e.maxInstances}; idle ones end after ${e.idleShutdownSeconds} s`);
  if (Object.keys(e.labels).length) println(out, `  labels       ${Object.entries(e.labels).map(([k, v]) => `${k}=${v}`).join(", ")}`);
  println(out, `  queued       ${e.queued} execution${e.queued === 1 ? "" : "s"}`);
  println(out, `  cost so far  ${usd(e.costUsd)} over ${e.executions} execution${e.executions === 1 ? "" : "s"}`);
  if (e.instances.length === 0) {
    println(out, "  No instances now.");
    return 0;
  }
  const rows = e.instances.map((i) => [
    i.host,
    i.lifecycle + (i.reason && i.lifecycle !== "ready" ? ` (${i.reason.slice(0, 60)})` : ""),
    i.instanceId ?? "—",
    `${i.instanceType ?? "?"}${i.spot ? " spot" : ""}`,
    i.zone ?? "—",
    i.pricePerHour !== null ? `${usd(i.pricePerHour)}/h` : "—",
    i.running.map((r) => `${r.project} #${r.counter} (${r.status})`).join(", ") || (i.interruption ? `notice: ${i.interruption.slice(0, 40)}` : "idle"),
  ]);
  out.write(table(["HOST", "LIFECYCLE", "INSTANCE", "TYPE", "ZONE", "PRICE", "RUNNING"], rows));
  return 0;
}
