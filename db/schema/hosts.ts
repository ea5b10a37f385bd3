/**
 * Hosts, their GPUs, and which execution holds which GPU (docs/scheduler.md).
 *
 * - `hosts`: machines executions run on: the worker's own (`kind = 'local'`) and SSH hosts.
 * - `gpus`: what the last discovery (nvidia-smi) found, by device index; `present = false` once a
 *   later discovery no longer sees it (kept so past allocations still name it).
 * - `execution_placements`: where the scheduler put an execution (host + device indices), one row
 *   per execution, rewritten when a lost execution is retried.
 * - `gpu_allocations`: one row per GPU an execution holds. A partial unique index allows at most one
 *   unreleased row per (host, device): a GPU can never be handed out twice. Releasing sets
 *   `released_at` where it is null, so a release happens exactly once however often it is asked.
 * - `gpu_reservations`: the scheduler's reservation (a host held for a blocked, escalated job),
 *   kept between passes so backfill stays provably harmless.
 * - `gpu_quotas`: caps on GPUs in use at once, per project (`project:<name>`) or team (`team:<name>`,
 *   with its projects listed).
 */
import { sql } from "drizzle-orm";
import { bigserial, boolean, doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { executions } from "./executions.js";

export type HostStatus = "unknown" | "up" | "down";

/**
 * Where a provisioned host (an EC2 instance) is in its life (worker/compute/lifecycle.ts):
 * `launching` (row written, RunInstances not yet answered) → `booting` (instance id known; waiting
 * for it to run and report its host key) → `ready` (an SSH host executions are placed on) →
 * `draining` (a spot notice: nothing new is placed) → `terminating` (TerminateInstances asked,
 * retried until it answers) → `terminated`; `failed` when it never became reachable (then terminated).
 */
export type HostLifecycle = "launching" | "booting" | "ready" | "draining" | "terminating" | "terminated" | "failed";

export const hosts = pgTable("hosts", {
  id: uuid("id").primaryKey().default(sql`gen_random_uuid()`),
  name: text("name").notNull().unique(),
  /** `local` (the worker's machine) or `ssh` (an EC2 instance is an SSH host too, with `provider` set). */
  kind: text("kind").$type<"local" | "ssh">().notNull(),
  /** `ssh://user@host:port` for SSH hosts; null for local. */
  address: text("address"),
  /** Path of the private key file on the control plane (never the key itself). */
  keyPath: text("key_path"),
  /**
   * The host key's SHA256 fingerprint (`SHA256:<base64, no padding>`, as `ssh-keygen -lf` shows it),
   * pinned on the first successful connection or given at registration; a different key is refused.
   */
  hostKeySha256: text("host_key_sha256"),
  labels: jsonb("labels").$type<Record<string, string>>().notNull().default({}),
  enabled: boolean("enabled").notNull().default(true),
  status: text("status").$type<HostStatus>().notNull().default("unknown"),
  /** The last HostInfo: OS, CPU, memory, GPUs, CUDA, docker. */
  facts: jsonb("facts").$type<Record<string, unknown>>(),
  lastError: text("last_error"),
  lastCheckAt: timestamp("last_check_at", { withTimezone: true }),
  lastSeenAt: timestamp("last_seen_at", { withTimezone: true }),
  /** Where it came from: `cli`/`api`, the hosts file, or the worker itself (local). */
  source: text("source").notNull().default("api"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  // Provisioned hosts (worker/compute/): null for hosts a person registered.
  /** The compute provider that made it (`ec2`). */
  provider: text("provider"),
  /** The environment (VH_ENVIRONMENTS_FILE) it was made for: only that environment's executions run on it. */
  environment: text("environment"),
  /** The provider's instance id (`i-…`); null until the launch call answered. */
  instanceId: text("instance_id").unique(),
  /** The idempotency token of the launch call (EC2 ClientToken): a launch retried after a crash makes no second instance. */
  launchToken: text("launch_token").unique(),
  lifecycle: text("lifecycle").$type<HostLifecycle>(),
  lifecycleReason: text("lifecycle_reason"),
  region: text("region"),
  zone: text("zone"),
  instanceType: text("instance_type"),
  spot: boolean("spot"),
  /** USD per hour: the spot price when launched, else the on-demand price. */
  pricePerHour: doublePrecision("price_per_hour"),
  launchedAt: timestamp("launched_at", { withTimezone: true }),
  readyAt: timestamp("ready_at", { withTimezone: true }),
  /** Since when nothing is placed on it (idle shutdown counts from here); null while busy. */
  idleSince: timestamp("idle_since", { withTimezone: true }),
  terminatedAt: timestamp("terminated_at", { withTimezone: true }),
  /** A spot interruption or rebalance notice the instance reported (JSON text as the metadata service gave it). */
  interruption: text("interruption"),
}, (t) => [index("hosts_environment").on(t.environment, t.lifecycle)]);

export const gpus = pgTable(
  "gpus",
  {
    hostId: uuid("host_id")
      .notNull()
      .references(() => hosts.id, { onDelete: "cascade" }),
    index: integer("index").notNull(),
    uuid: text("uuid").notNull().default(""),
    name: text("name").notNull().default(""),
    memoryMiB: integer("memory_mib").notNull().default(0),
    driverVersion: text("driver_version").notNull().default(""),
    present: boolean("present").notNull().default(true),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.hostId, t.index] })],
);

export const executionPlacements = pgTable(
  "execution_placements",
  {
    executionId: uuid("execution_id")
      .primaryKey()
      .references(() => executions.id, { onDelete: "cascade" }),
    hostId: uuid("host_id")
      .notNull()
      .references(() => hosts.id, { onDelete: "cascade" }),
    gpuIndices: jsonb("gpu_indices").$type<number[]>().notNull(),
    placedAt: timestamp("placed_at", { withTimezone: true }).notNull().defaultNow(),
    releasedAt: timestamp("released_at", { withTimezone: true }),
  },
  (t) => [index("execution_placements_host").on(t.hostId)],
);

export const gpuAllocations = pgTable(
  "gpu_allocations",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    executionId: uuid("execution_id")
      .notNull()
      .references(() => executions.id, { onDelete: "cascade" }),
    hostId: uuid("host_id")
      .notNull()
      .references(() => hosts.id, { onDelete: "cascade" }),
    gpuIndex: integer("gpu_index").notNull(),
    allocatedAt: timestamp("allocated_at", { withTimezone: true }).notNull().defaultNow(),
    releasedAt: timestamp("released_at", { withTimezone: true }),
    /** Why it was released: the execution's final status. */
    releaseReason: text("release_reason"),
  },
  (t) => [
    uniqueIndex("gpu_allocations_held").on(t.hostId, t.gpuIndex).where(sql`released_at is null`),
    index("gpu_allocations_execution").on(t.executionId),
  ],
);

export const gpuReservations = pgTable("gpu_reservations", {
  executionId: uuid("execution_id")
    .primaryKey()
    .references(() => executions.id, { onDelete: "cascade" }),
  hostId: uuid("host_id")
    .notNull()
    .references(() => hosts.id, { onDelete: "cascade" }),
  since: timestamp("since", { withTimezone: true }).notNull().defaultNow(),
});

export const gpuQuotas = pgTable("gpu_quotas", {
  /** `project:<project name>` or `team:<team name>`. */
  key: text("key").primaryKey(),
  maxGpus: integer("max_gpus").notNull(),
  /** For a team: the names of its projects. */
  projects: jsonb("projects").$type<string[]>().notNull().default([]),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export type Host = typeof hosts.$inferSelect;
export type Gpu = typeof gpus.$inferSelect;
export type GpuAllocation = typeof gpuAllocations.$inferSelect;
