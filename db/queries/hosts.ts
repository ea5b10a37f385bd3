/** Statements on hosts, their GPUs and the GPU quotas (db/schema/hosts.ts) used from more than one place. */
import type { gpuQuotas, gpus, hosts } from "../schema/hosts.js";
import type { Cols, Conn } from "./rows.js";

/** What a runner needs to reach an SSH host. */
export type SshHostRow = Cols<typeof hosts, "id" | "name" | "kind" | "address" | "key_path" | "host_key_sha256">;

/** A GPU as the last discovery found it. */
export type GpuRow = Cols<typeof gpus, "host_id" | "index" | "uuid" | "name" | "memory_mib" | "driver_version">;

/** The GPUs the last discovery still found (`present`) on these hosts, by device index. */
export async function presentGpus(sql: Conn, hostIds: string[]): Promise<GpuRow[]> {
  return sql<GpuRow[]>`
    select host_id, index, uuid, name, memory_mib, driver_version from gpus where host_id = any(${hostIds}::uuid[]) and present order by index`;
}

/**
 * Asks for a check of host `name` now: a null last_check_at is what a worker's host monitor picks
 * up within a second. Null when there is no such host.
 */
export async function requestHostCheck(sql: Conn, name: string): Promise<Cols<typeof hosts, "id" | "kind"> | null> {
  const [row] = await sql<Cols<typeof hosts, "id" | "kind">[]>`update hosts set last_check_at = null where name = ${name} returning id, kind`;
  return row ?? null;
}

export type GpuQuotaRow = Cols<typeof gpuQuotas, "key" | "max_gpus" | "projects">;

/** Every GPU quota, by key. */
export async function gpuQuotaRows(sql: Conn): Promise<GpuQuotaRow[]> {
  return sql<GpuQuotaRow[]>`select key, max_gpus, projects from gpu_quotas order by key`;
}
