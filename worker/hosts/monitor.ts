/**
 * The host monitor, one per worker: checks hosts (describeHost over SSH: reachability, facts, GPU
 * re-discovery, so a driver installed after registration is seen), records the result, and kicks
 * the scheduler when capacity may have changed and every few seconds (escalation is time passing).
 *
 * SSH hosts are claimed by `last_check_at` (an UPDATE … RETURNING), so N workers check each host
 * about once per interval, not N times. A worker checks in its own local host.
 */
import fs from "node:fs";
import YAML from "yaml";
import { z } from "zod";
import type { Sql } from "../../db/client.js";
import type { SshHostRow } from "../../db/queries/hosts.js";
import type { Logger } from "../../app/log.js";
import { VhError } from "../../app/errors.js";
import type { RunnerRegistry } from "../runners/registry.js";
import { requestSchedulerPass } from "../../db/queries/jobs.js";
import { pinHostKey, recordCheck, upsertLocalHost, upsertSshHost, type HostInput } from "../../app/hosts/records.js";

const HostsFile = z.object({
  hosts: z
    .array(
      z.object({
        name: z.string().min(1),
        url: z.string().min(1),
        key: z.string().min(1),
        /** The host key fingerprint to pin (`SHA256:…`); absent: the first key seen is pinned. */
        hostKey: z.string().min(1).optional(),
        labels: z.record(z.string(), z.string()).default({}),
      }),
    )
    .default([]),
});

/** Read a hosts file (`hosts: [{ name, url: ssh://user@host:port, key: FILE, labels: {k: v} }]`). */
export function readHostsFile(file: string): HostInput[] {
  let data: unknown;
  try {
    data = YAML.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new VhError("invalid_config", `VH_HOSTS_FILE: cannot read ${file}: ${(err as Error).message}`);
  }
  const parsed = HostsFile.safeParse(data ?? {});
  if (!parsed.success) {
    throw new VhError("invalid_config", `VH_HOSTS_FILE ${file}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  return parsed.data.hosts.map((h) => ({ name: h.name, url: h.url, keyPath: h.key, labels: h.labels, source: "file", ...(h.hostKey ? { hostKeySha256: h.hostKey } : {}) }));
}

export interface HostMonitorOptions {
  sql: Sql;
  runners: RunnerRegistry;
  log: Logger;
  checkSeconds: number;
  /** Register this machine as a schedulable host. */
  local: boolean;
  hostsFile?: string;
  /** How often the scheduler is kicked regardless (ms). */
  kickEveryMs?: number;
  /** How long one SSH check may take before the host counts as down (ms). */
  checkTimeoutMs?: number;
}

export interface HostMonitor {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Check SSH hosts now (all, or one by name); returns how many were checked. */
  checkNow(name?: string): Promise<number>;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export function createHostMonitor(opts: HostMonitorOptions): HostMonitor {
  const kickEveryMs = opts.kickEveryMs ?? 5_000;
  const checkTimeoutMs = opts.checkTimeoutMs ?? 20_000;
  let timer: NodeJS.Timeout | null = null;
  let running = false;
  let loop: Promise<void> | null = null;
  let lastKick = 0;
  let lastLocal = 0;

  async function checkLocal(): Promise<void> {
    const runner = opts.runners.default();
    const info = await runner.describeHost();
    const id = await upsertLocalHost(opts.sql, opts.runners.localHostName, null, opts.local);
    const res = await recordCheck(opts.sql, id, { info });
    if (!res.wasUp || res.gpusChanged) await requestSchedulerPass(opts.sql);
  }

  async function checkSsh(name?: string): Promise<number> {
    const due = await opts.sql<Omit<SshHostRow, "kind">[]>`
      update hosts set last_check_at = now()
      where kind = 'ssh' and enabled and ${
        name === undefined
          ? opts.sql`(last_check_at is null or last_check_at < now() - make_interval(secs => ${opts.checkSeconds}))`
          : opts.sql`name = ${name}`
      }
      returning id, name, address, key_path, host_key_sha256`;
    await Promise.all(
      due.map(async (h) => {
        let res: { wasUp: boolean; gpusChanged: boolean };
        try {
          const runner = opts.runners.forHost({ id: h.id, name: h.name, kind: "ssh", address: h.address, keyPath: h.key_path, hostKeySha256: h.host_key_sha256 });
          const info = await withTimeout(runner.describeHost(), checkTimeoutMs, `Checking host ${h.name}`);
          // Trust on first use: the key of the first successful check is pinned from now on.
          const seen = h.host_key_sha256 === null ? opts.runners.hostKeySha256(h.name) : null;
          if (seen) {
            await pinHostKey(opts.sql, h.id, seen);
            opts.log.info("host key pinned", { host: h.name, hostKey: seen });
          }
          res = await recordCheck(opts.sql, h.id, { info });
          if (!res.wasUp) opts.log.info("host up", { host: h.name, gpus: info.gpus.length });
          if (!res.wasUp || res.gpusChanged) await requestSchedulerPass(opts.sql);
        } catch (err) {
          res = await recordCheck(opts.sql, h.id, { error: err instanceof Error ? err.message : String(err) });
          if (res.wasUp) opts.log.warn("host down", { host: h.name, err });
          // A fresh connection next time (the old one may be half-dead).
          opts.runners.forget(h.name);
        }
      }),
    );
    return due.length;
  }

  async function tick(): Promise<void> {
    const now = Date.now();
    if (now - lastLocal >= opts.checkSeconds * 1000) {
      lastLocal = now;
      await checkLocal().catch((err: unknown) => opts.log.warn("local host check failed", { err }));
    }
    await checkSsh().catch((err: unknown) => opts.log.warn("host checks failed", { err }));
    if (Date.now() - lastKick >= kickEveryMs) {
      lastKick = Date.now();
      await requestSchedulerPass(opts.sql).catch((err: unknown) => opts.log.warn("scheduler kick failed", { err }));
    }
  }

  return {
    async start() {
      if (opts.hostsFile) for (const h of readHostsFile(opts.hostsFile)) await upsertSshHost(opts.sql, h);
      lastLocal = Date.now();
      await checkLocal();
      running = true;
      const every = Math.min(1000, opts.checkSeconds * 1000);
      const schedule = () => {
        if (!running) return;
        timer = setTimeout(() => {
          loop = tick().finally(schedule);
        }, every);
      };
      schedule();
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      await loop;
    },
    checkNow: (name) => checkSsh(name),
  };
}
