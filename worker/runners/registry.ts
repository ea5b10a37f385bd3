/**
 * The runners this worker process can drive, by kind. The scheduler (issue: GPU hosts) will pick a
 * host per execution; until then every execution runs on the `local` runner of the worker that
 * starts it.
 */
import os from "node:os";
import path from "node:path";
import type { Config } from "../../app/config.js";
import type { Store } from "../stores/types.js";
import type { HostInfo, Runner } from "./types.js";
import { createLocalRunner } from "./local/runner.js";

export interface RunnerRegistry {
  get(kind: string): Runner | undefined;
  /** The runner new executions go to. */
  default(): Runner;
  /** Host facts, cached per runner (they go into every execution record). */
  hostInfo(kind: string): Promise<HostInfo>;
  kinds(): string[];
}

export function createRunnerRegistry(config: Config, store: Store, extra: Runner[] = []): RunnerRegistry {
  const local = createLocalRunner({
    workRoot: path.join(config.dataDir, "runs"),
    cacheRoot: path.join(config.dataDir, "cache"),
    store,
    docker: config.docker,
    hostName: os.hostname(),
  });
  const byKind = new Map<string, Runner>([[local.kind, local], ...extra.map((r) => [r.kind, r] as const)]);
  const infos = new Map<string, Promise<HostInfo>>();
  return {
    get: (kind) => byKind.get(kind),
    default: () => local,
    kinds: () => [...byKind.keys()],
    hostInfo(kind) {
      const runner = byKind.get(kind);
      if (!runner) throw new Error(`no runner of kind ${kind}`);
      let p = infos.get(kind);
      if (!p) {
        p = runner.describeHost();
        infos.set(kind, p);
      }
      return p;
    },
  };
}
