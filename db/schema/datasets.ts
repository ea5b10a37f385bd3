/**
 * Datasets (valohai-spec §1.6, §3.5; docs/datasets.md).
 *
 * Terminology:
 * - dataset: a name in a project (`images`), addressed as `dataset://images/…`.
 * - version: a named, immutable set of files (`dataset://images/2026-11`): each file a path in the
 *   version and the datum that holds its bytes, with sha256 and size. Made by a person (REST, CLI)
 *   or by an execution's outputs (`valohai.dataset-versions` sidecars); once created, its files
 *   never change (app/datasets/versions.ts, and a trigger: migration dataset-immutability).
 * - latest: the newest version of the dataset (the highest `seq`); `dataset://images` means it too.
 * - alias: a name that points at one version and moves (`targeting_aliases` in a sidecar).
 */
import { sql } from "drizzle-orm";
import { bigint, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { projects } from "./projects.js";
import { executions } from "./executions.js";
import { datums } from "./datums.js";

export const datasets = pgTable(
  "datasets",
  {
    id: uuid("id").primaryKey().default(sql`gen_random_uuid()`),
    projectId: uuid("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** Last `seq` handed out to a version; updating it is also what serialises version creation. */
    versionCounter: integer("version_counter").notNull().default(0),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("datasets_project_name").on(t.projectId, t.name)],
);

export const datasetVersions = pgTable(
  "dataset_versions",
  {
    id: uuid("id").primaryKey().default(sql`gen_random_uuid()`),
    datasetId: uuid("dataset_id")
      .notNull()
      .references(() => datasets.id, { onDelete: "cascade" }),
    /** The version's name as written in `dataset://NAME/VERSION`. */
    name: text("name").notNull(),
    /** 1, 2, … in order of creation: `latest` is the highest. */
    seq: integer("seq").notNull(),
    /** The execution whose outputs made it (a sidecar), or null (made by a person). */
    executionId: uuid("execution_id").references(() => executions.id, { onDelete: "set null" }),
    /** A token's name, or `execution #N` (its trigger when known). */
    createdBy: text("created_by").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("dataset_versions_dataset_name").on(t.datasetId, t.name),
    uniqueIndex("dataset_versions_dataset_seq").on(t.datasetId, t.seq),
    index("dataset_versions_execution").on(t.executionId),
  ],
);

/** A version's files: written with the version, never updated or deleted (a trigger refuses it). */
export const datasetVersionFiles = pgTable(
  "dataset_version_files",
  {
    versionId: uuid("version_id")
      .notNull()
      .references(() => datasetVersions.id, { onDelete: "cascade" }),
    /** Where the file is in the version, and so under inputs/INPUT/ (`train/a.png`). */
    path: text("path").notNull(),
    datumId: uuid("datum_id")
      .notNull()
      .references(() => datums.id),
    sha256: text("sha256").notNull(),
    size: bigint("size", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.versionId, t.path] }), index("dataset_version_files_datum").on(t.datumId)],
);

/** A moving name for one version of a dataset (`dataset://images/prod`). */
export const datasetAliases = pgTable(
  "dataset_aliases",
  {
    datasetId: uuid("dataset_id")
      .notNull()
      .references(() => datasets.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    versionId: uuid("version_id")
      .notNull()
      .references(() => datasetVersions.id, { onDelete: "cascade" }),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.datasetId, t.name] })],
);

/** Which version each `dataset://` input of an execution resolved to when it was created. */
export const executionDatasetInputs = pgTable(
  "execution_dataset_inputs",
  {
    executionId: uuid("execution_id")
      .notNull()
      .references(() => executions.id, { onDelete: "cascade" }),
    input: text("input").notNull(),
    /** As requested (`dataset://images/latest`). */
    uri: text("uri").notNull(),
    versionId: uuid("version_id")
      .notNull()
      .references(() => datasetVersions.id, { onDelete: "cascade" }),
    resolvedAt: timestamp("resolved_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.executionId, t.input, t.versionId] }), index("execution_dataset_inputs_version").on(t.versionId)],
);

export type Dataset = typeof datasets.$inferSelect;
export type DatasetVersion = typeof datasetVersions.$inferSelect;
