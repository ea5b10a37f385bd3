/**
 * Which environment an execution runs in, decided at creation and recorded (app/environments/resolve.ts
 * through app/executions/create.ts): asked for by name, from valohai.yaml's `environment:`, the
 * default; refused with the reason (nothing created) for a name that does not exist or more GPUs than
 * its instance type has; a Valohai slug vh does not have runs by the default, with a warning. Also
 * `GET /environments`, `/vh run … --environment=NAME` parsing and `vh exec run --environment`.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { startStack, tempDir, type Stack } from "../helpers/stack.js";
import { parseComment } from "../../app/bot/commands/parse.js";
import { splitRunArgs } from "../../app/cli/run-args.js";

const YAML = `- step:
    name: plain
    image: busybox
    command: echo plain
- step:
    name: on-gpu
    image: busybox
    command: echo gpu
    environment: gpu
- step:
    name: valohai-slug
    image: busybox
    command: echo slug
    environment: aws-eu-west-1-p3-2xlarge
`;

describe("environments at creation", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let code: string;
  const dir = tempDir("vh-env-create-");
  beforeAll(async () => {
    const envFile = path.join(dir, "environments.yaml");
    fs.writeFileSync(
      envFile,
      "environments:\n" +
        "  - name: gpu\n    provider: ec2\n    region: eu-west-1\n    instance-type: g5.xlarge\n    spot: true\n    ami: ami-0123456789abcdef0\n    max-instances: 3\n" +
        "  - name: cpu\n    provider: ec2\n    region: eu-west-1\n    instance-type: c5.large\n    ami: ami-0123456789abcdef0\n    default: true\n",
    );
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString, worker: false, env: { VH_ENVIRONMENTS_FILE: envFile } });
    await stack.api("POST", "/api/v1/projects", { name: "p" });
    const src = path.join(dir, "src");
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, "valohai.yaml"), YAML);
    code = await uploadSnapshot(stack, src);
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const create = (body: Record<string, unknown>) => stack.raw("POST", "/api/v1/projects/p/executions", JSON.stringify({ code, ...body }), { "content-type": "application/json" });
  type Shown = { environment: string | null; warnings: string[]; attempt: number; attempts: unknown[]; costUsd: number | null };

  it("records the environment asked for, the step's, or the default", async () => {
    expect((await (await create({ step: "plain", environment: "gpu" })).json()) as Shown).toMatchObject({ environment: "gpu", attempt: 1, attempts: [], costUsd: null, warnings: [] });
    expect(((await (await create({ step: "on-gpu" })).json()) as Shown).environment).toBe("gpu");
    expect(((await (await create({ step: "on-gpu", environment: "cpu" })).json()) as Shown).environment).toBe("cpu");
    expect(((await (await create({ step: "plain" })).json()) as Shown).environment).toBe("cpu");
    const slug = (await (await create({ step: "valohai-slug" })).json()) as Shown;
    expect(slug.environment).toBe("cpu");
    expect(slug.warnings).toEqual(['valohai.yaml asks for environment "aws-eu-west-1-p3-2xlarge", which this vh does not have; it runs in the default environment "cpu".']);
  });

  it("refuses an unknown environment and a request its instances can never run, creating nothing", async () => {
    const before = (await db.sql`select count(*)::int as n from executions`)[0]!.n as number;
    const unknown = await create({ step: "plain", environment: "gpu-big" });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toBe('Environment "gpu-big" does not exist. Environments: gpu, cpu.');
    const big = await create({ step: "on-gpu", gpus: 2 });
    expect(big.status).toBe(400);
    expect(((await big.json()) as { error: { message: string } }).error.message).toMatch(/^Asks for 2 GPUs, but environment "gpu" runs g5\.xlarge with 1: no host of it can ever run this\./);
    // A sweep is refused whole.
    const sweep = await stack.raw("POST", "/api/v1/projects/p/sweeps", JSON.stringify({ step: "plain", code, environment: "nope", parameters: {} }), { "content-type": "application/json" });
    expect(sweep.status).toBe(400);
    expect((await db.sql`select count(*)::int as n from executions`)[0]!.n).toBe(before);
  });

  it("lists environments with their types, prices, queue and cost", async () => {
    const { results } = await stack.api<{ results: { name: string; default: boolean; spot: boolean; maxPrice: number | null; instanceTypes: { name: string; gpus: number; onDemandPerHour: number }[]; queued: number; instances: unknown[]; costUsd: number }[] }>("GET", "/api/v1/environments");
    expect(results.map((r) => [r.name, r.default, r.spot, r.maxPrice])).toEqual([
      ["gpu", false, true, 1.006],
      ["cpu", true, false, null],
    ]);
    expect(results[0]!.instanceTypes).toEqual([{ name: "g5.xlarge", gpus: 1, gpuModel: "NVIDIA A10G", vcpus: 4, memoryGiB: 16, onDemandPerHour: 1.006 }]);
    expect(results.find((r) => r.name === "gpu")!.queued).toBe(2);
    expect(results[0]!.costUsd).toBe(0);
    const missing = await stack.raw("GET", "/api/v1/environments/nope");
    expect(missing.status).toBe(404);
  });
});

describe("--environment in commands", () => {
  it("/vh run takes --environment NAME and refuses a bad name", () => {
    expect(parseComment("/vh run train lr=0.1 --environment=gpu-spot")).toMatchObject({ kind: "command", command: { name: "run", step: "train", options: { environment: "gpu-spot" } } });
    expect(parseComment("/vh run train --environment gpu")).toMatchObject({ kind: "command", command: { options: { environment: "gpu" } } });
    const bad = parseComment("/vh run train --environment=../x");
    expect(bad).toMatchObject({ kind: "reply" });
    expect((bad as { error: string }).error).toContain("`--environment` takes an environment's name");
  });
  it("vh exec run reads --environment before the step's options", () => {
    expect(splitRunArgs(["--environment", "gpu", "train", "--lr=1"], () => "value").fixed.environment).toBe("gpu");
  });
});
