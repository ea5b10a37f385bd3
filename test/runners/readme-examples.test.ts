/**
 * The README's Model Hub example runs as written on a machine without Docker (plain processes):
 * its training snippet writes `/valohai/outputs/model.bin.metadata.json` literally, and its
 * inference step reads `model://churn/latest` at `/valohai/inputs/model/`. The snippets are taken
 * from README.md itself, so the README cannot drift from what runs. The record says what ran:
 * a plain process, the step's image not used, and /valohai given to the job (or why not).
 *
 * Where vh cannot give a plain process its own /valohai (not root, or the kernel refuses a mount
 * namespace), the training fails, and its reason says why and what to do.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { repoRoot } from "../helpers/server-process.js";
import { startStack, tempDir, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { buildValohaiProbeScript, parseValohaiProbe } from "../../worker/runners/shared/valohai-view.js";

/** The first ```LANG block of the README's section `## TITLE`. */
function readmeBlock(title: string, lang: string): string {
  const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8");
  const section = readme.split(/^## /m).find((s) => s.startsWith(`${title}\n`));
  const block = section && new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(section);
  if (!block) throw new Error(`README.md has no \`\`\`${lang} block under "## ${title}"`);
  return block[1]!;
}

type Exec = {
  id: string;
  counter: number;
  status: string;
  statusDetail: string | null;
  image: string;
  runtime: { mode: string; image: { name: string; used: boolean; note?: string }; valohai: { provided: boolean; how?: string; reason?: string } } | null;
};

describe("the README's Model Hub example, as plain processes", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let code: string;
  let canMount = false;
  const project = tempDir("vh-readme-");

  beforeAll(async () => {
    const isRoot = process.getuid?.() === 0;
    canMount = isRoot && parseValohaiProbe(execFileSync("/bin/sh", ["-c", buildValohaiProbeScript()], { encoding: "utf8" })).provided;
    // The training script: a model file, then the README's lines as they are.
    const snippet = readmeBlock("Model Hub", "python");
    expect(snippet).toContain('open("/valohai/outputs/model.bin.metadata.json", "w")');
    fs.writeFileSync(
      path.join(project, "train.py"),
      `import json\nwith open("/valohai/outputs/model.bin", "wb") as f:\n    f.write(b"churn-weights")\n${snippet}`,
    );
    // The README's inference step, given the command it leaves out, beside a training step.
    const steps = YAML.parse(readmeBlock("Model Hub", "yaml")) as { step: Record<string, unknown> }[];
    const infer = steps.find((s) => s.step["name"] === "infer")!;
    expect(infer.step["inputs"]).toEqual([{ name: "model", default: "model://churn/latest" }]);
    infer.step["image"] = "python:3.12";
    infer.step["command"] = "python3 infer.py";
    fs.writeFileSync(
      path.join(project, "infer.py"),
      [
        "import json",
        'files = json.load(open("/valohai/config/inputs.json"))["model"]["files"]',
        'print("model at", files[0]["path"])',
        'weights = open("/valohai/inputs/model/model.bin", "rb").read()',
        'open("/valohai/outputs/predictions.txt", "w").write("predicted with %d bytes\\n" % len(weights))',
        "",
      ].join("\n"),
    );
    fs.writeFileSync(path.join(project, "valohai.yaml"), YAML.stringify([{ step: { name: "train", image: "python:3.12", command: "python3 train.py" } }, infer]));
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString });
    await stack.api("POST", "/api/v1/projects", { name: "churn" });
    code = await uploadSnapshot(stack, project);
  });

  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
    fs.rmSync(project, { recursive: true, force: true });
  });

  const run = async (step: string) => {
    const e = await stack.api<Exec>("POST", "/api/v1/projects/churn/executions", { step, code });
    return waitFor(`#${e.counter} (${step}) to end`, async () => {
      const x = await stack.api<Exec>("GET", `/api/v1/projects/churn/executions/${e.counter}`);
      return ["completed", "failed", "error", "stopped"].includes(x.status) ? x : undefined;
    }, 60_000);
  };

  it("trains a pending version, which, approved, the inference step reads at /valohai/inputs/model", async (ctx) => {
    if (!canMount) ctx.skip(); // covered by the next test
    const trained = await run("train");
    expect(trained.status, trained.statusDetail ?? "").toBe("completed");
    // What ran: the host's python3, not the image; the job had its own /valohai.
    expect(trained.runtime).toMatchObject({
      mode: "process",
      image: { name: "python:3.12", used: false, note: expect.stringMatching(/^not used: VH_DOCKER=never, so the step ran as a plain process with .+'s own programs$/) },
      valohai: { provided: true, how: "mount-namespace" },
    });
    const model = await stack.api<{ results: { number: number; status: string }[] }>("GET", "/api/v1/models/churn");
    expect(model.results.map((v) => [v.number, v.status])).toEqual([[1, "pending"]]);
    await stack.api("POST", "/api/v1/models/churn/versions/1/approve", {});

    const inferred = await run("infer");
    expect(inferred.status, inferred.statusDetail ?? "").toBe("completed");
    const logs = await stack.api<{ lines: { line: string }[] }>("GET", `/api/v1/projects/churn/executions/${inferred.counter}/logs`);
    expect(logs.lines.map((l) => l.line)).toContain("model at /valohai/inputs/model/model.bin");
    const outputs = await stack.api<{ results: { name?: string; path?: string }[] }>("GET", `/api/v1/projects/churn/executions/${inferred.counter}/outputs`);
    expect(JSON.stringify(outputs)).toContain("predictions.txt");
  }, 120_000);

  it("without a /valohai of its own, the training fails with a reason that names the fix", async (ctx) => {
    if (canMount) ctx.skip(); // vh can give one here: the test above runs instead
    const trained = await run("train");
    expect(trained.status).toBe("failed");
    expect(trained.runtime?.valohai.provided).toBe(false);
    expect(trained.statusDetail).toMatch(/^The command exited with code 1\. Its errors name \/valohai\/… paths, which vh could not provide for this plain process: .+\. Run vh as root .*run the step in Docker, or read VH_REPOSITORY_DIR, VH_INPUTS_DIR, VH_OUTPUTS_DIR and VH_CONFIG_DIR/);
  }, 120_000);
});
