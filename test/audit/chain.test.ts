/**
 * The audit trail in Postgres itself (db/migrations/*_audit-chain.sql) and its verifier (app/audit/):
 * UPDATE, DELETE and TRUNCATE refused on both histories; the hash chain built by the insert
 * trigger, recomputed in TypeScript by `vh audit verify`; edits made around the trigger (as the
 * superuser, triggers disabled) found and named; concurrent inserts keep one chain.
 */
import { createHash, randomUUID } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, type Stack } from "../helpers/stack.js";
import { runCli, tempDir } from "../cli/helpers.js";
import { createToken } from "../../app/auth/api-tokens.js";
import { transition } from "../../app/executions/state.js";
import { canonicalModelEvent, canonicalStatusEntry, canonicalTime, chainHash, GENESIS } from "../../app/audit/chain.js";
import { verifyAuditChains, type AuditVerification, type ChainStatus } from "../../app/audit/verify.js";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

describe("audit chains (Postgres + vh audit verify)", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let projectId: string;
  let modelId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, worker: false });
    const [p] = await db.sql<{ id: string }[]>`insert into projects (name) values ('audit') returning id`;
    projectId = p!.id;
    const files: string[] = [];
    for (const content of ["m1", "m2"]) {
      const id = randomUUID();
      await db.sql`insert into datums (id, project_id, name, size, sha256, store_key) values (${id}, ${projectId}, ${`${content}.bin`}, 2, ${sha(content)}, ${`data/${id}`})`;
      files.push(`datum://${id}`);
    }
    // Real actions through the API: two versions registered, one approved, one rejected.
    await stack.api("POST", "/api/v1/models/churn/versions", { files: [files[0]], description: "first" });
    await stack.api("POST", "/api/v1/models/churn/versions", { files: [files[1]] });
    await stack.api("POST", "/api/v1/models/churn/versions/1/approve", {});
    await stack.api("POST", "/api/v1/models/churn/versions/2/reject", { reason: "worse | than v1: 'ü' 🎉" });
    const [m] = await db.sql<{ id: string }[]>`select id from models where name = 'churn'`;
    modelId = m!.id;
    // An execution's status history through the one state machine.
    const ex = await execution(1);
    await db.sql`insert into execution_status_history (execution_id, status) values (${ex}, 'created'), (${ex}, 'queued')`;
    await transition(db.sql, ex, "stopped", { reason: "Stopped before it started." });
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  async function execution(counter: number): Promise<string> {
    const [e] = await db.sql<{ id: string }[]>`
      insert into executions (project_id, counter, step, status, image, command, command_list, parameters, inputs, environment_variables)
      values (${projectId}, ${counter}, 's', 'queued', 'img', 'true', '[]', '{}', '[]', '{}') returning id`;
    return e!.id;
  }
  const cli = (...args: string[]) => runCli([...args, "--url", stack.vh.url, "--token", stack.vh.token], { cwd: tempDir() });
  const chain = (v: AuditVerification, table: string): ChainStatus => v.chains.find((c) => c.table === table)!;
  /** As the superuser: `fn` runs with the table's append-only trigger disabled (an edit made around it). */
  async function aroundTrigger(table: string, fn: (tx: postgres.TransactionSql) => Promise<unknown>): Promise<void> {
    await db.sql.begin(async (tx) => {
      await tx.unsafe(`alter table ${table} disable trigger ${table}_append_only`);
      await fn(tx);
      await tx.unsafe(`alter table ${table} enable trigger ${table}_append_only`);
    });
  }
  async function lastEventId(): Promise<number> {
    const [r] = await db.sql<{ id: string }[]>`select max(id) as id from model_events`;
    return Number(r!.id);
  }

  it("refuses UPDATE, DELETE and TRUNCATE of both histories, with a message naming the table and the statement", async () => {
    for (const table of ["model_events", "execution_status_history"]) {
      await expect(db.sql.unsafe(`update ${table} set reason = 'edited'`)).rejects.toThrow(`${table} is append-only: UPDATE refused (the audit trail is never changed or removed; vh audit verify checks it)`);
      await expect(db.sql.unsafe(`delete from ${table} where id = (select min(id) from ${table})`)).rejects.toThrow(`${table} is append-only: DELETE refused`);
      await expect(db.sql.unsafe(`truncate ${table}`)).rejects.toThrow(`${table} is append-only: TRUNCATE refused`);
    }
    // Through a cascade too, and a statement that matches nothing is refused all the same.
    // (whichever guarded table the cascade reaches first refuses it: a history, or a dataset table, also immutable)
    await expect(db.sql`truncate executions cascade`).rejects.toThrow(/(model_events|execution_status_history) is append-only: TRUNCATE refused|TRUNCATE of dataset_\w+ refused/);
    expect((await db.sql<{ n: number }[]>`select count(*)::int as n from executions`)[0]!.n).toBeGreaterThan(0);
    await expect(db.sql`delete from model_events where false`).rejects.toThrow("model_events is append-only: DELETE refused");
    // The chain heads move only forward.
    await expect(db.sql`update audit_chain_heads set row_count = 0 where chain = 'model_events'`).rejects.toThrow("audit_chain_heads only moves forward with its chain: UPDATE of the head of model_events refused");
    await expect(db.sql`delete from audit_chain_heads`).rejects.toThrow("audit_chain_heads only moves forward with its chain: DELETE");
    const [n] = await db.sql<{ n: number }[]>`select count(*)::int as n from model_events`;
    expect(n!.n).toBeGreaterThanOrEqual(5);
  });

  it("chains the rows real actions wrote, as the TypeScript verifier recomputes them; vh audit verify says intact", async () => {
    const rows = await db.sql<{ id: string; kind: string; prev_hash: string; hash: string }[]>`select id, kind, prev_hash, hash from model_events order by id`;
    expect(rows.map((r) => r.kind)).toEqual(expect.arrayContaining(["created", "approved", "alias_changed", "rejected"]));
    expect(rows[0]!.prev_hash).toBe(GENESIS);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prev_hash).toBe(rows[i - 1]!.hash);
    const v = await verifyAuditChains(db.sql);
    expect(v.ok).toBe(true);
    expect(chain(v, "model_events")).toMatchObject({ rows: rows.length, ok: true, broken: null, lastId: Number(rows.at(-1)!.id), lastHash: rows.at(-1)!.hash });
    expect(chain(v, "execution_status_history")).toMatchObject({ rows: 3, ok: true });

    const out = await cli("audit", "verify");
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/^CHAIN\s+ROWS\s+STATUS\s+FIRST BROKEN ROW\n/);
    expect(out.stdout).toMatch(new RegExp(`model_events\\s+${rows.length}\\s+intact\\s+-`));
    expect(out.stdout).toMatch(/execution_status_history\s+3\s+intact\s+-/);
    expect(out.stderr).toMatch(/^Every audit chain is intact \(verified .*\)\.\n$/);
    const json = await cli("audit", "verify", "--json");
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as AuditVerification).ok).toBe(true);
  });

  it("computes the canonical content in TypeScript exactly as in SQL, jsonb keys in any order and unicode included", async () => {
    const odd = [
      { details: '{"b": 1, "a": {"z": "ü\\n|1:x", "y": [1.0, "🎉", null]}, "aa": "\\u00e9", "": 1e2}', reason: "ends in a pipe |", url: null },
      { details: '{"": 1e2, "aa": "é", "a": {"y": [1.0, "🎉", null], "z": "ü\\n|1:x"}, "b": 1}', reason: null, url: "https://example.com/a?b=c|d" },
    ];
    for (const o of odd) {
      await db.sql`
        insert into model_events (model_id, kind, actor, source, source_url, reason, details, at)
        values (${modelId}, 'odd', ${"actor ~ with \u0085 and 😀"}, 'api', ${o.url}, ${o.reason}, ${o.details}::text::jsonb, '2026-01-02 03:04:05.000007+02')`;
    }
    const rows = await db.sql<{ id: string; model_id: string; version_id: string | null; kind: string; actor: string; source: string; source_url: string | null; reason: string | null; details: string; at_us: string; sql_canonical: string; prev_hash: string; hash: string }[]>`
      select e.id::text, e.model_id::text, e.version_id::text, e.kind, e.actor, e.source, e.source_url, e.reason, e.details::text as details,
        (extract(epoch from e.at) * 1000000)::bigint::text as at_us, vh_model_events_canonical(e) as sql_canonical, e.prev_hash, e.hash
      from model_events e where kind = 'odd' order by id`;
    expect(rows).toHaveLength(2);
    // Postgres' jsonb text is canonical: the same document written with its keys in two orders reads back as one text.
    expect(rows[0]!.details).toBe(rows[1]!.details);
    // Keys by length, then bytes; numbers as written (1.0), except exponents (1e2 → 100).
    expect(rows[0]!.details).toBe('{"": 100, "a": {"y": [1.0, "🎉", null], "z": "ü\\n|1:x"}, "b": 1, "aa": "é"}');
    // JavaScript would not reproduce it from the parsed object (1.0, key order): the verifier hashes the text.
    expect(JSON.stringify(JSON.parse(rows[0]!.details))).not.toBe(rows[0]!.details);
    for (const r of rows) {
      const ts = canonicalModelEvent({ id: r.id, modelId: r.model_id, versionId: r.version_id, kind: r.kind, actor: r.actor, source: r.source, sourceUrl: r.source_url, reason: r.reason, details: r.details, atMicros: r.at_us });
      expect(ts).toBe(r.sql_canonical);
      expect(chainHash(r.prev_hash, ts)).toBe(r.hash);
    }
    expect(rows[0]!.sql_canonical).toContain("|~|16:ends in a pipe ||");
    expect(canonicalTime(BigInt(rows[0]!.at_us))).toBe("2026-01-02T01:04:05.000007Z");
    expect(canonicalTime(-1n)).toBe("1969-12-31T23:59:59.999999Z");

    const [h] = await db.sql<{ id: string; execution_id: string; status: string; reason: string | null; at_us: string; c: string }[]>`
      select h.id::text, h.execution_id::text, h.status, h.reason, (extract(epoch from h.at) * 1000000)::bigint::text as at_us, vh_execution_status_history_canonical(h) as c
      from execution_status_history h order by id desc limit 1`;
    expect(canonicalStatusEntry({ id: h!.id, executionId: h!.execution_id, status: h!.status, reason: h!.reason, atMicros: h!.at_us })).toBe(h!.c);
    expect((await verifyAuditChains(db.sql)).ok).toBe(true);
  });

  it("keeps an execution's history when its row is deleted (no cascade reaches the history)", async () => {
    const ex = await execution(2);
    await transition(db.sql, ex, "stopped", { reason: "gone soon" });
    await db.sql`delete from executions where id = ${ex}`;
    const kept = await db.sql`select 1 from execution_status_history where execution_id = ${ex}`;
    expect(kept).toHaveLength(1);
    expect((await verifyAuditChains(db.sql)).ok).toBe(true);
  });

  it("keeps one chain under 50 concurrent inserts (plain inserts and the state machine's statement)", async () => {
    const pool = postgres(db.connectionString, { max: 50, onnotice: () => {} });
    try {
      const execs = await Promise.all(Array.from({ length: 10 }, (_, i) => execution(100 + i)));
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          pool.begin(async (tx) => {
            await tx`select pg_sleep(${(i % 7) / 1000})`;
            if (i % 5 === 0) await transition(tx as unknown as postgres.Sql, execs[i / 5]!, "stopped", { reason: `concurrent ${i}` });
            else await tx`insert into model_events (model_id, kind, actor, source, details) values (${modelId}, 'concurrent', ${`a${i}`}, 'api', ${tx.json({ i })})`;
            await tx`select pg_sleep(${(i % 3) / 1000})`;
          }),
        ),
      );
    } finally {
      await pool.end();
    }
    for (const table of ["model_events", "execution_status_history"]) {
      const rows = await db.sql<{ prev_hash: string; hash: string }[]>`select prev_hash, hash from ${db.sql(table)} order by id`;
      // One chain: every row links to the one before it, so no two rows share a predecessor (no fork).
      expect(new Set(rows.map((r) => r.prev_hash)).size).toBe(rows.length);
      for (let i = 1; i < rows.length; i++) expect(rows[i]!.prev_hash).toBe(rows[i - 1]!.hash);
    }
    const [c] = await db.sql<{ n: number }[]>`select count(*)::int as n from model_events where kind = 'concurrent'`;
    expect(c!.n).toBe(40);
    const v = await verifyAuditChains(db.sql);
    expect(v.ok, JSON.stringify(v.chains.map((x) => x.broken))).toBe(true);
  });

  it("refuses an explicit id that would not come after the chain's head", async () => {
    await expect(db.sql`insert into model_events (id, model_id, kind, actor, source) values (1, ${modelId}, 'forged', 'x', 'api')`).rejects.toThrow(
      /model_events row 1 would be chained after row \d+: the chain is in id order/,
    );
  });

  it("an INSERT that appends no row holds no lock on the chain (a refused transition in an open transaction blocks no one)", async () => {
    const running = await execution(300);
    const other = await execution(301);
    await db.sql`update executions set status = 'running' where id = ${running}`;
    const a = postgres(db.connectionString, { max: 1, onnotice: () => {} });
    const b = postgres(db.connectionString, { max: 1, onnotice: () => {} });
    try {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let refused: unknown = "not yet";
      const txA = a.begin(async (tx) => {
        // Refused: a running execution cannot be stopped "before it started". Its history INSERT adds nothing.
        refused = await transition(tx as unknown as postgres.Sql, running, "stopped", { from: ["created", "queued"] });
        await held;
      });
      while (refused === "not yet") await new Promise((r) => setTimeout(r, 10));
      expect(refused).toBeNull();
      // While A is still open, another execution's transition appends to the chain without waiting for A
      // (before, the statement trigger had locked the head for A until its commit).
      await b`set lock_timeout = '3s'`;
      expect(await transition(b as unknown as postgres.Sql, other, "stopped", { reason: "not blocked" })).toBe("queued");
      release();
      await txA;
    } finally {
      await a.end();
      await b.end();
    }
    expect((await verifyAuditChains(db.sql)).ok).toBe(true);
  });

  it("an id the default drew before another row joined the chain is replaced by a later one, not refused", async () => {
    const a = postgres(db.connectionString, { max: 1, onnotice: () => {} });
    try {
      // A's default draws first (as a default does, before the row trigger takes the head) …
      const [first] = await a<{ id: string }[]>`select nextval(pg_get_serial_sequence('model_events', 'id'))::text as id`;
      const drawn = first!.id;
      // … then another transaction's row joins the chain with a later id …
      const [later] = await db.sql<{ id: string }[]>`insert into model_events (model_id, kind, actor, source) values (${modelId}, 'overtaking', 'b', 'api') returning id::text`;
      expect(BigInt(later!.id)).toBeGreaterThan(BigInt(drawn));
      // … and A's row, carrying the id its default drew, joins after it.
      const [row] = await a<{ id: string }[]>`insert into model_events (id, model_id, kind, actor, source) values (${drawn}, ${modelId}, 'overtaken', 'a', 'api') returning id::text`;
      expect(BigInt(row!.id)).toBeGreaterThan(BigInt(later!.id));
    } finally {
      await a.end();
    }
    expect((await verifyAuditChains(db.sql)).ok).toBe(true);
  });

  it("names a row whose content was changed around the trigger (content changed), and vh audit verify exits 1", async () => {
    const [target] = await db.sql<{ id: string; details: string }[]>`select id, details::text as details from model_events where kind = 'approved'`;
    await aroundTrigger("model_events", (tx) => tx`update model_events set details = '{"approvedBy": "someone else"}'::jsonb where id = ${target!.id}`);
    const v = await verifyAuditChains(db.sql);
    expect(v.ok).toBe(false);
    expect(chain(v, "model_events").broken).toEqual({
      id: Number(target!.id),
      check: "content_changed",
      message: `model_events row ${target!.id}: its content no longer matches its hash (a field was changed after the row was written).`,
    });
    expect(chain(v, "execution_status_history").ok).toBe(true);
    const out = await cli("audit", "verify");
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(new RegExp(`model_events\\s+\\d+\\s+content changed\\s+${target!.id}\\n`));
    expect(out.stdout).toContain(`model_events: model_events row ${target!.id}: its content no longer matches its hash`);
    expect(out.stderr).toMatch(/An audit chain is broken/);
    const json = await cli("audit", "verify", "--json");
    expect(json.code).toBe(1);
    expect(chain(JSON.parse(json.stdout) as AuditVerification, "model_events").broken?.check).toBe("content_changed");
    // Putting the content back (the trigger disabled again) makes the chain whole: the hash is over the content.
    await aroundTrigger("model_events", (tx) => tx`update model_events set details = ${target!.details}::text::jsonb where id = ${target!.id}`);
    expect((await verifyAuditChains(db.sql)).ok).toBe(true);
  });

  it("names the row after a deleted one (link broken), and rows removed at the end (row missing)", async () => {
    const [mid] = await db.sql<{ id: string }[]>`select id from execution_status_history order by id offset 2 limit 1`;
    const [next] = await db.sql<{ id: string }[]>`select id from execution_status_history where id > ${mid!.id} order by id limit 1`;
    await aroundTrigger("execution_status_history", (tx) => tx`delete from execution_status_history where id = ${mid!.id}`);
    let v = await verifyAuditChains(db.sql);
    expect(chain(v, "execution_status_history").broken).toMatchObject({ id: Number(next!.id), check: "link_broken" });
    expect(chain(v, "execution_status_history").broken?.message).toMatch(/its prev_hash is not the hash of the row before it \(row \d+\): a row between them was removed/);

    const last = await lastEventId();
    await aroundTrigger("model_events", (tx) => tx`delete from model_events where id = ${last}`);
    v = await verifyAuditChains(db.sql);
    expect(chain(v, "model_events").broken).toMatchObject({ id: last, check: "row_missing" });
    expect(chain(v, "model_events").broken?.message).toMatch(new RegExp(`records \\d+ row\\(s\\) ending at row ${last}; the table holds \\d+ ending at row \\d+: rows at the end were removed`));
  });

  it("is for admin tokens only", async () => {
    const { token } = await createToken(db.sql, { name: "reader", role: "member", project: null, expiresAt: null, createdBy: null });
    const res = await fetch(`${stack.vh.url}/api/v1/audit/verify`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/^This needs the server's admin token \(the one in VH_DATA_DIR\/admin-token, .*\); this token's role is member\.$/);
  });
});
