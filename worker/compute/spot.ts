/**
 * Spot notices. Each spot instance's bootstrap (worker/compute/ec2/user-data.ts) polls its metadata
 * service and writes what it saw to `~/.vh/interruption` (a `spot/instance-action`: the instance is
 * taken back in about two minutes) and `~/.vh/rebalance` (a rebalance recommendation: a higher risk
 * of interruption). Every tick the compute manager reads both over SSH:
 *
 * - an interruption notice drains the host (nothing new is placed on it) and asks each execution
 *   running there to stop with the cause `spot-interruption`: the supervisor sends SIGTERM, uploads
 *   the outputs written so far, and settleEnded (worker/scheduler/settle.ts) queues the next attempt
 *   with those outputs restored, on another instance (another zone or type first, if the environment
 *   has them);
 * - a rebalance recommendation drains the host only: what runs there goes on, and it is terminated
 *   once empty, so new work lands on a fresh instance.
 */
import type { Sql } from "../../db/client.js";
import type { Logger } from "../../app/log.js";
import { transition } from "../../app/executions/state.js";
import { recordStopCause } from "../../db/queries/executions.js";
import type { ManagedHostRow } from "./host-row.js";

/** Runs a short script on a host (over its runner's shell) and returns what it printed. */
export type HostExec = (h: ManagedHostRow, script: string) => Promise<string>;

export interface SpotWatch {
  /** Reads the notices of the spot hosts among `hosts`; returns how many executions it asked to stop. */
  check(hosts: readonly ManagedHostRow[]): Promise<number>;
}

const READ = 'for f in interruption rebalance; do printf "%s=" "$f"; tr -d "\\n" < "$HOME/.vh/$f" 2>/dev/null; echo; done';

export function createSpotWatch(opts: { sql: Sql; log: Logger; exec: HostExec; onInterrupted: (h: ManagedHostRow) => void }): SpotWatch {
  const { sql, log } = opts;

  /** Ask every execution running on the host to stop for the interruption (the supervisor does the rest). */
  async function interrupt(h: ManagedHostRow, notice: string): Promise<number> {
    const rows = await sql<{ id: string }[]>`
      select e.id from execution_placements p join executions e on e.id = p.execution_id
      where p.host_id = ${h.id} and p.released_at is null and e.status = 'running' order by e.id`;
    let n = 0;
    const reason = `Spot interruption notice for instance ${h.instance_id ?? h.name} (${h.instance_type ?? "?"}): ${notice}. Its outputs so far are saved; it resumes as a new attempt on another instance.`;
    for (const r of rows) {
      const stopped = await sql.begin(async (tx) => {
        if (!(await transition(tx as unknown as Sql, r.id, "stopping", { from: ["running"], reason }))) return false;
        await recordStopCause(tx, r.id, "spot-interruption");
        return true;
      });
      if (stopped) n++;
    }
    return n;
  }

  return {
    async check(hosts) {
      let interrupted = 0;
      await Promise.all(
        hosts
          .filter((h) => h.spot && (h.lifecycle === "ready" || h.lifecycle === "draining"))
          .map(async (h) => {
            if (!h.address) return;
            let out: string;
            try {
              out = await opts.exec(h, READ);
            } catch (err) {
              log.debug("spot notice read failed", { host: h.name, err });
              return;
            }
            const seen = Object.fromEntries(out.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1).trim()]));
            const notice = seen["interruption"] ?? "";
            const rebalance = seen["rebalance"] ?? "";
            if (notice) {
              const [first] = await sql`update hosts set lifecycle = 'draining', interruption = ${notice}, lifecycle_reason = 'spot interruption notice'
                where id = ${h.id} and lifecycle = 'ready' returning id`;
              if (first) {
                log.warn("spot interruption notice", { host: h.name, instance: h.instance_id, notice });
                opts.onInterrupted(h);
              }
              interrupted += await interrupt(h, notice);
            } else if (rebalance && h.lifecycle === "ready") {
              await sql`update hosts set lifecycle = 'draining', interruption = ${`rebalance: ${rebalance}`}, lifecycle_reason = 'rebalance recommendation'
                where id = ${h.id} and lifecycle = 'ready'`;
              log.info("rebalance recommendation: draining", { host: h.name, instance: h.instance_id });
            }
          }),
      );
      return interrupted;
    },
  };
}
