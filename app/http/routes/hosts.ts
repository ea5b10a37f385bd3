/**
 * GPU hosts and quotas (docs/scheduler.md), mounted at the API root:
 * - `GET /hosts`, `GET /hosts/:name`: hosts with their GPUs and what runs on each.
 * - `POST /hosts` `{ name, url: "ssh://user@host:port", privateKey: "-----BEGIN …", labels?, hostKey? }`:
 *   add or update. The key is key material (the CLI sends the file's content), stored in
 *   `<dataDir>/host-keys/` (mode 600); a server-side path is accepted only inside that folder
 *   (`key: "NAME"` or an absolute path under it), so no API caller can make the server read and use
 *   any file it can read (/etc/shadow, another service's key). `hostKey` (`SHA256:…`, as
 *   `ssh-keygen -lf` shows it) pins the host key; without it the key of the first successful check
 *   is pinned. A different key is refused from then on.
 * - `DELETE /hosts/:name`: remove (refused, and the host disabled, while executions run there).
 * - `POST /hosts/:name/check`: check now (reachability, facts, GPU re-discovery); waits for it.
 * - `GET /quotas`, `PUT /quotas/:key` `{ maxGpus, projects? }`, `DELETE /quotas/:key`: GPU caps per
 *   `project:<name>` or `team:<name>` (a team lists its projects).
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Hono } from "hono";
import ssh2 from "ssh2";
import { z } from "zod";
import type { Sql } from "../../../db/client.js";
import { VhError } from "../../errors.js";
import { listHosts, removeHost, upsertSshHost } from "../../hosts/records.js";
import { gpuQuotaRows, requestHostCheck } from "../../../db/queries/hosts.js";
import { requestSchedulerPass } from "../../../db/queries/jobs.js";

const AddHost = z
  .object({
    name: z.string().min(1),
    url: z.string().min(1),
    /** The private key's text (PEM or OpenSSH format). */
    privateKey: z.string().min(1).max(64 * 1024).optional(),
    /** A key file already in the server's host-keys folder (its name, or its path there). */
    key: z.string().min(1).max(4096).optional(),
    hostKey: z.string().min(1).optional(),
    labels: z.record(z.string(), z.string()).default({}),
  })
  .refine((b) => (b.privateKey === undefined) !== (b.key === undefined), { message: "give exactly one of privateKey (the key's text) or key (a file in the server's host-keys folder)" });

/** Where host keys live on the server: the only folder `key` may name a file in. */
export function hostKeysDir(dataDir: string): string {
  return path.join(dataDir, "host-keys");
}

/** Stores key material as `<dir>/<host>-<sha256 prefix>` (600) after checking it is an unencrypted private key. */
function storeKeyMaterial(dir: string, host: string, text: string): string {
  const parsed = ssh2.utils.parseKey(text);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    throw new VhError("bad_request", `Host ${host}: privateKey is not a private key vh can read (${key instanceof Error ? key.message : "empty"}); send an OpenSSH or PEM private key without a passphrase.`);
  }
  if (!key.isPrivateKey()) throw new VhError("bad_request", `Host ${host}: privateKey is a public key; send the private key (the file without .pub).`);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(host)) throw new VhError("bad_request", `Host name "${host}": letters, digits, "_", "." and "-", at most 63.`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${host}-${createHash("sha256").update(text).digest("hex").slice(0, 12)}`);
  fs.writeFileSync(file, text.endsWith("\n") ? text : `${text}\n`, { mode: 0o600 });
  return file;
}

/** A `key` naming a file: only inside the host-keys folder (after resolving links), else refused. */
function keyFileInside(dir: string, host: string, key: string): string {
  const candidate = path.isAbsolute(key) ? key : path.join(dir, key);
  let real: string;
  try {
    real = fs.realpathSync(candidate);
  } catch {
    throw new VhError("bad_request", `Host ${host}: there is no key file ${candidate} on the vh server. Send the key itself as privateKey (vh host add --key FILE does).`);
  }
  const root = fs.existsSync(dir) ? fs.realpathSync(dir) : dir;
  if (!real.startsWith(root + path.sep)) {
    throw new VhError(
      "bad_request",
      `Host ${host}: the server reads host keys only from its host-keys folder (${dir}), not ${key}. Send the key itself as privateKey (vh host add --key FILE sends the file's content).`,
    );
  }
  return real;
}

const PutQuota = z.object({ maxGpus: z.number().int().min(0), projects: z.array(z.string()).default([]) });

async function body<T>(schema: z.ZodType<T>, req: { json(): Promise<unknown> }, hint: string): Promise<T> {
  const parsed = schema.safeParse(await req.json().catch(() => null));
  if (!parsed.success) throw new VhError("bad_request", `${hint} (${parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ")})`);
  return parsed.data;
}

async function oneHost(sql: Sql, name: string) {
  const [h] = await listHosts(sql, name);
  if (!h) throw new VhError("not_found", `No host named ${name}: see vh host list.`);
  return h;
}

export function hostRoutes(deps: { sql: Sql; dataDir: string }) {
  const app = new Hono();
  app.get("/hosts", async (c) => c.json({ results: await listHosts(deps.sql) }));
  app.get("/hosts/:name", async (c) => c.json(await oneHost(deps.sql, c.req.param("name"))));
  app.post("/hosts", async (c) => {
    const b = await body(AddHost, c.req, 'Send {"name": "gpu-1", "url": "ssh://user@host:22", "privateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\\n…", "labels": {}}');
    const dir = hostKeysDir(deps.dataDir);
    const keyPath = b.privateKey !== undefined ? storeKeyMaterial(dir, b.name, b.privateKey) : keyFileInside(dir, b.name, b.key!);
    const res = await upsertSshHost(deps.sql, { name: b.name, url: b.url, keyPath, labels: b.labels, source: "api", ...(b.hostKey ? { hostKeySha256: b.hostKey } : {}) });
    // Checked by a worker's host monitor within a second (last_check_at is null).
    await requestHostCheck(deps.sql, b.name);
    return c.json(await oneHost(deps.sql, b.name), res.created ? 201 : 200);
  });
  app.delete("/hosts/:name", async (c) => {
    await removeHost(deps.sql, c.req.param("name"));
    await requestSchedulerPass(deps.sql);
    return c.json({ removed: c.req.param("name") });
  });
  app.post("/hosts/:name/check", async (c) => {
    const name = c.req.param("name");
    const h = await requestHostCheck(deps.sql, name);
    if (!h) throw new VhError("not_found", `No host named ${name}: see vh host list.`);
    if (h.kind === "ssh") {
      const until = Date.now() + 30_000;
      for (;;) {
        const [r] = await deps.sql<{ checked: boolean }[]>`select last_check_at is not null and status <> 'unknown' and (last_error is not null or last_seen_at >= last_check_at) as checked from hosts where id = ${h.id}`;
        if (r?.checked || Date.now() > until) break;
        await new Promise((r2) => setTimeout(r2, 100));
      }
    }
    return c.json(await oneHost(deps.sql, name));
  });

  app.get("/quotas", async (c) => {
    const rows = await gpuQuotaRows(deps.sql);
    return c.json({ results: rows.map((r) => ({ key: r.key, maxGpus: r.max_gpus, projects: r.projects })) });
  });
  app.put("/quotas/:key", async (c) => {
    const key = c.req.param("key");
    if (!/^(project|team):[A-Za-z0-9._-]+$/.test(key)) throw new VhError("bad_request", `Quota key "${key}": project:<name> or team:<name>.`);
    const b = await body(PutQuota, c.req, 'Send {"maxGpus": 4, "projects": ["a", "b"]} (projects: for a team)');
    await deps.sql`
      insert into gpu_quotas (key, max_gpus, projects) values (${key}, ${b.maxGpus}, ${deps.sql.json(b.projects)})
      on conflict (key) do update set max_gpus = excluded.max_gpus, projects = excluded.projects`;
    await requestSchedulerPass(deps.sql);
    return c.json({ key, maxGpus: b.maxGpus, projects: b.projects });
  });
  app.delete("/quotas/:key", async (c) => {
    await deps.sql`delete from gpu_quotas where key = ${c.req.param("key")}`;
    await requestSchedulerPass(deps.sql);
    return c.json({ removed: c.req.param("key") });
  });
  return app;
}
