import { sql } from "drizzle-orm";
import {
  bigserial,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  bigint,
  doublePrecision,
} from "drizzle-orm/pg-core";
import { projects } from "./projects.js";

/** Statuses and their legal transitions live in app/executions/state.ts (docs/runs-and-executions.md). */
export type ExecutionStatus =
  | "created"
  | "queued"
  | "starting"
  | "running"
  | "stopping"
  | "uploading"
  | "completed"
  | "failed"
  | "error"
  | "stopped"
  | "lost";

/** What a status history entry records: a status, or the execution's deletion. */
export type HistoryStatus = ExecutionStatus | "deleted";

import type { InputSource } from "../../app/contracts/runner.js";
import type { ExecutionAttempt } from "../../app/contracts/compute.js";

export interface RequestedInput {
  name: string;
  uri: string;
  /** Resolved at creation: where the file is fetched from and what is known of it. */
  source: InputSource;
  datumId?: string;
  sha256?: string;
  size?: number;
  file: string;
  /** For a `model://` input: the exact version it resolved to (`model://churn/v3`). */
  model?: { version: string; versionId: string };
  /** For a `dataset://` input: the exact version it resolved to (`dataset://images/2026-11`, also when asked for `latest`). */
  dataset?: { name: string; version: string; versionId: string };
  /** What the source said the object was when resolved (S3: its ETag, and its version id where the bucket keeps versions). */
  etag?: string;
  versionId?: string;
}

export const executions = pgTable(
  "executions",
  {
    id: uuid("id").primaryKey().default(sql`gen_random_uuid()`),
    projectId: uuid("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    counter: integer("counter").notNull(),
    step: text("step").notNull(),
    title: text("title"),
    /** Labels a person gives the execution (`vh exec run --tag`), in the order given, no duplicates (app/executions/create.ts checks them). */
    tags: jsonb("tags").$type<string[]>().notNull().default([]),
    status: text("status").$type<ExecutionStatus>().notNull(),
    statusDetail: text("status_detail"),
    /** Code: an ad-hoc snapshot (sha256 of the tarball) and/or a git commit SHA. */
    codeSha256: text("code_sha256"),
    commitSha: text("commit_sha"),
    /** Who triggered the execution (a forge login, or an API token's name); null when unknown. */
    triggeredBy: text("triggered_by"),
    yamlPath: text("yaml_path").notNull().default("valohai.yaml"),
    image: text("image").notNull(),
    /** The final script exactly as run, and the command list it was joined from. */
    command: text("command").notNull(),
    commandList: jsonb("command_list").$type<string[]>().notNull(),
    parameters: jsonb("parameters").$type<Record<string, unknown>>().notNull(),
    inputs: jsonb("inputs").$type<RequestedInput[]>().notNull(),
    /** Raw values; masked on every read path (app/executions/present.ts). */
    /** The environment as shown: secret values masked (app/executions/secrets.ts); the real ones are sealed below. */
    environmentVariables: jsonb("environment_variables").$type<Record<string, string>>().notNull(),
    /** The secret values (those masked above), AES-256-GCM sealed with the server's secrets key; null when none. */
    environmentSecrets: text("environment_secrets"),
    gpus: integer("gpus").notNull().default(0),
    timeLimitSeconds: integer("time_limit_s"),
    noOutputTimeoutSeconds: integer("no_output_timeout_s"),
    /** Runner kind and host that ran it, and the runner's re-attach handle. */
    runner: text("runner").notNull().default("local"),
    host: text("host"),
    runnerHandle: jsonb("runner_handle").$type<Record<string, unknown>>(),
    /** Mode (docker|process), host facts (OS, CPU, memory, GPU, CUDA), image digest. */
    runtime: jsonb("runtime").$type<Record<string, unknown>>(),
    exitCode: integer("exit_code"),
    warnings: jsonb("warnings").$type<string[]>().notNull().default([]),
    invalidJsonLines: integer("invalid_json_lines").notNull().default(0),
    metadataLatest: jsonb("metadata_latest").$type<Record<string, unknown>>().notNull().default({}),
    /** Log ingestion cursor: committed in the same transaction as the lines it covers. */
    logOffsets: jsonb("log_offsets").$type<{ stdout: number; stderr: number }>().notNull().default({ stdout: 0, stderr: 0 }),
    logPartial: jsonb("log_partial").$type<{ stdout: string; stderr: string }>().notNull().default({ stdout: "", stderr: "" }),
    logSeq: integer("log_seq").notNull().default(0),
    metadataSeq: integer("metadata_seq").notNull().default(0),
    /** The log quota (VH_MAX_LOG_MB, VH_MAX_LOG_LINES): bytes of lines stored, and what was counted but not stored. Part of the cursor. */
    logBytes: bigint("log_bytes", { mode: "number" }).notNull().default(0),
    logDroppedLines: bigint("log_dropped_lines", { mode: "number" }).notNull().default(0),
    logDroppedBytes: bigint("log_dropped_bytes", { mode: "number" }).notNull().default(0),
    /** Supervision lease: the worker that tails this execution, until when. */
    leaseOwner: text("lease_owner"),
    leaseUntil: timestamp("lease_until", { withTimezone: true }),
    stopRequestedAt: timestamp("stop_requested_at", { withTimezone: true }),
    /**
     * Why the process was told to stop (decides the end status): a user or its sweep (stopped), an
     * enforced limit (error), the step's stop-condition (completed), early stopping (stopped).
     */
    stopCause: text("stop_cause").$type<"user" | "time-limit" | "no-output-timeout" | "stop-condition" | "early-stop" | "sweep" | "spot-interruption">(),
    /** The step's `stop-condition` (valohai.yaml), evaluated on its metadata as it streams in. */
    stopCondition: text("stop_condition"),
    lastOutputAt: timestamp("last_output_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    queuedAt: timestamp("queued_at", { withTimezone: true }),
    startedAt: timestamp("started_at", { withTimezone: true }),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    /**
     * Deleted (app/executions/delete.ts): its logs, metadata and outputs are gone; the row stays as
     * the record of what ran, with its status history and a `deleted` entry saying who removed what.
     */
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
    /** The environment it runs in (VH_ENVIRONMENTS_FILE); null: the registered hosts (local, SSH). */
    environment: text("environment"),
    /** Which attempt runs now (1 first; a spot interruption or a lost host starts the next). */
    attempt: integer("attempt").notNull().default(1),
    /**
     * Retries on failure, opt-in (`--retries N`, the API's `retries`): a failed attempt (the process
     * exited non-zero) starts the next while fewer than this many failed; 0: never (worker/scheduler/settle.ts).
     */
    retries: integer("retries").notNull().default(0),
    /** Every ended attempt: where it ran, what it cost, how it ended (app/contracts/compute.ts ExecutionAttempt). */
    attempts: jsonb("attempts").$type<ExecutionAttempt[]>().notNull().default([]),
    /** USD over all attempts on priced hosts; null when none was priced. */
    costUsd: doublePrecision("cost_usd"),
    deletedBy: text("deleted_by"),
  },
  (t) => [
    uniqueIndex("executions_project_counter").on(t.projectId, t.counter),
    index("executions_status").on(t.status),
  ],
);

export const executionStatusHistory = pgTable(
  "execution_status_history",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    /**
     * No foreign key: the history is append-only (db/schema/audit.ts) and outlives its execution's
     * row, so nothing in the database can cascade into it.
     */
    executionId: uuid("execution_id").notNull(),
    /** A status the execution moved to, or `deleted`: the one entry that is not a status (app/executions/delete.ts). */
    status: text("status").$type<HistoryStatus>().notNull(),
    reason: text("reason"),
    at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
    /** The audit chain (db/schema/audit.ts): set by the insert trigger, never by the caller. */
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [index("execution_status_history_execution").on(t.executionId)],
);

/** What an execution consumed, with checksums: the upstream edge of lineage. */
export const executionInputs = pgTable(
  "execution_inputs",
  {
    executionId: uuid("execution_id")
      .notNull()
      .references(() => executions.id, { onDelete: "cascade" }),
    input: text("input").notNull(),
    name: text("name").notNull(),
    uri: text("uri").notNull(),
    datumId: uuid("datum_id"),
    sha256: text("sha256").notNull(),
    size: bigint("size", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.executionId, t.input, t.name] }), index("execution_inputs_datum").on(t.datumId)],
);

export type Execution = typeof executions.$inferSelect;
export type NewExecution = typeof executions.$inferInsert;
