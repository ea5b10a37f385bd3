import { bigint, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** Content-addressed code snapshots (ad-hoc tarballs; later git commits fetched from the forge). */
export const codeSnapshots = pgTable("code_snapshots", {
  sha256: text("sha256").primaryKey(),
  size: bigint("size", { mode: "number" }).notNull(),
  storeKey: text("store_key").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export type CodeSnapshot = typeof codeSnapshots.$inferSelect;
