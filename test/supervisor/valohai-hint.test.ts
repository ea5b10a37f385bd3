/**
 * A plain process that had no /valohai of its own (here: the local runner's mount point is not a
 * folder, as where vh is not root or the kernel refuses the mount) and failed on a hard-coded
 * /valohai path: the supervisor's reason for `failed` says why the path was missing and what to
 * do, and the record says the view was not provided. A failure that has nothing to do with
 * /valohai gets no such hint.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalRunner } from "../../worker/runners/local/runner.js";
import { localIsolation } from "../../worker/runners/registry.js";
import { createTestDatabase } from "../helpers/db.js";
import { tempDir, waitFor } from "../helpers/stack.js";
import { tarball } from "../helpers/snapshot.js";
import { startVhWithRunner, type VhWithRunner } from "../helpers/vh-with-runner.js";

describe("a plain process without /valohai that fails on it", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let vh: VhWithRunner;
  const dir = tempDir("vh-hint-");
  const notAFolder = path.join(dir, "valohai");
  const project = path.join(dir, "project");

  beforeAll(async () => {
    fs.writeFileSync(notAFolder, "");
    db = await createTestDatabase();
    vh = await startVhWithRunner({
      databaseUrl: db.connectionString,
      dir,
      local: (_real, { config, store, registry }) =>
        createLocalRunner({
          workRoot: path.join(dir, "runs"),
          cacheRoot: path.join(dir, "cache"),
          store,
          docker: "never",
          hostName: registry.localHostName,
          isolation: localIsolation(config),
          valohaiRoot: notAFolder,
        }),
    });
    fs.mkdirSync(project);
    fs.writeFileSync(
      path.join(project, "valohai.yaml"),
      [
        "- step: { name: hardcoded, image: python:3.12, command: python3 train.py }",
        "- step: { name: other, image: python:3.12, command: 'echo no such thing >&2; exit 4' }",
        "",
      ].join("\n"),
    );
    fs.writeFileSync(path.join(project, "train.py"), 'open("/valohai/outputs/model.bin", "wb").write(b"x")\n');
  });

  afterAll(async () => {
    await vh?.stop();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const api = <T>(method: string, p: string, body?: unknown, raw?: Buffer) => vh.api<T>(method, p, body, raw);

  it("names the reason and the fix for the hard-coded path, and nothing for another failure", async () => {
    await api("POST", "/api/v1/projects", { name: "hint" });
    const snap = await tarball(project);
    await api("PUT", `/api/v1/code/${snap.sha256}`, undefined, snap.body);
    type Exec = { counter: number; status: string; statusDetail: string | null; runtime: { valohai: unknown } | null };
    const run = async (step: string) => {
      const e = await api<Exec>("POST", "/api/v1/projects/hint/executions", { step, code: snap.sha256 });
      return waitFor(`${step} to end`, async () => {
        const x = await api<Exec>("GET", `/api/v1/projects/hint/executions/${e.counter}`);
        return ["completed", "failed", "error"].includes(x.status) ? x : undefined;
      }, 60_000);
    };
    const why = process.getuid?.() === 0 ? `${notAFolder} exists on this host and is not a folder` : /not root/;
    const hard = await run("hardcoded");
    expect(hard.status).toBe("failed");
    expect(hard.runtime?.valohai).toEqual({ provided: false, reason: why instanceof RegExp ? expect.stringMatching(why) : why });
    expect(hard.statusDetail).toContain("The command exited with code 1. Its errors name /valohai/… paths, which vh could not provide for this plain process: ");
    expect(hard.statusDetail).toMatch(/Run vh as root \(each job then sees its own \/valohai\), run the step in Docker, or read VH_REPOSITORY_DIR, VH_INPUTS_DIR, VH_OUTPUTS_DIR and VH_CONFIG_DIR/);
    if (typeof why === "string") expect(hard.statusDetail).toContain(why);

    const other = await run("other");
    expect(other.status).toBe("failed");
    expect(other.statusDetail).toBe("The command exited with code 4.");
  }, 120_000);
});
