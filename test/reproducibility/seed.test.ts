/**
 * The seed end to end, through the CLI's own `main` (its real packager) against a whole vh (REST
 * API, worker, local runner running real processes): `vh exec run STEP --seed 42` gives the step
 * VH_SEED=42 and the record says seed 42 (runtime.seed and the reproducibility summary); a step's
 * `seed` parameter set through the API is the recorded seed; `--seed random` picks one, says it on
 * stderr, and the step gets that one; `--seed 1 --var VH_SEED=2` is refused (exit 2) before
 * anything is created.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { cliAgainst, tempDir, type CliResult } from "../cli/helpers.js";

const YAML = `
- step:
    name: echo-seed
    image: python:3.12
    command: echo "VH_SEED=\${VH_SEED:-unset}"
- step:
    name: param-seed
    image: python:3.12
    command: echo "VH_SEED=\${VH_SEED:-unset}" {parameters}
    parameters:
      - name: seed
        type: integer
        default: 1
`;

type Exec = {
  counter: number;
  status: string;
  statusDetail: string | null;
  parameters: Record<string, unknown>;
  environmentVariables: Record<string, string>;
  runtime: { seed: { env: string | null; parameter: unknown } | null } | null;
  reproducibility: { seed: string | null };
};

describe("the seed, from vh exec run --seed to the step and the record", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  const dir = tempDir("vh-seed-");

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString });
    fs.writeFileSync(path.join(dir, "valohai.yaml"), YAML);
    await stack.api("POST", "/api/v1/projects", { name: "seeds" });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  const vh = (args: string[]): Promise<CliResult> => cliAgainst(stack.vh, dir)(args);
  const get = (n: number) => stack.api<Exec>("GET", `/api/v1/projects/seeds/executions/${n}`);
  const until = async (n: number) => {
    const e = await waitFor(`execution #${n} to end`, async () => {
      const x = await get(n);
      return ["completed", "failed", "error", "stopped"].includes(x.status) ? x : undefined;
    }, 60_000);
    const lines = (await stack.api<{ lines: { stream: string; line: string }[] }>("GET", `/api/v1/projects/seeds/executions/${n}/logs`)).lines;
    const stdout = lines.filter((l) => l.stream === "stdout").map((l) => l.line);
    expect(e.status, `${e.statusDetail ?? ""}\n${lines.map((l) => l.line).join("\n")}`).toBe("completed");
    return { e, stdout };
  };
  /** `vh exec run …`, exit 0; the new execution's number, from what it says on stderr. */
  const run = async (args: string[]) => {
    const r = await vh(["exec", "run", "--adhoc", "--project", "seeds", ...args]);
    expect(r.code, r.stderr).toBe(0);
    const m = /Execution #(\d+) started/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    return { counter: Number(m![1]), stderr: r.stderr };
  };
  const count = async () => (await stack.api<{ results: unknown[] }>("GET", "/api/v1/projects/seeds/executions")).results.length;

  it("--seed 42: the step sees VH_SEED=42, and the record says seed 42", async () => {
    const { counter } = await run(["echo-seed", "--seed", "42"]);
    const { e, stdout } = await until(counter);
    expect(stdout).toEqual(["VH_SEED=42"]);
    expect(e.environmentVariables["VH_SEED"]).toBe("42");
    expect(e.runtime?.seed).toEqual({ env: "42", parameter: null });
    expect(e.reproducibility.seed).toBe("42");

    // Without --seed, none is set nor recorded.
    const plain = await run(["echo-seed"]);
    const none = await until(plain.counter);
    expect(none.stdout).toEqual(["VH_SEED=unset"]);
    expect(none.e.runtime?.seed).toBeNull();
    expect(none.e.reproducibility.seed).toBeNull();
  }, 60_000);

  it("a step's seed parameter, set through the API, is the seed recorded", async () => {
    const code = await uploadSnapshot(stack, dir);
    const created = await stack.api<Exec>("POST", "/api/v1/projects/seeds/executions", { code, step: "param-seed", parameters: { seed: 7 } });
    const { e, stdout } = await until(created.counter);
    expect(stdout).toEqual(["VH_SEED=unset --seed=7"]);
    expect(e.parameters).toEqual({ seed: 7 });
    expect(e.runtime?.seed).toEqual({ env: null, parameter: 7 });
    expect(e.reproducibility.seed).toBe("7");
  }, 60_000);

  it("--seed random picks one, says it on stderr, and the step gets that one", async () => {
    const { counter, stderr } = await run(["echo-seed", "--seed", "random"]);
    const m = /^seed: (\d+) \(VH_SEED; repeat the run with --seed (\d+)\)$/m.exec(stderr);
    expect(m, stderr).not.toBeNull();
    const seed = m![1]!;
    expect(m![2]).toBe(seed);
    expect(Number(seed)).toBeLessThanOrEqual(2 ** 32 - 1);
    const { e, stdout } = await until(counter);
    expect(stdout).toEqual([`VH_SEED=${seed}`]);
    expect(e.runtime?.seed).toEqual({ env: seed, parameter: null });
    expect(e.reproducibility.seed).toBe(seed);
  }, 60_000);

  it("--seed 1 --var VH_SEED=2 is refused with exit 2, and nothing is created", async () => {
    const before = await count();
    const snapshots = (await db.sql<{ n: number }[]>`select count(*)::int as n from code_snapshots`)[0]!.n;
    expect(before).toBeGreaterThan(0);
    const r = await vh(["exec", "run", "--adhoc", "--project", "seeds", "echo-seed", "--seed", "1", "--var", "VH_SEED=2"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--seed 1 and --var VH_SEED=2 disagree: give the seed once (--seed sets VH_SEED).");
    expect(await count()).toBe(before);
    expect((await db.sql<{ n: number }[]>`select count(*)::int as n from code_snapshots`)[0]!.n).toBe(snapshots);
    // The same seed twice agrees, and runs.
    const same = await run(["echo-seed", "--seed", "3", "--var", "VH_SEED=3"]);
    expect(same.counter).toBe(before + 1);
    expect((await until(same.counter)).stdout).toEqual(["VH_SEED=3"]);
  }, 60_000);
});
