/** The Model Hub's REST API and `vh model …` commands against a real server (no worker needed). */
import { createHash, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, type Stack } from "../helpers/stack.js";
import { runCli, tempDir } from "../cli/helpers.js";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

describe("vh model (CLI and REST API)", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  const datums: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, worker: false });
    const [p] = await db.sql<{ id: string }[]>`insert into projects (name) values ('cli') returning id`;
    for (const content of ["w1", "w2"]) {
      const id = randomUUID();
      await db.sql`insert into datums (id, project_id, name, size, sha256, store_key) values (${id}, ${p!.id}, ${`${content}.bin`}, 2, ${sha(content)}, ${`data/${id}`})`;
      datums.push(id);
    }
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  const cli = (...args: string[]) => runCli([...args, "--url", stack.vh.url, "--token", stack.vh.token], { cwd: tempDir() });

  it("registers, approves, rejects with reasons, and refuses clearly", async () => {
    const made = await cli("model", "register", "cli-model", "--file", `datum://${datums[0]}`, "--description", "first", "--tag", "a");
    expect(made.code, made.stderr).toBe(0);
    expect(made.stderr).toMatch(/^Created model:\/\/cli-model\/v1 \(pending\) with 1 file\(s\), digest [0-9a-f]{12}\.\n$/);
    expect((await cli("model", "register", "cli-model", "--file", `datum://${datums[1]}`)).code).toBe(0);

    const wrong = await cli("model", "approve", "model://cli-model/v1", "--files-sha256", "0".repeat(64));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/error: The files of model:\/\/cli-model\/v1 changed since they were reviewed \(reviewed 000000000000, now [0-9a-f]{12}\)/);

    const noReason = await cli("model", "reject", "model://cli-model/v2");
    expect(noReason.code).toBe(1);
    expect(noReason.stderr).toContain("error: Rejecting model://cli-model/v2 needs a reason");

    const v1 = await stack.api<{ filesSha256: string }>("GET", "/api/v1/models/cli-model/versions/1");
    const ok = await cli("model", "approve", "model://cli-model/v1", "--files-sha256", v1.filesSha256);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toBe(`model://cli-model/v1 is now approved (files ${v1.filesSha256.slice(0, 12)}).\n`);
    expect((await cli("model", "approve", "model://cli-model/v1")).stderr).toBe("model://cli-model/v1 was already approved.\n");
    expect((await cli("model", "reject", "model://cli-model/v2", "worse", "than", "v1")).code).toBe(0);

    const latest = await cli("model", "latest", "cli-model");
    expect(latest.stdout).toBe("model://cli-model/v1\n");
    const show = await cli("model", "show", "model://cli-model/latest");
    expect(show.stdout).toContain("Version:  model://cli-model/v1 (latest)");
    expect(show.stdout).toContain("Status:   approved by ");
    const v2 = await cli("model", "show", "model://cli-model/v2", "--json");
    expect(JSON.parse(v2.stdout)).toMatchObject({ status: "rejected", statusReason: "worse than v1" });

    // the trail: actor = the token's name, source = cli; refusals included
    const events = await stack.api<{ results: { kind: string; source: string; version: string | null; reason: string | null }[] }>("GET", "/api/v1/models/cli-model/events");
    expect(events.results.map((e) => `${e.kind}:${e.version ?? "-"}`)).toEqual([
      "created:model://cli-model/v1",
      "created:model://cli-model/v2",
      "refused:model://cli-model/v1",
      "refused:model://cli-model/v2",
      "approved:model://cli-model/v1",
      "alias_changed:-",
      "rejected:model://cli-model/v2",
    ]);
    expect(new Set(events.results.map((e) => e.source))).toEqual(new Set(["cli"]));

    // API: status codes of refusals, unknown models and versions, bad URIs
    const r1 = await stack.raw("POST", "/api/v1/models/cli-model/versions/v2/approve", "{}", { "content-type": "application/json" });
    expect(r1.status).toBe(409);
    expect(((await r1.json()) as { error: { message: string } }).error.message).toMatch(/is rejected; only an explicit reset/);
    expect((await stack.raw("GET", "/api/v1/models/nope/versions/v1")).status).toBe(404);
    const missing = await stack.raw("GET", "/api/v1/models/cli-model/versions/v9");
    expect(((await missing.json()) as { error: { message: string } }).error.message).toBe("model://cli-model/v9 does not exist: model \"cli-model\" has 2 version(s).");
    const badUri = await cli("lineage", "model://cli-model/nine");
    expect(badUri.stderr).toContain('"model://cli-model/nine": the version must be vN (e.g. v3) or latest.');

    const list = await cli("model", "list", "--json");
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ name: "cli-model", versions: 2, latest: "model://cli-model/v1", pending: 0 })]);
    const reset = await cli("model", "reset", "model://cli-model/v2", "new", "evidence");
    expect(reset.stderr).toBe("model://cli-model/v2 is now pending (files " + sha(`${sha("w2")}  w2.bin\n`).slice(0, 12) + ").\n");

    const mermaid = await cli("lineage", "model://cli-model/v1", "--mermaid");
    expect(mermaid.stdout).toContain("flowchart LR");
  });
});
