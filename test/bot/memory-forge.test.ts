/**
 * The in-memory forge (test/helpers/memory-forge.ts) keeps the Forge contract the way the GitHub
 * forge does: file reads and the tarball agree, unknown things fail with the real forge's errors,
 * `ensure*` calls are idempotent, and every write is recorded. The bot and task tests rely on it.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Parser, type ReadEntry } from "tar";
import { describe, expect, it } from "vitest";
import type { Actor, Annotation, CheckRunSpec, Forge } from "../../app/contracts/forge.js";
import { ForgeError } from "../../app/errors.js";
import { createMemoryForge } from "../helpers/memory-forge.js";

const alice: Actor = { login: "alice", id: 11, isBot: false };
const NOT_FOUND_HINT = "Not found, or not visible to the App: is the App installed on this repository?";

async function entries(archive: Buffer): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  const parser = new Parser({
    onReadEntry: (e: ReadEntry) => {
      if (e.type !== "File") {
        out.set(e.path, null);
        e.resume();
        return;
      }
      const chunks: Buffer[] = [];
      e.on("data", (c: Buffer) => chunks.push(c));
      e.on("end", () => out.set(e.path, Buffer.concat(chunks).toString("utf8")));
    },
  });
  await pipeline(Readable.from([archive]), parser);
  return out;
}

async function failure(p: Promise<unknown>): Promise<ForgeError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ForgeError);
  return err as ForgeError;
}

function setup() {
  const world = createMemoryForge();
  const repo = world.addRepo("acme/widgets", { id: 4242, installationId: 77 });
  const sha = repo.commit({ "valohai.yaml": "- step: {name: a, image: x, command: 'true'}\n", "src/train.py": "print(1)\n" });
  repo.openPullRequest({ number: 7, headSha: sha, author: alice });
  return { world, repo, sha };
}

const spec = (sha: string, over: Partial<CheckRunSpec> = {}): CheckRunSpec => ({ sha, name: "vh", externalId: "ext-1", status: "queued", title: "T", summary: "S", ...over });

describe("memory forge", () => {
  it("serves the same tree through readFile and the tarball, under GitHub's one top-level folder", async () => {
    const { world, repo, sha } = setup();
    const forge = await world.provider.forInstallation(77);
    expect(await forge.readFile(repo.ref, sha, "src/train.py")).toBe("print(1)\n");
    expect(await forge.readFile(repo.ref, sha, "missing.txt")).toBe(null);
    expect((await failure(forge.readFile(repo.ref, sha, "src"))).message).toBe(`GitHub: src at ${sha.slice(0, 7)} is not a file.`);
    const archive = await forge.downloadArchive(repo.ref, sha, 1 << 20);
    expect([...(await entries(archive))]).toEqual([
      [`acme-widgets-${sha.slice(0, 7)}/`, null],
      [`acme-widgets-${sha.slice(0, 7)}/src/`, null],
      [`acme-widgets-${sha.slice(0, 7)}/src/train.py`, "print(1)\n"],
      [`acme-widgets-${sha.slice(0, 7)}/valohai.yaml`, "- step: {name: a, image: x, command: 'true'}\n"],
    ]);
    expect((await forge.downloadArchive(repo.ref, sha, 1 << 20)).equals(archive)).toBe(true);
    expect((await failure(forge.downloadArchive(repo.ref, sha, 10))).message).toBe(
      `The repository at ${sha.slice(0, 7)} is 0 MiB, over the 0 MiB limit (VH_MAX_CODE_MB).`,
    );
    expect(world.writes).toEqual([]);
  });

  it("fails on unknown repositories, pull requests, commits, comments and installations as the GitHub forge does", async () => {
    const { world, repo, sha } = setup();
    const other = world.addRepo("acme/other", { installationId: 78 });
    const forge = await world.provider.forInstallation(77);
    const ghost = { ...repo.ref, owner: "acme", name: "ghost", fullName: "acme/ghost" };
    const zero = "0".repeat(40);

    const pr = await failure(forge.getPullRequest(repo.ref, 99));
    expect([pr.status, pr.message]).toEqual([404, `GitHub: reading pull request #99 failed (HTTP 404): Not Found. ${NOT_FOUND_HINT}`]);
    expect((await failure(forge.getPullRequest(ghost, 7))).status).toBe(404);
    // Another installation's repository is not visible to this one.
    expect((await failure(forge.getPullRequest(other.ref, 1))).status).toBe(404);
    expect((await failure(forge.downloadArchive(repo.ref, zero, 1 << 20))).message).toBe(
      `GitHub: downloading the tarball of 0000000 failed (HTTP 404): Not Found. ${NOT_FOUND_HINT}`,
    );
    // A 404 on a read the real forge turns into "nothing".
    expect(await forge.readFile(repo.ref, zero, "valohai.yaml")).toBe(null);
    expect(await forge.getPermission(repo.ref, "stranger")).toBe("none");
    expect(await forge.getPermission(ghost, "alice")).toBe("none");
    expect((await failure(forge.createComment(repo.ref, 8, "hi"))).message).toBe(`GitHub: commenting on #8 failed (HTTP 404): Not Found. ${NOT_FOUND_HINT}`);
    expect((await failure(forge.addReaction(repo.ref, { pr: 7, commentId: 123 }, "eyes"))).message).toBe(`GitHub: adding a reaction failed (HTTP 404): Not Found. ${NOT_FOUND_HINT}`);
    const check = await failure(forge.ensureCheckRun({ repo: repo.ref, spec: spec(zero) }));
    expect([check.status, check.message]).toEqual([422, `GitHub: listing check runs failed (HTTP 422): No commit found for SHA: ${zero}.`]);
    const auth = await failure(world.provider.forInstallation(5));
    expect(auth.message).toBe(`GitHub: authenticating as installation 5 failed (HTTP 404): Not Found. ${NOT_FOUND_HINT}`);
    repo.breakCommit(sha, 503);
    expect((await failure(forge.readFile(repo.ref, sha, "valohai.yaml"))).status).toBe(503);
    expect((await failure(forge.downloadArchive(repo.ref, sha, 1 << 20))).status).toBe(503);
    expect(world.writes).toEqual([]);
    expect(world.authentications).toEqual([77, 5]);
  });

  it("ensureComment and ensureCheckRun find vh's earlier output; every write is recorded in order", async () => {
    const { world, repo, sha } = setup();
    const forge = await world.provider.forInstallation(77);
    const said = repo.say(7, alice, "/vh help");
    await forge.addReaction(repo.ref, { pr: 7, commentId: said.id }, "eyes");
    const marker = "<!-- m -->";
    const a = await forge.ensureComment({ repo: repo.ref, pr: 7, marker, body: `${marker} one` });
    expect(a.action).toBe("created");
    expect(await forge.ensureComment({ repo: repo.ref, pr: 7, marker, body: `${marker} one` })).toEqual({ id: a.id, action: "unchanged" });
    expect(await forge.ensureComment({ repo: repo.ref, pr: 7, marker, body: `${marker} two` })).toEqual({ id: a.id, action: "updated" });
    expect(await forge.ensureComment({ repo: repo.ref, pr: 7, marker, body: `${marker} three`, knownId: a.id })).toEqual({ id: a.id, action: "updated" });
    expect((await failure(forge.ensureComment({ repo: repo.ref, pr: 7, marker, body: "no marker" }))).message).toBe("ensureComment: the body must contain its marker.");
    expect(world.comments("acme/widgets", 7).map((c) => [c.author.login, c.body])).toEqual([["alice", "/vh help"], ["vh[bot]", `${marker} three`]]);

    const annotations: Annotation[] = Array.from({ length: 120 }, (_, i) => ({ path: "valohai.yaml", line: i + 1, level: "warning", message: `w${i}` }));
    const run = await forge.ensureCheckRun({ repo: repo.ref, spec: spec(sha), annotations });
    expect(run.action).toBe("created");
    expect(await forge.ensureCheckRun({ repo: repo.ref, spec: spec(sha, { status: "completed", conclusion: "success", title: "Done" }) })).toEqual({ id: run.id, action: "updated" });
    expect(world.checkRuns("acme/widgets", sha).map((r) => [r.id, r.spec.status, r.spec.conclusion, r.spec.title, r.annotations.length])).toEqual([
      [run.id, "completed", "success", "Done", 120],
    ]);
    const tooLong = { label: "A label over twenty chars", description: "d", identifier: "x" };
    expect((await failure(forge.ensureCheckRun({ repo: repo.ref, spec: spec(sha, { externalId: "ext-2", actions: [tooLong] }) }))).status).toBe(422);

    expect(world.writes.map((w) => (w.kind.startsWith("check_run") ? `${w.kind}:${"annotations" in w ? w.annotations.length : 0}` : w.kind))).toEqual([
      "reaction",
      "comment_created",
      "comment_edited",
      "comment_edited",
      "check_run_created:50",
      "check_run_annotated:50",
      "check_run_annotated:20",
      "check_run_updated:0",
    ]);
  });
});
