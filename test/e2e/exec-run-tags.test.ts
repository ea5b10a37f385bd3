/**
 * `vh exec run --adhoc --title T --tag a --tag b` through the CLI's own `main` (its real packager)
 * against a real server: the title and tags reach the execution's record and the list; a bad tag
 * is refused, naming it, before any code is uploaded.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, waitFor, type Stack } from "../helpers/stack.js";
import { cliAgainst, tempDir, type CliResult } from "../cli/helpers.js";

const YAML = `
- step:
    name: hello
    image: python:3.12
    command: echo "hello"
`;

type Exec = { counter: number; status: string; title: string | null; tags: string[] };

describe("vh exec run --title/--tag", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  const dir = tempDir("vh-run-tags-");

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString });
    fs.writeFileSync(path.join(dir, "valohai.yaml"), YAML);
    await stack.api("POST", "/api/v1/projects", { name: "tags" });
  });

  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  const vh = (args: string[]): Promise<CliResult> => cliAgainst(stack.vh, dir)(args);

  it("sends the title and tags; they show in the record and the list", async () => {
    const bad = await vh(["exec", "run", "--adhoc", "--project", "tags", "--tag", "ok", "--tag", "not ok", "hello"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Tag "not ok" has a character a tag cannot have');
    // refused before the code went up: the server holds no snapshot
    expect(Number((await db.sql`select count(*)::int as n from code_snapshots`)[0]!.n)).toBe(0);

    const run = await vh(["exec", "run", "--adhoc", "--project", "tags", "--title", "first try", "--tag", "nightly", "--tag", "team:data", "hello"]);
    expect(run.code, run.stderr).toBe(0);
    const e = await waitFor("the execution to end", async () => {
      const x = await stack.api<Exec>("GET", "/api/v1/projects/tags/executions/latest");
      return ["completed", "failed", "error"].includes(x.status) ? x : undefined;
    });
    expect(e).toMatchObject({ title: "first try", tags: ["nightly", "team:data"], status: "completed" });
    const list = await vh(["exec", "list", "--project", "tags", "--tag", "nightly"]);
    expect(list.stdout).toMatch(new RegExp(`^#${e.counter}\\s+completed\\s+hello\\s+.*\\s+nightly,team:data\\s+first try$`, "m"));
  });
});
