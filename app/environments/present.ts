/**
 * Environments as the API and `vh environment list|show` show them: the recipe (provider, region,
 * instance types with GPUs and prices, spot or on-demand, min/max, idle shutdown), its instances now
 * (each host's lifecycle, instance id, type, zone, price, what runs on it), the executions waiting for
 * it, and what its executions have cost.
 */
import type { Sql } from "../../db/client.js";
import { VhError } from "../errors.js";
import type { Environment } from "./file.js";
import { defaultEnvironment } from "./resolve.js";

export interface EnvironmentInstanceView {
  host: string;
  lifecycle: string;
  reason: string | null;
  instanceId: string | null;
  instanceType: string | null;
  zone: string | null;
  spot: boolean | null;
  pricePerHour: number | null;
  launchedAt: Date | null;
  readyAt: Date | null;
  interruption: string | null;
  running: { project: string; counter: number; status: string }[];
}

export interface EnvironmentView {
  name: string;
  provider: string;
  description: string | null;
  region: string;
  default: boolean;
  instanceTypes: { name: string; gpus: number; gpuModel: string | null; vcpus: number; memoryGiB: number; onDemandPerHour: number }[];
  spot: boolean;
  maxPrice: number | null;
  minInstances: number;
  maxInstances: number;
  idleShutdownSeconds: number;
  labels: Record<string, string>;
  instances: EnvironmentInstanceView[];
  /** Executions queued for it now. */
  queued: number;
  /** Executions that ran in it, and their cost in USD over all attempts. */
  executions: number;
  costUsd: number;
}

export async function environmentViews(sql: Sql, envs: readonly Environment[], defaultName: string | undefined, only?: string): Promise<EnvironmentView[]> {
  const picked = only === undefined ? envs : envs.filter((e) => e.name === only);
  if (only !== undefined && picked.length === 0) {
    throw new VhError("not_found", `Environment "${only}" does not exist. Environments: ${envs.length ? envs.map((e) => e.name).join(", ") : "none is configured (VH_ENVIRONMENTS_FILE)"}.`);
  }
  const names = picked.map((e) => e.name);
  const dflt = defaultEnvironment(envs, defaultName)?.name ?? null;
  const hosts = await sql<(Omit<EnvironmentInstanceView, "running" | "host" | "reason" | "instanceId" | "instanceType" | "pricePerHour" | "launchedAt" | "readyAt"> & {
    id: string; name: string; environment: string; lifecycle_reason: string | null; instance_id: string | null; instance_type: string | null;
    price_per_hour: number | null; launched_at: Date | null; ready_at: Date | null;
  })[]>`
    select id, name, environment, lifecycle, lifecycle_reason, instance_id, instance_type, zone, spot, price_per_hour, launched_at, ready_at, interruption
    from hosts where environment = any(${names}::text[]) and provider is not null and lifecycle <> 'terminated'
    order by created_at, name`;
  const running = await sql<{ host_id: string; project: string; counter: number; status: string }[]>`
    select p.host_id, pr.name as project, e.counter, e.status from execution_placements p
    join executions e on e.id = p.execution_id join projects pr on pr.id = e.project_id
    where p.released_at is null and p.host_id = any(${hosts.map((h) => h.id)}::uuid[]) order by e.counter`;
  const stats = await sql<{ environment: string; queued: number; n: number; cost: number | null }[]>`
    select environment, count(*) filter (where status = 'queued')::int as queued, count(*)::int as n, sum(cost_usd)::float8 as cost
    from executions where environment = any(${names}::text[]) group by environment`;
  return picked.map((e) => {
    const s = stats.find((x) => x.environment === e.name);
    return {
      name: e.name,
      provider: e.provider,
      description: e.description,
      region: e.region,
      default: e.name === dflt,
      instanceTypes: e.instanceTypes.map((t) => ({ name: t.name, gpus: t.gpus, gpuModel: t.gpuModel, vcpus: t.vcpus, memoryGiB: t.memoryGiB, onDemandPerHour: t.onDemandPerHour })),
      spot: e.spot,
      maxPrice: e.maxPrice,
      minInstances: e.minInstances,
      maxInstances: e.maxInstances,
      idleShutdownSeconds: e.idleShutdownSeconds,
      labels: e.labels,
      instances: hosts
        .filter((h) => h.environment === e.name)
        .map((h) => ({
          host: h.name,
          lifecycle: h.lifecycle,
          reason: h.lifecycle_reason,
          instanceId: h.instance_id,
          instanceType: h.instance_type,
          zone: h.zone,
          spot: h.spot,
          pricePerHour: h.price_per_hour,
          launchedAt: h.launched_at,
          readyAt: h.ready_at,
          interruption: h.interruption,
          running: running.filter((r) => r.host_id === h.id).map((r) => ({ project: r.project, counter: r.counter, status: r.status })),
        })),
      queued: s?.queued ?? 0,
      executions: s?.n ?? 0,
      costUsd: Math.round((s?.cost ?? 0) * 1e6) / 1e6,
    };
  });
}
