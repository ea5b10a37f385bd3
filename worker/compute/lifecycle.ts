/**
 * The compute manager: one per control plane at a time (a session-level advisory lock; another
 * worker takes over within a tick of the holder's death). Every `VH_COMPUTE_TICK_S` it
 *
 * 1. re-drives launches a crash interrupted (same ClientToken: never a second instance);
 * 2. follows booting instances: running → host keys from the console (pinned before the first
 *    connection) → an SSH check → `ready` (the scheduler places on it); past `boot-timeout` it is
 *    `failed` and terminated;
 * 3. launches for queued demand and the warm pool (worker/compute/autoscale.ts), trying the
 *    environment's offers in order; a capacity refusal tries the next, then waits (said on the queued
 *    executions), never queues a second launch for the same need;
 * 4. reads spot notices (worker/compute/spot.ts) and drains interrupted instances;
 * 5. terminates idle instances past `idle-shutdown` (keeping `min-instances`), drained ones once empty,
 *    and retries terminations that failed;
 *
 * and every `VH_RECONCILE_S` it reconciles (worker/compute/reconcile.ts): any instance tagged with this
 * cluster that vh does not know or no longer wants is terminated; hosts whose instance vanished are
 * marked so. The hosts table is the record: the row is written before the launch call, so a crash
 * between the two leaves a row the next tick completes or the reconciler cleans up.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { ReservedSql } from "postgres";
import type { Sql } from "../../db/client.js";
import type { Logger } from "../../app/log.js";
import type { Environment } from "../../app/environments/file.js";
import type { Compute, Offer } from "../../app/contracts/compute.js";
import { NoCapacityError, NotYetReadyError } from "../../app/contracts/compute.js";
import type { RunnerRegistry } from "../runners/registry.js";
import { recordCheck } from "../../app/hosts/records.js";
import { requestSchedulerPass } from "../../db/queries/jobs.js";
import { idleToTerminate, launchesFor } from "./autoscale.js";
import type { ComputeKey } from "./keys.js";
import { createSpotWatch, type SpotWatch } from "./spot.js";
import { reconcile, type ReconcileResult } from "./reconcile.js";
import type { ManagedHostRow } from "./host-row.js";

const LOCK_KEY = 0x76685f63; // "vh_c"


export interface ComputeManagerOptions {
  sql: Sql;
  log: Logger;
  runners: RunnerRegistry;
  /** Providers by kind (`ec2`). */
  providers: ReadonlyMap<string, Compute>;
  environments: () => readonly Environment[];
  cluster: string;
  key: ComputeKey;
  tickMs: number;
  reconcileMs: number;
  /** Seconds between an instance's metadata polls for spot notices (in its user data). */
  spotPollSeconds?: number;
  /** How long one SSH check of a booting instance may take. */
  checkTimeoutMs?: number;
}

export interface TickResult {
  launched: number;
  ready: number;
  terminated: number;
  interrupted: number;
}

export interface ComputeManager {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** One pass now (tests); false when another control plane holds the lock. */
  tick(): Promise<TickResult | false>;
  reconcile(): Promise<ReconcileResult | false>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}

export function createComputeManager(opts: ComputeManagerOptions): ComputeManager {
  const { sql, log } = opts;
  const checkTimeoutMs = opts.checkTimeoutMs ?? 20_000;
  let lockConn: ReservedSql | null = null;
  let running = false;
  let loop: Promise<void> | null = null;
  let lastReconcile = 0;
  /** An environment whose every offer was refused: not asked again before this time (ms). */
  const backoff = new Map<string, { until: number; reason: string }>();
  /** Offers (type|zone) of an environment recently interrupted: tried last for a while. */
  const interruptedOffers = new Map<string, number>();
  const spot: SpotWatch = createSpotWatch({ sql, log, exec: hostExec, onInterrupted: (h) => {
      // The zone it ran in, and the type in any zone (offers name a zone only when the environment pins one).
      interruptedOffers.set(`${h.environment}|${h.instance_type}|${h.zone ?? ""}`, Date.now());
      interruptedOffers.set(`${h.environment}|${h.instance_type}|`, Date.now());
    } });
  let busy: Promise<unknown> = Promise.resolve();

  /** A short script on a rented host, over its runner's shell (the same SSH connection executions use). */
  function hostExec(h: ManagedHostRow, script: string): Promise<string> {
    return opts.runners.exec({ id: h.id, name: h.name, kind: "ssh", address: h.address, keyPath: h.key_path, hostKeySha256: h.host_key_sha256 }, script, 5000);
  }

  /** One pass at a time in this process. */
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = busy.then(fn, fn);
    busy = p.catch(() => {});
    return p;
  }

  async function leader(): Promise<boolean> {
    if (lockConn) return true;
    const conn = await sql.reserve();
    const [row] = await conn<{ ok: boolean }[]>`select pg_try_advisory_lock(${LOCK_KEY}) as ok`;
    if (row?.ok) {
      lockConn = conn;
      return true;
    }
    conn.release();
    return false;
  }

  const envOf = (name: string) => opts.environments().find((e) => e.name === name);
  const providerOf = (e: Environment) => opts.providers.get(e.provider);

  async function managedHosts(): Promise<ManagedHostRow[]> {
    return sql<ManagedHostRow[]>`
      select h.id, h.name, h.environment, h.provider, h.instance_id, h.launch_token, h.lifecycle, h.instance_type, h.zone, h.spot,
        h.price_per_hour, h.address, h.key_path, h.host_key_sha256, h.launched_at, h.created_at, h.idle_since, h.interruption,
        (select count(*)::int from execution_placements p where p.host_id = h.id and p.released_at is null) as placed
      from hosts h where h.provider is not null and h.lifecycle not in ('terminated')
      order by h.created_at, h.id`;
  }

  async function setLifecycle(id: string, lifecycle: string, reason: string | null, extra = sql``): Promise<void> {
    await sql`update hosts set lifecycle = ${lifecycle}, lifecycle_reason = ${reason} ${extra} where id = ${id}`;
  }

  /** Ask the provider to terminate; the row says `terminating` first, so a failure is retried next tick. */
  async function terminate(h: Pick<ManagedHostRow, "id" | "name" | "environment" | "instance_id">, reason: string): Promise<boolean> {
    await sql`update hosts set lifecycle = 'terminating', lifecycle_reason = coalesce(lifecycle_reason, ${reason}), enabled = false where id = ${h.id} and lifecycle <> 'terminated'`;
    const e = envOf(h.environment);
    const provider = e ? providerOf(e) : undefined;
    if (!h.instance_id) {
      await setLifecycle(h.id, "terminated", reason, sql`, terminated_at = now(), status = 'down'`);
      return true;
    }
    if (!e || !provider) {
      log.warn("cannot terminate: its environment is gone from VH_ENVIRONMENTS_FILE; the reconciler will", { host: h.name, instance: h.instance_id });
      return false;
    }
    try {
      await provider.terminate(e.name, h.instance_id);
    } catch (err) {
      log.warn("terminate failed; retried next tick", { host: h.name, instance: h.instance_id, err });
      return false;
    }
    await sql`update hosts set lifecycle = 'terminated', terminated_at = now(), status = 'down', enabled = false where id = ${h.id}`;
    opts.runners.forget(h.name);
    log.info("instance terminated", { host: h.name, instance: h.instance_id, reason });
    return true;
  }

  function penalty(o: Offer): number {
    const t = interruptedOffers.get(`${o.environment}|${o.instanceType}|${o.zone ?? ""}`) ?? interruptedOffers.get(`${o.environment}|${o.instanceType}|`);
    return t !== undefined && Date.now() - t < 15 * 60_000 ? 1 : 0;
  }

  /** Launch one instance for an environment: a row first, then the offers in order until one is had. */
  async function launch(e: Environment, provider: Compute, gpus: number): Promise<boolean> {
    const offers = (await provider.offers(e.name, { gpus })).map((o, i) => ({ o, i })).sort((a, b) => penalty(a.o) - penalty(b.o) || a.i - b.i).map((x) => x.o);
    if (offers.length === 0) {
      backoff.set(e.name, { until: Date.now() + 30_000, reason: `no offer of environment "${e.name}" is under its max-price now` });
      return false;
    }
    const id = randomUUID();
    const name = `${e.name}-${randomBytes(4).toString("hex")}`;
    const token = `vh-${id}`;
    const first = offers[0]!;
    await sql`
      insert into hosts (id, name, kind, key_path, enabled, status, source, provider, environment, launch_token, lifecycle, region, instance_type, spot, price_per_hour, labels)
      values (${id}, ${name}, 'ssh', ${opts.key.path}, false, 'unknown', 'compute', ${e.provider}, ${e.name}, ${token}, 'launching', ${e.region},
        ${first.instanceType}, ${first.spot}, ${first.pricePerHour}, ${sql.json(e.labels)})`;
    const bootstrap = { sshUser: e.sshUser, publicKey: opts.key.publicKey, spotPollSeconds: opts.spotPollSeconds ?? 5, cluster: opts.cluster, hostId: id };
    const refusals: string[] = [];
    for (const [i, offer] of offers.entries()) {
      // Each offer its own token: a token names one exact request to EC2.
      const clientToken = i === 0 ? token : `${token}-${i}`;
      await sql`update hosts set instance_type = ${offer.instanceType}, spot = ${offer.spot}, price_per_hour = ${offer.pricePerHour}, launch_token = ${clientToken} where id = ${id}`;
      try {
        const got = await provider.provision({ offer, hostId: id, clientToken, bootstrap, tags: { "vh:cluster": opts.cluster, "vh:host-id": id, "vh:environment": e.name, Name: `vh ${name}` } });
        await sql`
          update hosts set instance_id = ${got.instanceId}, zone = ${got.zone}, lifecycle = 'booting', launched_at = now(), lifecycle_reason = null
          where id = ${id}`;
        log.info("instance launched", { environment: e.name, host: name, instance: got.instanceId, type: offer.instanceType, spot: offer.spot, price: offer.pricePerHour });
        backoff.delete(e.name);
        return true;
      } catch (err) {
        if (err instanceof NoCapacityError) {
          refusals.push(`${offer.instanceType}${offer.subnetId ? ` in ${offer.subnetId}` : ""}: ${err.code}`);
          continue;
        }
        // Unknown outcome (a network failure, a crash of EC2's answer): the row keeps the token, the next tick asks again with it.
        log.warn("launch call failed; retried with the same token", { environment: e.name, host: name, err });
        return false;
      }
    }
    // Every offer was refused: nothing was launched, the row goes.
    await sql`delete from hosts where id = ${id} and instance_id is null`;
    const reason = `no capacity for environment "${e.name}" now (${refusals.join("; ")}); trying again in 30 s`;
    backoff.set(e.name, { until: Date.now() + 30_000, reason });
    await sql`
      update executions set status_detail = ${`Waiting: ${reason}`}
      where status = 'queued' and environment = ${e.name} and status_detail is distinct from ${`Waiting: ${reason}`}`;
    log.warn("no capacity", { environment: e.name, refusals });
    return false;
  }

  /** A launch row without an instance id: the call's answer was lost. Ask again with the same token. */
  async function redrive(h: ManagedHostRow, e: Environment, provider: Compute): Promise<void> {
    if (Date.now() - h.created_at.getTime() > 10 * 60_000) {
      // The reconciler terminates an instance it made, if any (tagged with this row's id).
      await sql`delete from hosts where id = ${h.id} and instance_id is null`;
      log.warn("launch abandoned after 10 minutes without an answer", { host: h.name });
      return;
    }
    const offer: Offer = { environment: e.name, instanceType: h.instance_type ?? e.instanceTypes[0]!.name, zone: null, subnetId: e.subnets[0] ?? null, spot: h.spot ?? e.spot, pricePerHour: h.price_per_hour ?? 0, maxPrice: e.spot ? e.maxPrice : null };
    const bootstrap = { sshUser: e.sshUser, publicKey: opts.key.publicKey, spotPollSeconds: opts.spotPollSeconds ?? 5, cluster: opts.cluster, hostId: h.id };
    try {
      const got = await provider.provision({ offer, hostId: h.id, clientToken: h.launch_token ?? `vh-${h.id}`, bootstrap, tags: { "vh:cluster": opts.cluster, "vh:host-id": h.id, "vh:environment": e.name, Name: `vh ${h.name}` } });
      await sql`update hosts set instance_id = ${got.instanceId}, zone = ${got.zone}, lifecycle = 'booting', launched_at = coalesce(launched_at, now()) where id = ${h.id} and instance_id is null`;
    } catch (err) {
      if (err instanceof NoCapacityError) await sql`delete from hosts where id = ${h.id} and instance_id is null`;
      else log.warn("launch call failed again", { host: h.name, err });
    }
  }

  /** A booting instance: running, host key reported, SSH answers → ready. */
  async function boot(h: ManagedHostRow, e: Environment, provider: Compute): Promise<boolean> {
    const timedOut = h.launched_at && Date.now() - h.launched_at.getTime() > e.bootTimeoutSeconds * 1000;
    const st = await provider.status(e.name, h.instance_id!);
    if (!st || st.state === "terminated" || st.state === "shutting-down") {
      await setLifecycle(h.id, "terminated", "the instance ended while booting", sql`, terminated_at = now(), status = 'down'`);
      return false;
    }
    const fail = async (why: string) => {
      await setLifecycle(h.id, "failed", why);
      await terminate(h, why);
      return false;
    };
    if (st.state !== "running" || !(st.privateIp ?? st.publicIp)) {
      if (timedOut) return fail(`not running after ${e.bootTimeoutSeconds} s (boot-timeout)`);
      return false;
    }
    let keys: string[] = [];
    try {
      keys = (await provider.bootReport(e.name, h.instance_id!)).hostKeys;
    } catch (err) {
      if (!(err instanceof NotYetReadyError)) log.warn("console output failed", { host: h.name, err });
    }
    if (keys.length === 0) {
      if (timedOut) return fail(`reported no SSH host key within ${e.bootTimeoutSeconds} s (boot-timeout): its user data did not run, or the image has no sshd`);
      return false;
    }
    const ip = st.privateIp ?? st.publicIp;
    const address = `ssh://${e.sshUser}@${ip}:${e.sshPort}`;
    await sql`update hosts set address = ${address}, host_key_sha256 = ${keys[0]!}, zone = coalesce(zone, ${st.zone}) where id = ${h.id}`;
    try {
      const runner = opts.runners.forHost({ id: h.id, name: h.name, kind: "ssh", address, keyPath: opts.key.path, hostKeySha256: keys[0]! });
      const info = await withTimeout(runner.describeHost(), checkTimeoutMs, `Checking ${h.name}`);
      await recordCheck(sql, h.id, { info });
    } catch (err) {
      opts.runners.forget(h.name);
      if (timedOut) return fail(`SSH did not answer within ${e.bootTimeoutSeconds} s (boot-timeout): ${(err as Error).message}`);
      return false;
    }
    await sql`update hosts set lifecycle = 'ready', ready_at = now(), idle_since = now(), enabled = true, lifecycle_reason = null where id = ${h.id} and lifecycle = 'booting'`;
    log.info("instance ready", { host: h.name, instance: h.instance_id, address });
    return true;
  }

  async function tickOnce(): Promise<TickResult> {
    const res: TickResult = { launched: 0, ready: 0, terminated: 0, interrupted: 0 };
    const envs = opts.environments();
    let hosts = await managedHosts();

    // 1, 2: launches to complete, instances booting.
    await Promise.all(
      hosts.map(async (h) => {
        const e = envOf(h.environment);
        const provider = e ? providerOf(e) : undefined;
        if (!e || !provider) return;
        try {
          if (h.lifecycle === "launching" && !h.instance_id) await redrive(h, e, provider);
          else if (h.lifecycle === "booting" && h.instance_id && (await boot(h, e, provider))) res.ready++;
        } catch (err) {
          log.warn("instance check failed", { host: h.name, err });
        }
      }),
    );

    // 4: spot notices, before placing more work.
    res.interrupted = await spot.check(hosts).catch((err: unknown) => {
      log.warn("spot notice check failed", { err });
      return 0;
    });
    if (res.ready > 0 || res.interrupted > 0) await requestSchedulerPass(sql);

    // 5: idle shutdown, drained instances, retried terminations.
    hosts = await managedHosts();
    const now = Date.now();
    await sql`update hosts h set idle_since = null where h.provider is not null and h.idle_since is not null
      and exists (select 1 from execution_placements p where p.host_id = h.id and p.released_at is null)`;
    await sql`update hosts h set idle_since = now() where h.provider is not null and h.lifecycle = 'ready' and h.idle_since is null
      and not exists (select 1 from execution_placements p where p.host_id = h.id and p.released_at is null)`;
    for (const h of hosts) {
      const e = envOf(h.environment);
      if (h.lifecycle === "terminating" || (h.lifecycle === "failed" && h.instance_id)) {
        if (await terminate(h, "terminating")) res.terminated++;
      } else if (h.lifecycle === "draining" && h.placed === 0) {
        if (await terminate(h, `drained after a spot notice: ${h.interruption ?? ""}`.trim())) res.terminated++;
      } else if (!e && h.lifecycle === "ready" && h.placed === 0) {
        if (await terminate(h, "its environment is no longer in VH_ENVIRONMENTS_FILE")) res.terminated++;
      }
    }
    for (const e of envs) {
      const mine = hosts.filter((h) => h.environment === e.name && !["terminated", "failed"].includes(h.lifecycle));
      const idle = mine.filter((h) => h.lifecycle === "ready" && h.placed === 0 && h.idle_since).map((h) => ({ id: h.id, idleSinceMs: h.idle_since!.getTime() }));
      for (const id of idleToTerminate({ env: e, live: mine.length }, idle, now)) {
        const h = mine.find((x) => x.id === id)!;
        // Not if the scheduler placed on it meanwhile: the row is claimed for termination only while empty.
        const [claimed] = await sql`
          update hosts set lifecycle = 'terminating', enabled = false, lifecycle_reason = ${`idle for ${e.idleShutdownSeconds} s (idle-shutdown)`}
          where id = ${id} and lifecycle = 'ready'
            and not exists (select 1 from execution_placements p where p.host_id = ${id} and p.released_at is null)
          returning id`;
        if (claimed && (await terminate(h, "idle"))) res.terminated++;
      }
    }

    // 3: launches for demand and the warm pool.
    hosts = await managedHosts();
    const queued = await sql<{ environment: string; n: number; gpus: number }[]>`
      select e.environment, count(*)::int as n, max(e.gpus)::int as gpus from executions e
      where e.status = 'queued' and e.environment is not null
        and not exists (select 1 from execution_placements p where p.execution_id = e.id and p.released_at is null)
      group by e.environment`;
    for (const e of envs) {
      const provider = providerOf(e);
      if (!provider) continue;
      const b = backoff.get(e.name);
      if (b && b.until > Date.now()) continue;
      const mine = hosts.filter((h) => h.environment === e.name && h.lifecycle !== "failed");
      const q = queued.find((x) => x.environment === e.name);
      const n = launchesFor({
        env: e,
        queued: q?.n ?? 0,
        idleReady: mine.filter((h) => h.lifecycle === "ready" && h.placed === 0).length,
        starting: mine.filter((h) => h.lifecycle === "launching" || h.lifecycle === "booting").length,
        live: mine.length,
      });
      for (let i = 0; i < n; i++) {
        try {
          if (await launch(e, provider, q?.gpus ?? 0)) res.launched++;
          else break;
        } catch (err) {
          log.warn("launch failed", { environment: e.name, err });
          break;
        }
      }
    }
    return res;
  }

  async function reconcileOnce(): Promise<ReconcileResult> {
    lastReconcile = Date.now();
    return reconcile({ sql, log, providers: opts.providers, environments: opts.environments, cluster: opts.cluster, terminate: (h, why) => terminate(h, why) });
  }

  async function loopBody(): Promise<void> {
    while (running) {
      try {
        if (await leader()) {
          await serial(tickOnce);
          if (Date.now() - lastReconcile >= opts.reconcileMs) await serial(reconcileOnce);
        }
      } catch (err) {
        if (running) log.warn("compute pass failed", { err });
        // A broken lock connection: let it go, take the lock again next time.
        if (lockConn) {
          try {
            lockConn.release();
          } catch {
            // gone
          }
          lockConn = null;
        }
      }
      const until = Date.now() + opts.tickMs;
      while (running && Date.now() < until) await sleep(Math.min(100, opts.tickMs));
    }
  }

  return {
    async start() {
      if (running) return;
      running = true;
      loop = loopBody();
    },
    async stop() {
      running = false;
      await loop;
      await busy;
      if (lockConn) {
        await lockConn`select pg_advisory_unlock(${LOCK_KEY})`.catch(() => {});
        lockConn.release();
        lockConn = null;
      }
    },
    async tick() {
      if (!(await leader())) return false;
      return serial(tickOnce);
    },
    async reconcile() {
      if (!(await leader())) return false;
      return serial(reconcileOnce);
    },
  };
}
