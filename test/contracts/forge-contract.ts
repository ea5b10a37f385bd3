/**
 * The one contract every forge meets (app/contracts/forge.ts), run against each forge by a
 * `*.contract.test.ts` beside this file with a harness that builds the forge on its own ground:
 * the in-memory forge, GitHub and GitLab faked strictly at the HTTP layer (an unmatched request
 * fails), a real Git server for plain Git. The suite checks the core every forge has, and each
 * optional capability the forge claims (found by the same type guards the reporting layer uses).
 */
import { gunzipSync } from "node:zlib";
import { describe, expect, it, beforeAll, afterAll } from "vitest";
import { hasCheckRuns, hasComments, hasCommitStatuses, type Forge, type Permission, type RepoRef } from "../../app/contracts/forge.js";

export const CONTRACT_FILES: Record<string, string> = {
  "valohai.yaml": "- step:\n    name: train\n    image: python:3.12\n    command: python train.py {parameters}\n    parameters:\n      - name: lr\n        type: float\n        default: 0.1\n",
  "train.py": "print('hello')\n",
};

export interface ContractWorld {
  forge: Forge;
  repo: RepoRef;
  /** A commit whose tree is exactly CONTRACT_FILES. */
  sha: string;
  /** The default branch; its tip is `sha`. */
  branch: string;
  /** A login with write (or higher) access, and one with none or read, on the repository. */
  writer: string;
  outsider: string;
  /** A pull request whose head is `sha` (absent on a forge without them). */
  pr?: { number: number };
  /** Capabilities the forge must claim: the suite fails when it claims fewer or more. */
  capabilities: { comments: boolean; checkRuns: boolean; commitStatuses: boolean };
  /** Called after each capability write, for harnesses that check the requests were all used. */
  done?(): Promise<void> | void;
  close(): Promise<void>;
}

export interface ForgeHarness {
  name: string;
  /** Builds a fresh world; harnesses backed by HTTP fakes set up exactly the requests each check below makes, in order. */
  setup(): Promise<ContractWorld>;
}

const RUNS: readonly Permission[] = ["admin", "maintain", "write"];

/** Paths in a gzipped tar (ustar names; the prefix field joined). */
export function tarPaths(gz: Buffer): string[] {
  const tar = gunzipSync(gz);
  const out: string[] = [];
  let off = 0;
  let longName: string | null = null;
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const name = h.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
    const prefix = h.subarray(345, 500).toString("utf8").replace(/\0.*$/s, "");
    const size = parseInt(h.subarray(124, 136).toString("utf8").replace(/\0.*$/s, "").trim() || "0", 8);
    const type = String.fromCharCode(h[156]!);
    const body = tar.subarray(off + 512, off + 512 + size);
    if (type === "L") longName = body.toString("utf8").replace(/\0.*$/s, "");
    else if (type === "0" || type === "\0") {
      out.push(longName ?? (prefix ? `${prefix}/${name}` : name));
      longName = null;
    } else if (type !== "x" && type !== "g") longName = null;
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

export function forgeContract(h: ForgeHarness): void {
  describe(`forge contract: ${h.name}`, () => {
    let w: ContractWorld;
    beforeAll(async () => {
      w = await h.setup();
    }, 60_000);
    afterAll(async () => {
      await w?.close();
    });

    it("reads a file at a commit, and null for one the commit lacks", async () => {
      expect(await w.forge.readFile(w.repo, w.sha, "valohai.yaml")).toBe(CONTRACT_FILES["valohai.yaml"]);
      expect(await w.forge.readFile(w.repo, w.sha, "no/such/file.txt")).toBeNull();
    });

    it("downloads the commit's archive: a gzipped tarball of exactly its files, under one top folder", async () => {
      const paths = tarPaths(await w.forge.downloadArchive(w.repo, w.sha, 10 * 1024 * 1024));
      const tops = new Set(paths.map((p) => p.split("/")[0]));
      expect(tops.size).toBe(1);
      expect(paths.every((p) => p.includes("/"))).toBe(true);
      const files = paths.map((p) => p.split("/").slice(1).join("/")).filter((p) => p !== "").sort();
      expect(files).toEqual(Object.keys(CONTRACT_FILES).sort());
    });

    it("resolves a branch, HEAD (the default branch) and a sha to the commit, and nothing to null", async () => {
      expect(await w.forge.resolveCommit(w.repo, w.branch)).toBe(w.sha);
      expect(await w.forge.resolveCommit(w.repo, "HEAD")).toBe(w.sha);
      expect(await w.forge.resolveCommit(w.repo, w.sha)).toBe(w.sha);
      expect(await w.forge.resolveCommit(w.repo, "no-such-branch-anywhere")).toBeNull();
    });

    it("says who may run code: a writer may, an outsider may not", async () => {
      expect(RUNS).toContain(await w.forge.getPermission(w.repo, w.writer));
      expect(RUNS).not.toContain(await w.forge.getPermission(w.repo, w.outsider));
    });

    it("gives a pull request's head, when the forge has them", async () => {
      if (!w.pr) return;
      const pr = await w.forge.getPullRequest(w.repo, w.pr.number);
      expect(pr.number).toBe(w.pr.number);
      expect(pr.headSha).toBe(w.sha);
      expect(pr.isFork).toBe(false);
    });

    it("claims exactly its capabilities", () => {
      expect({ comments: hasComments(w.forge), checkRuns: hasCheckRuns(w.forge), commitStatuses: hasCommitStatuses(w.forge) }).toEqual(w.capabilities);
    });

    it("keeps one sticky comment: created, then unchanged for the same body, then edited in place", async () => {
      if (!hasComments(w.forge) || !w.pr) return;
      const marker = "<!-- vh:contract -->";
      const a = await w.forge.ensureComment({ repo: w.repo, pr: w.pr.number, marker, body: `${marker}\none` });
      expect(a.action).toBe("created");
      // With a known id a forge may write without reading first (the caller compares bodies itself).
      const b = await w.forge.ensureComment({ repo: w.repo, pr: w.pr.number, marker, body: `${marker}\none`, knownId: a.id });
      expect(b.id).toBe(a.id);
      expect(["unchanged", "updated"]).toContain(b.action);
      const c = await w.forge.ensureComment({ repo: w.repo, pr: w.pr.number, marker, body: `${marker}\ntwo` });
      expect(c).toEqual({ id: a.id, action: "updated" });
      await w.done?.();
    });

    it("sets a commit status once per state, when the forge has them", async () => {
      if (!hasCommitStatuses(w.forge)) return;
      const status = { sha: w.sha, name: "vh: train", state: "running" as const, description: "1 running" };
      const a = await w.forge.ensureCommitStatus({ repo: w.repo, status });
      expect(["created", "updated"]).toContain(a.action);
      const b = await w.forge.ensureCommitStatus({ repo: w.repo, status: { ...status, state: "success", description: "1 completed" } });
      expect(["created", "updated"]).toContain(b.action);
      await w.done?.();
    });

    it("creates a check run and finds it again by external id, when the forge has them", async () => {
      if (!hasCheckRuns(w.forge)) return;
      const spec = { sha: w.sha, name: "vh: train", externalId: "contract-1", status: "in_progress" as const, title: "running", summary: "1 running" };
      const a = await w.forge.ensureCheckRun({ repo: w.repo, spec });
      expect(a.action).toBe("created");
      const b = await w.forge.ensureCheckRun({ repo: w.repo, spec: { ...spec, status: "completed", conclusion: "success", title: "done" }, knownId: a.id });
      expect(b).toEqual({ id: a.id, action: "updated" });
      await w.done?.();
    });
  });
}
