/**
 * The runners this worker process can drive. `local` runs on this machine (the host named after
 * it); every SSH host in the `hosts` table gets an SSH runner, made on first use and kept (one SSH
 * connection per host). The scheduler picks the host; `forHost` gives its runner.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Config } from "../../app/config.js";
import { RunnerError } from "../../app/errors.js";
import type { Sql } from "../../db/client.js";
import type { SshHostRow } from "../../db/queries/hosts.js";
import type { Store } from "../../app/contracts/store.js";
import type { HostInfo, Runner } from "../../app/contracts/runner.js";
import { createLocalRunner, defaultIsolation, type JobIsolation } from "./local/runner.js";
import { linkedStateDir, rootStateDir } from "../../app/host-dirs.js";
import { createSshRunner } from "./ssh/runner.js";
import type { DetachedRunner } from "./shared/detached-runner.js";
import { parseSshUrl } from "./ssh/client.js";

/** What the registry needs of a hosts row. */
export interface HostRecord {
  id: string;
  name: string;
  kind: "local" | "ssh";
  address: string | null;
  keyPath: string | null;
  /** The pinned host key fingerprint (`SHA256:…`); null: trust the first key seen (then record it). */
  hostKeySha256?: string | null;
}

export interface RunnerRegistry {
  get(kind: string): Runner | undefined;
  /** The runner of this machine (`local`). */
  default(): Runner;
  /** Host facts, cached per runner kind (they go into every execution record). */
  hostInfo(kind: string): Promise<HostInfo>;
  kinds(): string[];
  /** Name of this machine's local host. */
  localHostName: string;
  /** The runner for a host; throws RunnerError when this worker cannot drive it (another machine's local host). */
  forHost(host: HostRecord): Runner;
  /** The runner an execution ran with (`runner` kind + `host` name), looked up in `hosts` for SSH. */
  resolve(kind: string, hostName: string | null): Promise<Runner | undefined>;
  /** Run a short script on a host over its runner's connection (the compute manager reads spot notices so); returns stdout. */
  exec(host: HostRecord, script: string, timeoutMs: number): Promise<string>;
  /** Drop a host's SSH connection (a half-dead one after a failed check); the next call reconnects. */
  forget(hostName: string): void;
  /** The host key fingerprint a host's SSH connection accepted (pinned), or null (none made yet). */
  hostKeySha256(hostName: string): string | null;
  close(): void;
}

/**
 * Who plain-process jobs on this machine run as (docs/threat-model.md): as root, users of their own;
 * otherwise they are refused, unless VH_UNSAFE_SAME_USER=true accepts running them as vh's own user.
 */
export function localIsolation(config: Pick<Config, "unsafeSameUser">): JobIsolation {
  if (process.getuid?.() === 0) return defaultIsolation();
  if (config.unsafeSameUser) return { kind: "same-user" };
  const user = os.userInfo().username;
  return {
    kind: "refuse",
    reason:
      `vh runs as the OS user "${user}", not root, so it cannot run this job as a user of its own: as "${user}" the job could read ` +
      `everything vh can (its tokens, database password, the GitHub App key, other executions). Run vh as root (each job then ` +
      `runs as its own unprivileged user), run the step in Docker, or set VH_UNSAFE_SAME_USER=true to accept running jobs as "${user}".`,
  };
}

export function createRunnerRegistry(config: Config, store: Store, extra: Runner[] = [], sql?: Sql): RunnerRegistry {
  const localHostName = os.hostname();
  // As root, VH_DATA_DIR is private (700) and jobs run as other users: their work dirs live in the
  // state dir, linked from <dataDir>/runs (app/host-dirs.ts).
  const isRoot = process.getuid?.() === 0;
  const local = createLocalRunner({
    workRoot: isRoot ? linkedStateDir(config.dataDir, "runs", 0o711, config.stateDir ?? rootStateDir()) : path.join(config.dataDir, "runs"),
    cacheRoot: path.join(config.dataDir, "cache"),
    store,
    docker: config.docker,
    hostName: localHostName,
    isolation: localIsolation(config),
    codeLimits: config.codeLimits,
    s3Inputs: config.s3Inputs,
  });
  const byKind = new Map<string, Runner>([[local.kind, local], ...extra.map((r) => [r.kind, r] as const)]);
  const infos = new Map<string, Promise<HostInfo>>();
  const ssh = new Map<string, { key: string; runner: ReturnType<typeof createSshRunner> }>();

  function sshRunner(host: HostRecord): DetachedRunner {
    if (!host.address || !host.keyPath) throw new RunnerError(`Host ${host.name} has no ssh:// address or key file.`);
    const key = `${host.address}|${host.keyPath}`;
    const cached = ssh.get(host.name);
    const pin = host.hostKeySha256 ?? null;
    // Reused while the address and key file are the same and the pin agrees with the client's (a
    // client that pinned on first use keeps its key until the row says otherwise).
    if (cached && cached.key === key && (pin === null || cached.runner.client.hostKeySha256 === pin)) return cached.runner;
    cached?.runner.close();
    const t = parseSshUrl(host.address);
    let privateKey: Buffer;
    try {
      privateKey = fs.readFileSync(host.keyPath);
    } catch (err) {
      throw new RunnerError(`Host ${host.name}: cannot read the key file ${host.keyPath}: ${(err as Error).message}`);
    }
    const runner = createSshRunner({
      name: host.name,
      target: { host: t.host, port: t.port, username: t.username, privateKey, hostKeySha256: pin, ...(t.root ? { root: t.root } : {}) },
      store,
      docker: config.docker,
      s3Inputs: config.s3Inputs,
    });
    ssh.set(host.name, { key, runner });
    return runner;
  }

  /** The runner of a host, by the host's kind: a runner kind is added here, with its folder, never by a branch elsewhere. */
  const factories: Record<HostRecord["kind"], (host: HostRecord) => DetachedRunner> = {
    local(host) {
      if (host.name !== localHostName) {
        throw new RunnerError(`Host ${host.name} is another machine's local host; only its own worker can start executions there.`);
      }
      return local;
    },
    ssh: sshRunner,
  };
  function runnerOf(host: HostRecord): DetachedRunner {
    const make = factories[host.kind] as ((h: HostRecord) => DetachedRunner) | undefined;
    if (!make) throw new RunnerError(`Host ${host.name} is of kind "${String(host.kind)}", which this worker has no runner for.`);
    return make(host);
  }

  return {
    get: (kind) => byKind.get(kind),
    default: () => local,
    kinds: () => [...new Set([...byKind.keys(), "ssh"])],
    localHostName,
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
    forHost: runnerOf,
    async resolve(kind, hostName) {
      if (kind !== "ssh") return byKind.get(kind);
      if (!hostName) return undefined;
      const cached = ssh.get(hostName);
      if (cached) return cached.runner;
      if (!sql) return undefined;
      const [row] = await sql<SshHostRow[]>`
        select id, name, kind, address, key_path, host_key_sha256 from hosts where name = ${hostName} and kind = 'ssh'`;
      if (!row) return undefined;
      return sshRunner({ id: row.id, name: row.name, kind: "ssh", address: row.address, keyPath: row.key_path, hostKeySha256: row.host_key_sha256 });
    },
    exec(host, script, timeoutMs) {
      return runnerOf(host).shell.run(script, `A command on host ${host.name}`, timeoutMs);
    },
    hostKeySha256(hostName) {
      return ssh.get(hostName)?.runner.client.hostKeySha256 ?? null;
    },
    forget(hostName) {
      ssh.get(hostName)?.runner.client.disconnect();
    },
    close() {
      for (const { runner } of ssh.values()) runner.close();
      ssh.clear();
    },
  };
}
