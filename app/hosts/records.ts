/**
 * Hosts in Postgres: registration (CLI/API, hosts file, the worker's own machine), the result of a
 * health check with GPU (re-)discovery, listing with what runs on each GPU, and removal.
 */
import fs from "node:fs";
import type { Sql } from "../../db/client.js";
import { presentGpus } from "../../db/queries/hosts.js";
import type { Cols } from "../../db/queries/rows.js";
import type { hosts as hostsTable } from "../../db/schema/hosts.js";
import { VhError } from "../errors.js";
import type { HostInfo } from "../contracts/runner.js";
import { isHostKeyFingerprint, parseSshUrl } from "./ssh-address.js";

export interface HostInput {
  name: string;
  /** `ssh://user@host:port[/ROOT-DIR]`. */
  url: string;
  /** Private key file on the control plane. */
  keyPath: string;
  labels?: Record<string, string>;
  source?: string;
  /** The host key fingerprint to pin (`SHA256:…`, as `ssh-keygen -lf` shows it); absent: pinned on the first successful connection. */
  hostKeySha256?: string | null;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function validateHostInput(h: HostInput): void {
  if (!NAME.test(h.name)) throw new VhError("bad_request", `Host name "${h.name}": letters, digits, "_", "." and "-", at most 63.`);
  try {
    parseSshUrl(h.url);
  } catch (err) {
    throw new VhError("bad_request", (err as Error).message);
  }
  if (h.hostKeySha256 != null && !isHostKeyFingerprint(h.hostKeySha256)) {
    throw new VhError("bad_request", `Host ${h.name}: "${h.hostKeySha256}" is not a host key fingerprint (SHA256:… as ssh-keygen -lf shows it).`);
  }
  if (!h.keyPath) throw new VhError("bad_request", `Host ${h.name}: a private key file is required (--key FILE).`);
  if (!fs.existsSync(h.keyPath)) {
    throw new VhError("bad_request", `Host ${h.name}: the key file ${h.keyPath} does not exist on the vh server (the key is read there).`);
  }
  for (const [k, v] of Object.entries(h.labels ?? {})) {
    if (!/^[A-Za-z0-9_.\/-]{1,63}$/.test(k) || typeof v !== "string" || v.length > 200) throw new VhError("bad_request", `Invalid label ${k}=${v}.`);
  }
}

/**
 * Add or update an SSH host by name. A pinned host key is kept on update unless a fingerprint is
 * given (to change a pin without one: remove the host and add it again, the next check pins anew).
 */
export async function upsertSshHost(sql: Sql, h: HostInput): Promise<{ id: string; created: boolean }> {
  validateHostInput(h);
  const [row] = await sql<{ id: string; created: boolean }[]>`
    insert into hosts (name, kind, address, key_path, labels, source, host_key_sha256)
    values (${h.name}, 'ssh', ${h.url}, ${h.keyPath}, ${sql.json(h.labels ?? {})}, ${h.source ?? "api"}, ${h.hostKeySha256 ?? null})
    on conflict (name) do update set address = excluded.address, key_path = excluded.key_path, labels = excluded.labels,
      source = excluded.source, enabled = true, host_key_sha256 = coalesce(excluded.host_key_sha256, hosts.host_key_sha256)
    where hosts.kind = 'ssh'
    returning id, (xmax = 0) as created`;
  if (!row) throw new VhError("conflict", `Host ${h.name} is a local host; choose another name.`);
  return row;
}

/** Pin a host's key on first use: only where none is pinned yet (the first worker to connect wins). */
export async function pinHostKey(sql: Sql, hostId: string, fingerprint: string): Promise<boolean> {
  const rows = await sql`update hosts set host_key_sha256 = ${fingerprint} where id = ${hostId} and host_key_sha256 is null returning id`;
  return rows.length > 0;
}

/** The worker's own machine as a host (`kind = local`); checked in by its worker. */
export async function upsertLocalHost(sql: Sql, name: string, info: HostInfo | null, enabled: boolean): Promise<string> {
  const [row] = await sql<{ id: string }[]>`
    insert into hosts (name, kind, source, enabled) values (${name}, 'local', 'worker', ${enabled})
    on conflict (name) do update set enabled = ${enabled}
    returning id`;
  const id = row!.id;
  if (info) await recordCheck(sql, id, { info });
  return id;
}

/** Record a health check: facts + GPUs on success (GPUs no longer reported become `present = false`), the error otherwise. */
export async function recordCheck(sql: Sql, hostId: string, res: { info: HostInfo } | { error: string }): Promise<{ wasUp: boolean; gpusChanged: boolean }> {
  return sql.begin(async (tx) => {
    const [prev] = await tx<{ status: string }[]>`select status from hosts where id = ${hostId} for update`;
    const wasUp = prev?.status === "up";
    if ("error" in res) {
      await tx`update hosts set status = 'down', last_error = ${res.error}, last_check_at = now() where id = ${hostId}`;
      return { wasUp, gpusChanged: false };
    }
    const { info } = res;
    await tx`
      update hosts set status = 'up', last_error = null, facts = ${tx.json(info as never)}, last_check_at = now(), last_seen_at = now()
      where id = ${hostId}`;
    const before = await presentGpus(tx, [hostId]);
    for (const g of info.gpus) {
      await tx`
        insert into gpus (host_id, index, uuid, name, memory_mib, driver_version, present, updated_at)
        values (${hostId}, ${g.index}, ${g.uuid}, ${g.name}, ${g.memoryMiB}, ${g.driverVersion}, true, now())
        on conflict (host_id, index) do update set uuid = excluded.uuid, name = excluded.name, memory_mib = excluded.memory_mib,
          driver_version = excluded.driver_version, present = true, updated_at = now()`;
    }
    const indices = info.gpus.map((g) => g.index);
    await tx`update gpus set present = false, updated_at = now() where host_id = ${hostId} and present and not (index = any(${indices}::int[]))`;
    const after = info.gpus.map((g) => `${g.index}:${g.uuid}`).join(",");
    return { wasUp, gpusChanged: before.map((g) => `${g.index}:${g.uuid}`).join(",") !== after };
  });
}

/** GPUs of the largest enabled host (for refusing impossible requests at creation), and its name. */
export async function largestHost(sql: Sql): Promise<{ name: string; gpus: number } | null> {
  const [row] = await sql<{ name: string; n: number }[]>`
    select h.name, count(g.index)::int as n from hosts h left join gpus g on g.host_id = h.id and g.present
    where h.enabled and h.environment is null group by h.id, h.name order by n desc, h.name limit 1`;
  return row ? { name: row.name, gpus: row.n } : null;
}

export interface HostView {
  name: string;
  kind: string;
  address: string | null;
  /** The pinned host key fingerprint (`SHA256:…`), null until the first successful check. */
  hostKeySha256: string | null;
  labels: Record<string, string>;
  enabled: boolean;
  status: string;
  lastError: string | null;
  lastSeenAt: Date | null;
  facts: Record<string, unknown> | null;
  gpus: { index: number; uuid: string; name: string; memoryMiB: number; driverVersion: string; execution: { project: string; counter: number; status: string } | null }[];
  /** Executions placed on the host now (CPU-only ones included). */
  executions: { project: string; counter: number; status: string; gpus: number[] }[];
}

export async function listHosts(sql: Sql, name?: string): Promise<HostView[]> {
  const hosts = await sql<Cols<typeof hostsTable, "id" | "name" | "kind" | "address" | "host_key_sha256" | "labels" | "enabled" | "status" | "last_error" | "last_seen_at" | "facts">[]>`
    select id, name, kind, address, host_key_sha256, labels, enabled, status, last_error, last_seen_at, facts from hosts
    where ${name === undefined ? sql`true` : sql`name = ${name}`} order by name`;
  const ids = hosts.map((h) => h.id);
  const gpus = await presentGpus(sql, ids);
  const placed = await sql<{ host_id: string; gpus: number[]; project: string; counter: number; status: string }[]>`
    select p.host_id, p.gpu_indices as gpus, pr.name as project, e.counter, e.status
    from execution_placements p join executions e on e.id = p.execution_id join projects pr on pr.id = e.project_id
    where p.released_at is null and p.host_id = any(${ids}::uuid[]) order by pr.name, e.counter`;
  return hosts.map((h) => {
    const mine = placed.filter((p) => p.host_id === h.id);
    return {
      name: h.name,
      kind: h.kind,
      address: h.address,
      hostKeySha256: h.host_key_sha256,
      labels: h.labels,
      enabled: h.enabled,
      status: h.status,
      lastError: h.last_error,
      lastSeenAt: h.last_seen_at,
      facts: h.facts,
      gpus: gpus
        .filter((g) => g.host_id === h.id)
        .map((g) => {
          const on = mine.find((p) => p.gpus.includes(g.index));
          return {
            index: g.index,
            uuid: g.uuid,
            name: g.name,
            memoryMiB: g.memory_mib,
            driverVersion: g.driver_version,
            execution: on ? { project: on.project, counter: on.counter, status: on.status } : null,
          };
        }),
      executions: mine.map((p) => ({ project: p.project, counter: p.counter, status: p.status, gpus: p.gpus })),
    };
  });
}

/** Remove a host; refused while executions are placed on it (it is disabled instead, so they can end). */
export async function removeHost(sql: Sql, name: string): Promise<void> {
  const busy = await sql.begin(async (tx) => {
    const [h] = await tx<{ id: string }[]>`select id from hosts where name = ${name} for update`;
    if (!h) throw new VhError("not_found", `No host named ${name}.`);
    const [b] = await tx<{ n: number }[]>`select count(*)::int as n from execution_placements where host_id = ${h.id} and released_at is null`;
    if ((b?.n ?? 0) > 0) {
      await tx`update hosts set enabled = false where id = ${h.id}`;
      return b!.n;
    }
    await tx`delete from hosts where id = ${h.id}`;
    return 0;
  });
  if (busy > 0) {
    throw new VhError("conflict", `Host ${name} still runs ${busy} execution(s); it is now disabled (nothing new starts there). Remove it once they end.`);
  }
}
