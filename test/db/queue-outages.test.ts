/**
 * worker/queue-outages.ts reaches into graphile-worker's retry table: this fails when an upgrade
 * moves or renames it (the queue would then stop on a Postgres restart again). That graphile's
 * queries then ride out a restart is what `npm run bench -- chaos` shows (it restarts Postgres).
 */
import { describe, expect, it } from "vitest";
import { graphileRetryTable, OUTAGE_CODES, retryQueueThroughOutages } from "../../worker/queue-outages.js";

describe("the queue's retries through a database outage", () => {
  it("adds the restart and refused-connection codes to graphile-worker's retry table, keeping its own", () => {
    const table = graphileRetryTable();
    expect(table, "graphile-worker/dist/lib.js no longer exports RETRYABLE_ERROR_CODES").not.toBeNull();
    expect(table!["57P03"]).toBeDefined();
    expect(retryQueueThroughOutages()).toBe(true);
    for (const code of OUTAGE_CODES) expect(table![code], code).toEqual({ minDelay: 1000, maxDelay: 30_000 });
    // graphile's own entries are left as they were
    expect(table!["40001"]).toEqual({ minDelay: 50, maxDelay: 5000 });
  });
});
