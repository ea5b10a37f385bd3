/**
 * The approval workflow on a real Postgres, with constructed reviews and actors: every refusal is
 * refused with a clear message AND recorded in the audit trail; versions from sidecars are
 * idempotent; an approval is bound to the files' sha256; "latest at time T".
 */
import { createHash, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { approveVersion, rejectVersion, resetVersion, setPolicy } from "../../app/models/approval.js";
import { applyPullRequestReview, approvalRequestsForExecution } from "../../app/models/review.js";
import { createVersion, filesDigest, registerOutputVersions, resolveVersion, sidecarModelEntries } from "../../app/models/versions.js";
import { latestAtTime } from "../../app/models/catalog.js";
import { trailOf } from "../../app/models/audit.js";
import { VhError } from "../../app/errors.js";
import type { Actor } from "../../app/models/events.js";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const SIDECAR = { "valohai.model-versions": ["model://fraud/"] };
const cli = (login: string): Actor => ({ login, source: "cli" });

describe("model approval workflow", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let projectId: string;
  let counter = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    const [p] = await db.sql<{ id: string }[]>`insert into projects (name) values ('p') returning id`;
    projectId = p!.id;
    // The project is where the reviewed repositories' executions run (a review only approves
    // versions trained from its own repository).
    await db.sql`insert into forge_repositories (forge, id, installation_id, full_name, project_id)
      values ('github', 1, 42, 'o/r', ${projectId}), ('github', 2, 42, 'o/s', ${projectId})`;
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function execution(opts: { commit?: string; triggeredBy?: string; status?: string } = {}): Promise<string> {
    counter++;
    const [e] = await db.sql<{ id: string }[]>`
      insert into executions (project_id, counter, step, status, commit_sha, triggered_by, image, command, command_list, parameters, inputs, environment_variables)
      values (${projectId}, ${counter}, 'train', ${opts.status ?? "completed"}, ${opts.commit ?? null}, ${opts.triggeredBy ?? null}, 'python:3.12', 'true',
        '[]'::jsonb, '{}'::jsonb, '[]'::jsonb, '{}'::jsonb)
      returning id`;
    return e!.id;
  }

  async function output(executionId: string, name: string, content: string, metadata: Record<string, unknown>) {
    const id = randomUUID();
    await db.sql`
      insert into datums (id, project_id, execution_id, name, size, sha256, store_key, metadata)
      values (${id}, ${projectId}, ${executionId}, ${name}, ${content.length}, ${sha(content)}, ${`data/${id}/${name}`}, ${db.sql.json(metadata as never)})`;
    const datum = { id, name, size: content.length, sha256: sha(content) };
    return { datum, registered: await registerOutputVersions(db.sql, { id: executionId }, datum, metadata) };
  }

  async function trail(uri: string) {
    const r = await resolveVersion(db.sql, uri);
    return trailOf(db.sql, r.model.id, r.version.id);
  }

  async function refusal(p: Promise<unknown>): Promise<VhError> {
    const err = await p.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(VhError);
    return err as VhError;
  }

  it("parses sidecar entries: strings, objects, and bad ones as warnings", () => {
    const r = sidecarModelEntries(
      { "valohai.model-versions": ["model://a/", { model_uri: "model://b/", model_version_tags: ["x"], model_release_note: "n" }, "model://a/", 3, "model://bad name/", "model://c/v2"] },
      "m.bin",
    );
    expect(r.entries).toEqual([
      { model: "a", tags: [], note: null },
      { model: "b", tags: ["x"], note: "n" },
      { model: "c", tags: [], note: null },
    ]);
    expect(r.warnings).toHaveLength(3);
    expect(r.warnings.join("\n")).toMatch(/ignored 3/);
    expect(r.warnings.join("\n")).toMatch(/model:\/\/c\/v2" names a version/);
    expect(sidecarModelEntries({ other: 1 }, "x")).toEqual({ entries: [], warnings: [] });
  });

  it("makes one version per model and execution: a re-upload after a crash does not make a second", async () => {
    const e = await execution();
    const a = await output(e, "model.bin", "weights-1", { "valohai.model-versions": ["model://idem/"] });
    expect(a.registered.versions).toEqual(["model://idem/v1"]);
    // the same datum registered again (the supervisor retried after a crash)
    expect((await registerOutputVersions(db.sql, { id: e }, a.datum, { "valohai.model-versions": ["model://idem/"] })).versions).toEqual(["model://idem/v1"]);
    // another file of the same execution joins the same version
    const b = await output(e, "vocab.txt", "vocab", { "valohai.model-versions": ["model://idem/"] });
    expect(b.registered.versions).toEqual(["model://idem/v1"]);
    const v = await resolveVersion(db.sql, "model://idem/v1");
    expect(v.files.map((f) => f.name)).toEqual(["model.bin", "vocab.txt"]);
    expect(v.version.files_sha256).toBe(filesDigest([{ name: "vocab.txt", sha256: sha("vocab") }, { name: "model.bin", sha256: sha("weights-1") }]));
    const count = await db.sql`select count(*)::int as n from model_versions v join models m on m.id = v.model_id where m.name = 'idem'`;
    expect(count[0]!.n).toBe(1);
    // a second execution makes v2
    expect((await output(await execution(), "model.bin", "weights-2", { "valohai.model-versions": ["model://idem/"] })).registered.versions).toEqual(["model://idem/v2"]);
  });

  it("refuses a reject without a reason, and records it", async () => {
    await output(await execution(), "m.bin", "r1", { "valohai.model-versions": ["model://rej/"] });
    const err = await refusal(rejectVersion(db, "model://rej/v1", cli("alice"), "  "));
    expect(err.code).toBe("bad_request");
    expect(err.message).toBe('Rejecting model://rej/v1 needs a reason, e.g. vh model reject model://rej/v1 "accuracy below the current latest".');
    const t = await trail("model://rej/v1");
    expect(t.at(-1)).toMatchObject({ kind: "refused", actor: "alice", source: "cli", reason: err.message, details: { action: "reject" } });
    expect((await resolveVersion(db.sql, "model://rej/v1")).version.status).toBe("pending");

    // with a reason it is rejected; approving a rejected version needs an explicit reset first
    await rejectVersion(db, "model://rej/v1", cli("alice"), "AUC 0.61 < 0.7");
    const again = await refusal(approveVersion(db, "model://rej/v1", cli("bob")));
    expect(again.message).toMatch(/model:\/\/rej\/v1 is rejected; only an explicit reset moves it back to pending/);
    expect(await resetVersion(db, "model://rej/v1", cli("alice"), "retrained evaluation")).toMatchObject({ status: "pending", changed: true });
    expect(await approveVersion(db, "model://rej/v1", cli("bob"))).toMatchObject({ status: "approved", changed: true });
    expect((await trail("model://rej/v1")).map((e) => e.kind)).toEqual(["created", "refused", "rejected", "refused", "pending", "approved", "alias_changed"]);
  });

  it("refuses an approval after the files changed, and an approval does not carry over to new files", async () => {
    const e = await execution();
    await output(e, "model.bin", "v-a", { "valohai.model-versions": ["model://bound/"] });
    const reviewed = (await resolveVersion(db.sql, "model://bound/v1")).version.files_sha256;
    // the files change (a re-written output) between the review and the approval
    await output(e, "model.bin", "v-b", { "valohai.model-versions": ["model://bound/"] });
    const err = await refusal(approveVersion(db, "model://bound/v1", cli("carol"), { filesSha256: reviewed }));
    expect(err.code).toBe("conflict");
    expect(err.message).toMatch(/^The files of model:\/\/bound\/v1 changed since they were reviewed \(reviewed [0-9a-f]{12}, now [0-9a-f]{12}\); review the new files and approve again\.$/);
    expect((await trail("model://bound/v1")).at(-1)).toMatchObject({ kind: "refused", actor: "carol", reason: err.message });

    // approve the current files; then they change again: back to pending, latest moves away
    const now = (await resolveVersion(db.sql, "model://bound/v1")).version.files_sha256;
    await approveVersion(db, "model://bound/v1", cli("carol"), { filesSha256: now });
    expect((await resolveVersion(db.sql, "model://bound/latest")).uri).toBe("model://bound/v1");
    await output(e, "extra.json", "{}", { "valohai.model-versions": ["model://bound/"] });
    const v = await resolveVersion(db.sql, "model://bound/v1");
    expect(v.version.status).toBe("pending");
    await expect(resolveVersion(db.sql, "model://bound/latest")).rejects.toThrow(/has no approved version \(v1 pending\)/);
    const kinds = (await trail("model://bound/v1")).map((x) => x.kind);
    expect(kinds.slice(-3)).toEqual(["files_changed", "approval_invalidated", "alias_changed"]);
    const t = await trail("model://bound/v1");
    expect(t.find((x) => x.kind === "approval_invalidated")?.reason).toMatch(/the approval does not carry over/);
    expect(t.filter((x) => x.kind === "alias_changed").map((x) => [x.details["from"], x.details["to"]])).toEqual([[null, "v1"], ["v1", null]]);
  });

  it("PR reviews: read-only reviewer and older commit refused and recorded; write on head approves", async () => {
    const old = "1".repeat(40);
    const head = "2".repeat(40);
    const e1 = await execution({ commit: old, triggeredBy: "trainer" });
    await output(e1, "m.bin", "pr-1", SIDECAR);
    await approvalRequestsForExecution(db, { executionId: e1, repo: "o/r", prNumber: 1, headSha: old });
    const e2 = await execution({ commit: head, triggeredBy: "trainer" });
    await output(e2, "m.bin", "pr-2", SIDECAR);
    const [req] = await approvalRequestsForExecution(db, { executionId: e2, repo: "o/r", prNumber: 1, headSha: head });
    expect(req).toMatchObject({ version: "model://fraud/v2", status: "pending" });

    const review = (login: string, permission: "read" | "write" | "triage" | "admin", commitSha: string, state: "approved" | "commented" = "approved") =>
      applyPullRequestReview(db, { state, commitSha, reviewer: { login, permission }, url: `https://forge/o/r/pull/1#${login}`, repo: "o/r", prNumber: 1 });

    const ro = await review("reader", "read", head);
    expect(ro.approved).toEqual([]);
    expect(ro.refused.find((r) => r.version === "model://fraud/v2")?.reason).toBe(
      "reader has read permission on o/r; approving model://fraud/v2 needs write permission (or being one of the model's approvers).",
    );
    const triage = await review("triager", "triage", head);
    expect(triage.approved).toEqual([]);

    const stale = await review("writer", "write", old);
    expect(stale.approved).toEqual([]);
    expect(stale.refused.map((r) => r.version)).toEqual(["model://fraud/v1", "model://fraud/v2"]);
    expect(stale.refused[1]!.reason).toBe(
      "The approving review by writer is of commit 1111111, but the pull request's head is now 2222222; a review of an older commit approves nothing. Review the latest commit.",
    );
    // a comment review changes nothing but is recorded
    expect(await review("writer", "write", head, "commented")).toEqual({ approved: [], refused: [] });

    const t = await trail("model://fraud/v2");
    expect(t.filter((x) => x.kind === "refused").map((x) => [x.actor, x.source, x.sourceUrl])).toEqual([
      ["reader", "pr_review", "https://forge/o/r/pull/1#reader"],
      ["triager", "pr_review", "https://forge/o/r/pull/1#triager"],
      ["writer", "pr_review", "https://forge/o/r/pull/1#writer"],
    ]);
    expect(t.at(-1)).toMatchObject({ kind: "review", actor: "writer", details: { state: "commented" } });

    const ok = await review("writer", "write", head);
    expect(ok.approved).toEqual(["model://fraud/v2"]);
    expect((await resolveVersion(db.sql, "model://fraud/latest")).uri).toBe("model://fraud/v2");
    // the approval request's status is the version's, as stored
    expect((await approvalRequestsForExecution(db, { executionId: e2, repo: "o/r", prNumber: 1, headSha: head }))[0]?.status).toBe("approved");
    // a second approving review is a no-op, not a second approval
    expect((await review("admin", "admin", head)).approved).toEqual([]);
  });

  it("a review binds to the files shown in the approval request", async () => {
    const head = "3".repeat(40);
    const e = await execution({ commit: head });
    await output(e, "m.bin", "shown", { "valohai.model-versions": ["model://shown/"] });
    await approvalRequestsForExecution(db, { executionId: e, repo: "o/s", prNumber: 2, headSha: head });
    await output(e, "m.bin", "changed", { "valohai.model-versions": ["model://shown/"] });
    const r = await applyPullRequestReview(db, { state: "approved", commitSha: head, reviewer: { login: "w", permission: "write" }, url: "u", repo: "o/s", prNumber: 2 });
    expect(r.approved).toEqual([]);
    expect(r.refused[0]!.reason).toMatch(/The files of model:\/\/shown\/v1 changed since they were reviewed/);
  });

  it("a review in another repository (a fork shares the SHAs) does not approve", async () => {
    const head = "4".repeat(40);
    const e = await execution({ commit: head });
    await output(e, "m.bin", "forked", { "valohai.model-versions": ["model://forked/"] });
    const r = await applyPullRequestReview(db, { state: "approved", commitSha: head, reviewer: { login: "forker", permission: "admin" }, url: "u", repo: "forker/r", prNumber: 3 });
    expect(r.approved).toEqual([]);
    expect(r.refused[0]!.reason).toMatch(/model:\/\/forked\/v1 was not produced by an execution of forker\/r/);
    expect((await trail("model://forked/v1")).some((ev) => ev.kind === "refused")).toBe(true);
  });

  it("separation of duties, the approvers team, and a version still being produced", async () => {
    const e = await execution({ triggeredBy: "Trainer" });
    await output(e, "m.bin", "sod", { "valohai.model-versions": ["model://sod/"] });
    await setPolicy(db, "sod", { separationOfDuties: true, approvers: ["risk-officer"] }, cli("admin"));
    const err = await refusal(approveVersion(db, "model://sod/v1", { login: "trainer", source: "comment", permission: "admin" }));
    expect(err.message).toBe('trainer triggered the training of model://sod/v1; separation of duties is on for model "sod", so someone else must approve it.');
    expect((await trail("model://sod/v1")).at(-1)).toMatchObject({ kind: "refused", actor: "trainer", source: "comment" });
    // a read-only user in the approvers team may approve
    expect(await approveVersion(db, "model://sod/v1", { login: "risk-officer", source: "comment", permission: "read" })).toMatchObject({ status: "approved" });

    const running = await execution({ status: "running" });
    await output(running, "m.bin", "live", { "valohai.model-versions": ["model://sod/"] });
    const busy = await refusal(approveVersion(db, "model://sod/v2", cli("x")));
    expect(busy.message).toMatch(/^Execution #\d+, which produces model:\/\/sod\/v2, is still running; its files may still change/);
  });

  it("answers which version was latest at time T", async () => {
    await output(await execution(), "m.bin", "t1", { "valohai.model-versions": ["model://timeline/"] });
    await output(await execution(), "m.bin", "t2", { "valohai.model-versions": ["model://timeline/"] });
    const t0 = new Date();
    await new Promise((r) => setTimeout(r, 20));
    await approveVersion(db, "model://timeline/v1", cli("a"));
    await new Promise((r) => setTimeout(r, 20));
    const t1 = new Date();
    await new Promise((r) => setTimeout(r, 20));
    await approveVersion(db, "model://timeline/v2", cli("a"));
    await new Promise((r) => setTimeout(r, 20));
    const t2 = new Date();
    await new Promise((r) => setTimeout(r, 20));
    await rejectVersion(db, "model://timeline/v2", cli("a"), "drift found in production");
    await new Promise((r) => setTimeout(r, 20));
    const t3 = new Date();
    const at = async (d: Date) => (await latestAtTime(db.sql, "timeline", d)).latest;
    expect([await at(t0), await at(t1), await at(t2), await at(t3)]).toEqual([null, "model://timeline/v1", "model://timeline/v2", "model://timeline/v1"]);
  });

  it("explicit versions from datums (CLI/API)", async () => {
    const e = await execution();
    const { datum } = await output(e, "weights.pt", "manual", {});
    const made = await createVersion(db.sql, { model: "manual", files: [`datum://${datum.id}`], description: "hand-picked", tags: ["a"] }, { login: "api-token", source: "api" });
    expect(made.uri).toBe("model://manual/v1");
    const v = await resolveVersion(db.sql, made.uri);
    expect(v.version).toMatchObject({ source_kind: "manual", status: "pending", description: "hand-picked", created_by: "api-token" });
    // separation of duties: who registered a hand-made version may not approve it
    await setPolicy(db, "manual", { separationOfDuties: true }, cli("admin"));
    const sod = await refusal(approveVersion(db, made.uri, { login: "api-token", source: "api" }));
    expect(sod.message).toBe('api-token registered model://manual/v1; separation of duties is on for model "manual", so someone else must approve it.');
    await expect(createVersion(db.sql, { model: "manual", files: [`datum://${randomUUID()}`] }, cli("x"))).rejects.toThrow(/No such datum/);
    await expect(createVersion(db.sql, { model: "bad name", files: [`datum://${datum.id}`] }, cli("x"))).rejects.toThrow(/is not a model name/);
  });
});
