/**
 * lineage: "which data trained model://x/latest" (upstream) and "who used this version"
 * (downstream), each ONE recursive-CTE statement (app/models/lineage.ts), on a synthetic history
 * made in Postgres with generate_series — 1,000,000 executions, 5,000,000 datums, 10,000 model
 * versions in chains 10 deep — against a single-row primary-key lookup in the same run.
 *
 * The history (execution numbers i):
 * - 1..10,000 `train`: model m = (i-1)/10 (1,000 models), version v = (i-1)%10 + 1. Each trains on
 *   the output of its own `prepare` execution and, from v2 on, fine-tunes the previous version
 *   (a `model://` input, recorded in execution_model_inputs): chains of versions 10 deep.
 * - 10,001..20,000 `prepare`: reads one http URL (external data, no datum).
 * - 20,001..50,000 `infer`: three per version, consume its model file (model://…/latest).
 * - 50,001..80,000 `report`: consume an `infer` output (downstream depth 2).
 * - the rest: unrelated executions, each consuming an output of an earlier unrelated one.
 * Every execution has 5 output datums. Load is set-based; indexes and keys are built after it.
 *
 * BENCH_LINEAGE_SCALE (default 1) scales the unrelated executions (and so the table sizes) down
 * for a quick run; the chains and queries are the same.
 */
import postgres from "postgres";
import { migrateDatabase, openDatabase } from "../db/client.js";
import { downstreamQuery, upstreamQuery } from "../app/models/lineage.js";
import { benchPostgres, percentile, round, size, SMOKE } from "./support.js";

const SCALE = size("BENCH_LINEAGE_SCALE", 1, 0.1);
const EXECUTIONS = Math.max(100_000, Math.round(1_000_000 * SCALE));
const DATUMS_PER_EXECUTION = 5;
const N = size("BENCH_N", 1000, 5);
const WARMUP = SMOKE ? 2 : 50;
const TABLES = ["executions", "datums", "execution_inputs", "models", "model_versions", "model_version_files", "execution_model_inputs"];

function log(msg: string, t0: number): void {
  process.stderr.write(`[lineage ${((performance.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
}

/** Drops keys, foreign keys and indexes of the bench tables; returns the statements that rebuild them. */
async function dropIndexes(sql: postgres.Sql): Promise<string[]> {
  const cons = await sql<{ table: string; name: string; def: string; type: string }[]>`
    select conrelid::regclass::text as table, conname as name, pg_get_constraintdef(oid) as def, contype as type
    from pg_constraint
    where (conrelid::regclass::text in ${sql(TABLES)} and contype in ('p', 'u', 'f'))
       or (contype = 'f' and confrelid::regclass::text in ${sql(TABLES)})`;
  const idx = await sql<{ name: string; def: string }[]>`
    select indexname as name, indexdef as def from pg_indexes
    where schemaname = 'public' and tablename in ${sql(TABLES)} and indexname not in ${sql(cons.map((c) => c.name).concat(["-"]))}`;
  const fks = cons.filter((c) => c.type === "f");
  const keys = cons.filter((c) => c.type !== "f");
  for (const c of fks) await sql.unsafe(`alter table ${c.table} drop constraint "${c.name}"`);
  for (const c of keys) await sql.unsafe(`alter table ${c.table} drop constraint "${c.name}"`);
  for (const i of idx) await sql.unsafe(`drop index "${i.name}"`);
  return [
    ...keys.map((c) => `alter table ${c.table} add constraint "${c.name}" ${c.def}`),
    ...idx.map((i) => i.def),
    // Foreign keys: not re-validated over millions of synthetic rows (they do not change the plans).
    ...fks.map((c) => `alter table ${c.table} add constraint "${c.name}" ${c.def} not valid`),
  ];
}

async function load(sql: postgres.Sql, t0: number): Promise<void> {
  const E = EXECUTIONS;
  const eid = (i: string) => `md5('e' || (${i}))::uuid`;
  const did = (i: string, j: string) => `md5('d' || (${i}) || '.' || (${j}))::uuid`;
  const vid = (i: string) => `md5('v' || (${i}))::uuid`;
  await sql.unsafe(`insert into projects (id, name, execution_counter) values ('00000000-0000-4000-8000-000000000001', 'bench', ${E})`);
  await sql.unsafe(`
    insert into executions (id, project_id, counter, step, status, image, command, command_list, parameters, inputs, environment_variables, created_at, started_at, ended_at)
    select ${eid("i")}, '00000000-0000-4000-8000-000000000001', i,
      case when i <= 10000 then 'train' when i <= 20000 then 'prepare' when i <= 50000 then 'infer' when i <= 80000 then 'report' else 'other' end,
      'completed', 'python:3.12', 'python3 run.py', '[]'::jsonb, jsonb_build_object('epochs', i % 7), '[]'::jsonb, '{}'::jsonb,
      timestamptz '2025-01-01' + i * interval '1 second', timestamptz '2025-01-01' + i * interval '1 second', timestamptz '2025-01-01' + (i + 30) * interval '1 second'
    from generate_series(1, ${E}) i`);
  log(`${E} executions`, t0);
  await sql.unsafe(`
    insert into datums (id, project_id, execution_id, name, size, sha256, store_key)
    select ${did("i", "j")}, '00000000-0000-4000-8000-000000000001', ${eid("i")}, 'out-' || j || '.bin', 1000 + j,
      md5('s' || i || '.' || j) || md5('t' || i || '.' || j), 'data/' || i || '/' || j
    from generate_series(1, ${E}) i, generate_series(0, ${DATUMS_PER_EXECUTION - 1}) j`);
  log(`${E * DATUMS_PER_EXECUTION} datums`, t0);
  await sql.unsafe(`
    insert into models (id, name, version_counter) select md5('m' || m)::uuid, 'model-' || m, 10 from generate_series(0, 999) m`);
  await sql.unsafe(`
    insert into model_versions (id, model_id, number, status, source_kind, source_execution_id, files_sha256, approved_sha256, created_at)
    select ${vid("i")}, md5('m' || ((i - 1) / 10))::uuid, (i - 1) % 10 + 1, 'approved', 'execution', ${eid("i")}, md5('f' || i), md5('f' || i),
      timestamptz '2025-01-01' + i * interval '1 second'
    from generate_series(1, 10000) i`);
  await sql.unsafe(`
    insert into model_version_files (version_id, name, datum_id, sha256, size)
    select ${vid("i")}, 'out-0.bin', ${did("i", "0")}, md5('s' || i || '.0') || md5('t' || i || '.0'), 1000 from generate_series(1, 10000) i`);
  // edges: what each execution consumed
  await sql.unsafe(`
    insert into execution_inputs (execution_id, input, name, uri, datum_id, sha256, size)
    select ${eid("i")}, 'dataset', 'out-0.bin', 'datum://' || ${did("i + 10000", "0")}, ${did("i + 10000", "0")}, md5('s' || (i + 10000) || '.0') || md5('t' || (i + 10000) || '.0'), 1000
    from generate_series(1, 10000) i
    union all
    select ${eid("i")}, 'base', 'out-0.bin', 'model://model-' || ((i - 1) / 10) || '/latest', ${did("i - 1", "0")}, md5('s' || (i - 1) || '.0') || md5('t' || (i - 1) || '.0'), 1000
    from generate_series(1, 10000) i where (i - 1) % 10 > 0
    union all
    select ${eid("i")}, 'raw', 'raw.csv', 'https://data.example.com/raw-' || i || '.csv', null, md5('r' || i) || md5('q' || i), 5000
    from generate_series(10001, 20000) i
    union all
    select ${eid("i")}, 'model', 'out-0.bin', 'model://model-' || (((i - 20001) % 10000) / 10) || '/latest', ${did("(i - 20001) % 10000 + 1", "0")},
      md5('s' || ((i - 20001) % 10000 + 1) || '.0') || md5('t' || ((i - 20001) % 10000 + 1) || '.0'), 1000
    from generate_series(20001, 50000) i
    union all
    select ${eid("i")}, 'predictions', 'out-0.bin', 'datum://' || ${did("i - 30000", "0")}, ${did("i - 30000", "0")}, md5('s' || (i - 30000) || '.0') || md5('t' || (i - 30000) || '.0'), 1000
    from generate_series(50001, 80000) i
    union all
    select ${eid("i")}, 'x', 'out-' || j || '.bin', 'datum://' || ${did("src", "j")}, ${did("src", "j")}, md5('s' || src || '.' || j) || md5('t' || src || '.' || j), 1000
    from (select i, 80001 + floor(random() * (i - 80001))::int as src, floor(random() * 5)::int as j from generate_series(80002, ${E}) i) r`);
  await sql.unsafe(`
    insert into execution_model_inputs (execution_id, input, uri, version_id)
    select ${eid("i")}, 'base', 'model://model-' || ((i - 1) / 10) || '/latest', ${vid("i - 1")} from generate_series(1, 10000) i where (i - 1) % 10 > 0
    union all
    select ${eid("i")}, 'model', 'model://model-' || (((i - 20001) % 10000) / 10) || '/latest', ${vid("(i - 20001) % 10000 + 1")} from generate_series(20001, 50000) i`);
  log("model versions and edges", t0);
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

export async function run(): Promise<Record<string, number>> {
  const t0 = performance.now();
  const pg = await benchPostgres();
  try {
    const database = openDatabase(pg.connectionString, { max: 2 });
    await migrateDatabase(database);
    await database.close();
    const sql = postgres(pg.connectionString, { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe("set synchronous_commit = off");
      await sql.unsafe("set maintenance_work_mem = '512MB'");
      await sql.unsafe("set work_mem = '64MB'");
      const rebuild = await dropIndexes(sql);
      await load(sql, t0);
      for (const stmt of rebuild) await sql.unsafe(stmt);
      log(`${rebuild.length} keys and indexes rebuilt`, t0);
      await sql.unsafe(`vacuum analyze ${TABLES.join(", ")}`);
      log("analyzed", t0);

      const latestOf = (model: number) => sql<{ id: string }[]>`
        select v.id from model_versions v join models m on m.id = v.model_id
        where m.name = ${`model-${model}`} and v.status = 'approved' and v.approved_sha256 = v.files_sha256
        order by v.number desc limit 1`;
      // sanity: latest of a model is v10, and its upstream is the whole chain (10 train, 10 prepare)
      const [probe] = await latestOf(7);
      const chain = await upstreamQuery(sql, probe!.id);
      const producers = new Set(chain.map((r) => r.producer).filter(Boolean));
      if (producers.size !== 20 || chain.length !== 30) throw new Error(`upstream of model-7/latest: ${producers.size} executions, ${chain.length} edges (expected 20, 30)`);
      const [v5] = await sql<{ id: string }[]>`select id from model_versions where source_execution_id = md5('e' || 75)::uuid`;
      const users = new Set((await downstreamQuery(sql, v5!.id)).map((r) => r.consumer));
      if (users.size < 7) throw new Error(`downstream of model-7/v5: ${users.size} executions (expected ≥ 7)`);

      const training: number[] = [];
      const down: number[] = [];
      const pk: number[] = [];
      const rand = (n: number) => Math.floor(Math.random() * n);
      for (let i = 0; i < N + WARMUP; i++) {
        const tu = await time(async () => {
          const [v] = await latestOf(rand(1000));
          await upstreamQuery(sql, v!.id);
        });
        const version = `md5('v' || ${1 + rand(10000)})::uuid`;
        const [vrow] = await sql.unsafe<{ id: string }[]>(`select ${version} as id`);
        const td = await time(() => downstreamQuery(sql, vrow!.id));
        const exec = 1 + rand(EXECUTIONS);
        const [erow] = await sql.unsafe<{ id: string }[]>(`select md5('e' || ${exec})::uuid as id`);
        const tp = await time(() => sql`select * from executions where id = ${erow!.id}`);
        if (i >= WARMUP) {
          training.push(tu);
          down.push(td);
          pk.push(tp);
        }
      }
      log(`${N} queries of each kind`, t0);
      return {
        training_data_p50_ms: round(percentile(training, 50), 3),
        training_data_p99_ms: round(percentile(training, 99), 3),
        downstream_p50_ms: round(percentile(down, 50), 3),
        pk_lookup_p50_ms: round(percentile(pk, 50), 3),
      };
    } finally {
      await sql.end({ timeout: 5 });
    }
  } finally {
    await pg.stop();
  }
}
