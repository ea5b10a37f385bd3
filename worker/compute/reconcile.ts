/**
 * The reconciler: zero leaks. It compares the provider's live instances tagged `vh:cluster` =
 * this cluster with the hosts table, and
 * - terminates every instance vh does not know (no row for its `vh:host-id`, e.g. a launch whose row
 *   was abandoned) or no longer wants (its row is terminating, terminated or failed, or names another
 *   instance);
 * - adopts the instance of a row still `launching` (the control plane died between RunInstances and
 *   recording its answer): the row gets its instance id and boots as usual;
 * - marks hosts whose instance vanished (terminated outside vh, reclaimed without notice) as
 *   `terminated` and down: the scheduler places nothing there, and the supervisor ends what ran there
 *   as lost at once (then retried by policy).
 * Only instances carrying this cluster's tag are ever touched.
 */
import type { Sql } from "../../db/client.js";
import type { Logger } from "../../app/log.js";
import type { Environment } from "../../app/environments/file.js";
import type { Compute, InstanceStatus } from "../../app/contracts/compute.js";

export interface ReconcileResult {
  /** Live instances carrying the cluster's tag. */
  seen: number;
  /** Instances terminated because vh did not know or want them. */
  terminated: number;
  adopted: number;
  /** Hosts whose instance was gone. */
  vanished: number;
  /**
   * Rented hosts, not terminated, of an environment no longer in the environments file: vh cannot
   * reach their provider (region, endpoint) to watch or terminate them; a warning says so each pass.
   */
  orphaned: string[];
}

interface Row {
  id: string;
  name: string;
  environment: string;
  instance_id: string | null;
  lifecycle: string;
}

export async function reconcile(o: {
  sql: Sql;
  log: Logger;
  providers: ReadonlyMap<string, Compute>;
  environments: () => readonly Environment[];
  cluster: string;
  terminate: (h: Pick<Row, "id" | "name" | "environment" | "instance_id">, why: string) => Promise<boolean>;
}): Promise<ReconcileResult> {
  const { sql, log } = o;
  const res: ReconcileResult = { seen: 0, terminated: 0, adopted: 0, vanished: 0, orphaned: [] };
  const envs = o.environments();
  const live: { inst: InstanceStatus; provider: Compute }[] = [];
  for (const kind of new Set(envs.map((e) => e.provider))) {
    const provider = o.providers.get(kind);
    if (!provider) continue;
    for (const inst of await provider.managed(o.cluster)) live.push({ inst, provider });
  }
  res.seen = live.length;
  const rows = await sql<Row[]>`select id, name, environment, instance_id, lifecycle from hosts where provider is not null`;
  const byId = new Map(rows.map((r) => [r.id, r]));
  const liveIds = new Set(live.map((l) => l.inst.instanceId));

  for (const { inst, provider } of live) {
    const hostId = inst.tags["vh:host-id"];
    const row = hostId ? byId.get(hostId) : undefined;
    const envName = inst.tags["vh:environment"] ?? row?.environment ?? envs.find((e) => e.provider === provider.kind)?.name;
    const kill = async (why: string) => {
      if (!envName) return;
      try {
        await provider.terminate(envName, inst.instanceId);
        res.terminated++;
        log.warn("reconciler terminated an instance", { instance: inst.instanceId, why });
      } catch (err) {
        log.warn("reconciler could not terminate an instance; trying again next time", { instance: inst.instanceId, err });
      }
    };
    if (!row) {
      await kill(`no host of this control plane is instance ${inst.instanceId} (vh:host-id ${hostId ?? "missing"})`);
      continue;
    }
    if (row.instance_id === null && row.lifecycle === "launching") {
      const [adopted] = await sql`
        update hosts set instance_id = ${inst.instanceId}, zone = ${inst.zone}, lifecycle = 'booting', launched_at = coalesce(${inst.launchedAt}, now())
        where id = ${row.id} and instance_id is null returning id`;
      if (adopted) {
        res.adopted++;
        log.info("reconciler adopted an instance launched before a crash", { host: row.name, instance: inst.instanceId });
        continue;
      }
    }
    if (row.instance_id !== inst.instanceId) {
      await kill(`host ${row.name} is instance ${row.instance_id ?? "(none)"}, not ${inst.instanceId}`);
      continue;
    }
    if (["terminating", "terminated", "failed"].includes(row.lifecycle)) {
      if (row.lifecycle === "terminated") await kill(`host ${row.name} was terminated, but its instance still runs`);
      else if (await o.terminate(row, `reconciler: host ${row.name} is ${row.lifecycle}`)) res.terminated++;
    }
  }

  // Hosts whose instance is gone.
  for (const r of rows) {
    if (!r.instance_id || !["booting", "ready", "draining"].includes(r.lifecycle) || liveIds.has(r.instance_id)) continue;
    const env = envs.find((e) => e.name === r.environment);
    const provider = env ? o.providers.get(env.provider) : undefined;
    if (!env || !provider) continue;
    const st = await provider.status(env.name, r.instance_id).catch(() => undefined);
    if (st === undefined) continue; // could not ask: next time
    if (st && !["terminated", "shutting-down"].includes(st.state)) continue;
    await sql`update hosts set lifecycle = 'terminated', lifecycle_reason = 'the instance vanished (terminated outside vh, or taken back)', status = 'down',
      enabled = false, terminated_at = now() where id = ${r.id} and lifecycle = ${r.lifecycle}`;
    res.vanished++;
    log.warn("instance vanished", { host: r.name, instance: r.instance_id });
  }
  // Hosts of an environment taken out of the file while they still ran: said, not silently kept.
  const known = new Set(envs.map((e) => e.name));
  for (const r of rows) {
    if (known.has(r.environment) || ["terminated", "failed"].includes(r.lifecycle)) continue;
    res.orphaned.push(r.name);
    log.warn("a rented host's environment is no longer in the environments file: vh can neither watch nor terminate it", {
      host: r.name,
      instance: r.instance_id,
      environment: r.environment,
      fix: `put environment "${r.environment}" back in VH_ENVIRONMENTS_FILE until vh has terminated it, or terminate instance ${r.instance_id ?? "(none yet)"} yourself and disable host ${r.name}`,
    });
  }
  return res;
}
