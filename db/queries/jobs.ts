/**
 * Adding queue jobs: the one way vh enqueues work. Runs graphile-worker's SQL `add_job` /
 * `add_jobs` on the connection it is given, so a job added inside a transaction exists exactly
 * when the transaction commits. Names and payloads are checked against app/contracts/jobs.ts.
 */
import type postgres from "postgres";
import { JOBS, SCHEDULE_JOB_KEY, type JobName, type JobPayload } from "../../app/contracts/jobs.js";
import type { Sql } from "../client.js";

export interface JobOptions {
  /** Jobs with the same key are one job (graphile-worker job_key). */
  jobKey?: string;
  /** `replace` (default): a newer add replaces the pending one's payload and run_at; `preserve_run_at` keeps its run_at. */
  jobKeyMode?: "replace" | "preserve_run_at";
  /** Jobs of one queue run one at a time, in order. */
  queueName?: string;
  /** Run no earlier than this many milliseconds from now. */
  delayMs?: number;
  maxAttempts?: number;
}

type Conn = Sql | postgres.TransactionSql;

/**
 * The advisory-lock namespace of job keys ("vh_k"). A keyed job coalesces "something changed"
 * (a pipeline's or sweep's advance, a report round, a scheduler pass), and graphile-worker's
 * add_job drops an add that meets a job of its key being locked by a worker in a transaction not
 * yet committed, while that run may read the state before the add's own transaction commits: the
 * change would be lost. So every add holds a shared lock on its key until its transaction ends
 * (shared: adds never wait for each other), and every run of a keyed job first takes that lock
 * exclusively (`awaitKeyedAdds`, from worker/tasks/index.ts): it reads after each add it could
 * have missed has committed. test/db/keyed-job-race.test.ts plays the race step by step.
 */
export const JOB_KEY_LOCK = 0x76685f6b;

/** The SQL value of a job key (a text expression) that holds the key's shared lock until the transaction ends. */
export function lockedJobKey(sql: Conn, key: postgres.PendingQuery<postgres.Row[]> | string | null) {
  const expr = typeof key === "string" || key === null ? sql`${key}::text` : key;
  return sql`(select v.k from (select ${expr} as k) v, lateral pg_advisory_xact_lock_shared(${JOB_KEY_LOCK}::int, hashtext(v.k)) l)`;
}

/** The barrier's statement, parameters [JOB_KEY_LOCK, key] (worker/tasks/index.ts runs it on graphile's own client). */
export const AWAIT_KEYED_ADDS_SQL = "select pg_advisory_xact_lock($1::int, hashtext($2::text))";

/** A run of a keyed job waits here until every transaction that added its key has ended (see JOB_KEY_LOCK). */
export async function awaitKeyedAdds(sql: Conn, key: string): Promise<void> {
  await sql.unsafe(AWAIT_KEYED_ADDS_SQL, [JOB_KEY_LOCK, key]);
}

function checked<K extends JobName>(name: K, payload: JobPayload<K>): JobPayload<K> {
  const decl = JOBS[name];
  if (!decl) throw new Error(`addJob: no task "${String(name)}" is declared in app/contracts/jobs.ts`);
  return decl.payload.parse(payload) as JobPayload<K>;
}

const interval = (ms: number | undefined) => (ms === undefined ? null : `${Math.max(0, Math.round(ms))} milliseconds`);

/** Adds one job of task `name`. */
export async function addJob<K extends JobName>(sql: Conn, name: K, payload: JobPayload<K>, opts: JobOptions = {}): Promise<void> {
  await sql`select ${addJobCall(sql, name, payload, opts)}`;
}

/**
 * The same add as an SQL fragment, for one statement that adds the job only when its own rows are
 * written (`with ins as (insert … returning id) select ${addJobCall(…)} from ins`): one round trip.
 */
export function addJobCall<K extends JobName>(sql: Conn, name: K, payload: JobPayload<K>, opts: JobOptions = {}) {
  const body = checked(name, payload);
  const delay = interval(opts.delayMs);
  return sql`graphile_worker.add_job(${name}::text, ${sql.json(body as never)}::json,
      queue_name => ${opts.queueName ?? null}::text,
      run_at => case when ${delay}::interval is null then null else now() + ${delay}::interval end,
      max_attempts => ${opts.maxAttempts ?? JOBS[name].maxAttempts}::int,
      job_key => ${opts.jobKey === undefined ? sql`null::text` : lockedJobKey(sql, opts.jobKey)},
      job_key_mode => ${opts.jobKeyMode ?? "replace"}::text)`;
}

/** Adds many jobs of one task in one statement (graphile-worker's add_jobs). */
export async function addJobs<K extends JobName>(sql: Conn, name: K, jobs: { payload: JobPayload<K>; jobKey?: string; maxAttempts?: number }[]): Promise<void> {
  if (jobs.length === 0) return;
  const rows = jobs.map((j) => ({ payload: checked(name, j.payload), job_key: j.jobKey ?? null, max_attempts: j.maxAttempts ?? JOBS[name].maxAttempts }));
  await sql`
    select graphile_worker.add_jobs(array(
      select row(${name}::text, x.payload, null::text, null::timestamptz, x.max_attempts, ${lockedJobKey(sql, sql`x.job_key`)}, null::int, null::text[])::graphile_worker.job_spec
      from json_to_recordset(${sql.json(rows as never)}::json) as x(payload json, job_key text, max_attempts int)))`;
}

/** Asks for a scheduler pass (coalesced with one already waiting). Usable inside a transaction. */
export async function requestSchedulerPass(sql: Conn): Promise<void> {
  await addJob(sql, "schedule", {}, { jobKey: SCHEDULE_JOB_KEY });
}
