/**
 * The Model Hub end to end on the real stack (REST API, worker, local runner, local store): a
 * training step writes a model with a sidecar → a pending version → an approving PR review from a
 * user with write permission on the head SHA → approved → model://churn/latest resolves to it → an
 * inference step consumes it → the use is recorded → lineage returns the whole chain → the report
 * lists it.
 */
import http from "node:http";
import path from "node:path";
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { runCli, tempDir } from "../cli/helpers.js";
import { applyPullRequestReview, approvalRequestsForExecution } from "../../app/models/review.js";
import type { FullLineage } from "../../app/models/lineage.js";
import type { AuditReport, VersionRecord } from "../../app/models/audit.js";
import { renderApprovalRequest } from "../../templates/model/approval-request.js";

const fixture = path.resolve(import.meta.dirname, "../fixtures/projects/model-hub");
const DATASET = "id,churned\n1,0\n2,1\n3,0\n";
const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");
const OLD_SHA = "a".repeat(40);
const HEAD_SHA = "b".repeat(40);

type Exec = { id: string; counter: number; status: string; inputs: { name: string; uri: string; file: string; sha256: string | null }[] };

describe("Model Hub end to end", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let code: string;
  let files: http.Server;
  let dataUrl: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString });
    files = http.createServer((req, res) => {
      if (req.url === "/churn.csv") {
        res.writeHead(200, { "content-type": "text/csv" });
        res.end(req.method === "HEAD" ? undefined : DATASET);
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
    dataUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}/churn.csv`;
    const project = await stack.api<{ id: string }>("POST", "/api/v1/projects", { name: "churn" });
    // acme/churn's executions run in this project (a review only approves versions trained there)
    await db.sql`insert into forge_repositories (forge, id, installation_id, full_name, project_id) values ('github', 7, 42, 'acme/churn', ${project.id})`;
    code = await uploadSnapshot(stack, fixture);
  });

  afterAll(async () => {
    await stack?.stop();
    await new Promise((r) => files?.close(r));
    await db?.drop();
  });

  const create = (body: Record<string, unknown>) => stack.api<Exec>("POST", "/api/v1/projects/churn/executions", { code, ...body });
  const until = (n: number) =>
    waitFor(`execution #${n} to end`, async () => {
      const e = await stack.api<Exec>("GET", `/api/v1/projects/churn/executions/${n}`);
      return ["completed", "failed", "error", "stopped"].includes(e.status) ? e : undefined;
    }, 60_000);
  const logText = async (n: number) =>
    (await stack.api<{ lines: { line: string }[] }>("GET", `/api/v1/projects/churn/executions/${n}/logs`)).lines.map((l) => l.line).join("\n");
  const cli = (args: string[]) => runCli([...args, "--url", stack.vh.url, "--token", stack.vh.token], { cwd: tempDir() });
  /** What issue 4 does for a PR run: the commit and who triggered it. */
  const markPullRequestRun = (id: string, commit: string) => db.sql`update executions set commit_sha = ${commit}, triggered_by = 'trainer' where id = ${id}`;

  it("trains, approves by PR review, serves latest to inference, and traces it all", async () => {
    // A first training at an older commit of the PR, then the head commit.
    const first = await create({ step: "train", inputs: { dataset: dataUrl }, parameters: { epochs: 2 } });
    await markPullRequestRun(first.id, OLD_SHA);
    expect((await until(first.counter)).status).toBe("completed");
    await approvalRequestsForExecution(db, { executionId: first.id, repo: "acme/churn", prNumber: 7, headSha: OLD_SHA });

    const train = await create({ step: "train", inputs: { dataset: dataUrl }, parameters: { epochs: 3 } });
    await markPullRequestRun(train.id, HEAD_SHA);
    expect((await until(train.counter)).status, await logText(train.counter)).toBe("completed");

    // the sidecar made model://churn/v2, pending, with the output's checksum
    const outputs = await stack.api<{ results: { id: string; name: string; sha256: string }[] }>("GET", `/api/v1/projects/churn/executions/${train.counter}/outputs`);
    const modelFile = outputs.results.find((o) => o.name === "model.bin")!;
    expect(outputs.results.map((o) => o.name)).toEqual(["model.bin"]);
    const v2 = await stack.api<VersionRecord>("GET", "/api/v1/models/churn/versions/v2");
    expect(v2).toMatchObject({ version: "model://churn/v2", status: "pending", commitSha: HEAD_SHA, triggeredBy: "trainer", tags: ["nightly"], description: "trained on data.csv" });
    expect(v2.files).toEqual([{ name: "model.bin", sha256: modelFile.sha256, size: expect.any(Number), datum: `datum://${modelFile.id}`, api: `/api/v1/data/${modelFile.id}` }]);
    expect(v2.execution?.metrics).toMatchObject({ epoch: 2, loss: 0.125 });

    // nothing approved yet: model://churn/latest is refused with a clear message
    const refused = (await create({ step: "infer", inputs: { dataset: dataUrl } }).catch((e: unknown) => e)) as { status: number; body: string };
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body).error.message).toMatch(/Input "model": model:\/\/churn\/latest: model "churn" has no approved version \(v1 pending, v2 pending\)/);

    // the approval request the check run and the sticky comment show: data, rendered by the template
    const [data] = await approvalRequestsForExecution(db, { executionId: train.id, repo: "acme/churn", prNumber: 7, headSha: HEAD_SHA, baseUrl: stack.vh.url });
    expect(data).toMatchObject({ version: "model://churn/v2", status: "pending" });
    const request = renderApprovalRequest(data!);
    expect(request.title).toBe("model://churn/v2 needs approval");
    expect(request.markdown).toContain("/vh approve model://churn/v2");
    expect(request.markdown).toContain("```mermaid");
    expect(request.markdown).toContain(modelFile.sha256.slice(0, 12));

    // a read-only reviewer on the head SHA: refused, recorded
    const readOnly = await applyPullRequestReview(db, {
      state: "approved", commitSha: HEAD_SHA, reviewer: { login: "visitor", permission: "read" }, url: "https://github.com/acme/churn/pull/7#pullrequestreview-1", repo: "acme/churn", prNumber: 7,
    });
    expect(readOnly.approved).toEqual([]);
    expect(readOnly.refused).toEqual([
      { version: "model://churn/v1", reason: expect.stringMatching(/visitor has read permission on acme\/churn; approving model:\/\/churn\/v1 needs write permission/) },
      { version: "model://churn/v2", reason: expect.stringMatching(/visitor has read permission on acme\/churn; approving model:\/\/churn\/v2 needs write permission/) },
    ]);

    // a review of the older commit: refused for every version on the PR, recorded
    const stale = await applyPullRequestReview(db, {
      state: "approved", commitSha: OLD_SHA, reviewer: { login: "lead", permission: "write" }, url: "https://github.com/acme/churn/pull/7#pullrequestreview-2", repo: "acme/churn", prNumber: 7,
    });
    expect(stale.approved).toEqual([]);
    expect(stale.refused.map((r) => r.version).sort()).toEqual(["model://churn/v1", "model://churn/v2"]);
    expect(stale.refused[0]!.reason).toMatch(/is of commit aaaaaaa, but the pull request's head is now bbbbbbb; a review of an older commit approves nothing/);

    // the approving review on the head SHA by a user with write permission
    const review = await applyPullRequestReview(db, {
      state: "approved", commitSha: HEAD_SHA, reviewer: { login: "lead", permission: "write" }, url: "https://github.com/acme/churn/pull/7#pullrequestreview-3", repo: "acme/churn", prNumber: 7,
    });
    expect(review.approved).toEqual(["model://churn/v2"]);
    expect(review.refused).toEqual([{ version: "model://churn/v1", reason: expect.stringMatching(/was produced by commit aaaaaaa; only a review of the commit that produced a version approves it/) }]);
    await new Promise((r) => setTimeout(r, 20)); // Postgres stamps microseconds, Date milliseconds
    const approvedAt = new Date();

    // model://churn/latest → v2; the inference step (input default model://churn/latest) consumes it
    const infer = await create({ step: "infer", inputs: { dataset: dataUrl } });
    expect(infer.inputs.find((i) => i.name === "model")).toMatchObject({ uri: "model://churn/latest", file: "model.bin", sha256: modelFile.sha256 });
    expect((await until(infer.counter)).status, await logText(infer.counter)).toBe("completed");
    const log = await logText(infer.counter);
    expect(log).toContain(`model sha256 ${modelFile.sha256}`);
    expect(log).toContain('model files ["model.bin"]');

    // the downstream use is recorded: the exact version, one query away
    const used = await db.sql`select uri, version_id from execution_model_inputs where execution_id = ${infer.id}`;
    expect(used).toEqual([{ uri: "model://churn/latest", version_id: v2.id }]);
    const row = await db.sql<{ inputs: { name: string; model?: { version: string } }[] }[]>`select inputs from executions where id = ${infer.id}`;
    expect(row[0]!.inputs.find((i) => i.name === "model")?.model?.version).toBe("model://churn/v2");

    // lineage both ways
    const lineage = await stack.api<FullLineage>("GET", "/api/v1/models/churn/versions/latest/lineage");
    expect(lineage.version).toBe("model://churn/v2");
    const trainExec = lineage.upstream.executions[train.id]!;
    expect(trainExec).toMatchObject({ counter: train.counter, step: "train", commitSha: HEAD_SHA, produced: ["model://churn/v2"] });
    expect(lineage.upstream.edges).toEqual([
      expect.objectContaining({ consumer: null, name: "model.bin", sha256: modelFile.sha256, producer: train.id }),
      expect.objectContaining({ consumer: train.id, input: "dataset", name: "data.csv", uri: dataUrl, sha256: sha(DATASET), producer: null }),
    ]);
    expect(lineage.downstream.edges).toEqual([
      expect.objectContaining({ consumer: infer.id, input: "model", uri: "model://churn/latest", datumId: modelFile.id, producer: null, modelVersion: "model://churn/v2" }),
    ]);
    expect(lineage.downstream.executions[infer.id]).toMatchObject({ counter: infer.counter, step: "infer" });

    // `vh lineage` as a tree and as JSON
    const tree = await cli(["lineage", "model://churn/latest"]);
    expect(tree.code, tree.stderr).toBe(0);
    expect(tree.stdout).toContain("model://churn/v2 (approved, files ");
    expect(tree.stdout).toContain(`└─ file model.bin sha256 ${modelFile.sha256.slice(0, 12)}`);
    expect(tree.stdout).toContain(`from churn #${train.counter} train (completed, commit bbbbbbbbbbbb, made model://churn/v2)`);
    expect(tree.stdout).toContain(`input dataset: data.csv sha256 ${sha(DATASET).slice(0, 12)} ← ${dataUrl}`);
    expect(tree.stdout).toContain(`used by:\n└─ churn #${infer.counter} infer (completed, code ${code.slice(0, 12)}) input model ← model://churn/latest → model://churn/v2`);
    const json = await cli(["lineage", "model://churn/latest", "--json"]);
    expect(JSON.parse(json.stdout)).toEqual(lineage);

    // the audit report lists the chain, the approvals and refusals, and the use
    const report = await stack.api<AuditReport>("GET", "/api/v1/models/churn/versions/v2/report");
    expect(report.trainingData).toEqual([expect.objectContaining({ uri: dataUrl, sha256: sha(DATASET) })]);
    expect(report.execution).toMatchObject({ step: "train", commitSha: HEAD_SHA, parameters: { epochs: 3, delay: 0.5 } });
    expect(report.history.map((h) => h.kind)).toEqual(["created", "approval_requested", "refused", "refused", "approved", "alias_changed", "used"]);
    expect(report.history.find((h) => h.kind === "approved")).toMatchObject({ actor: "lead", source: "pr_review", sourceUrl: "https://github.com/acme/churn/pull/7#pullrequestreview-3" });
    const md = await cli(["model", "report", "model://churn/v2", "--format", "md"]);
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toContain("# Audit report: model://churn/v2");
    // laid out by SR 11-7 and Annex IV; each claim links to its record on this server
    const base = stack.vh.url;
    expect(md.stdout.match(/^## .*$/gm)).toEqual([
      "## 1. Model inventory",
      "## 2. General description",
      "## 3. Data provenance",
      "## 4. Training methodology",
      "## 5. Metrics",
      "## 6. Versions and changes",
      "## 7. Human oversight",
      "## 8. Record-keeping",
      "## 9. Downstream use",
    ]);
    const trainLink = `[churn #${train.counter} (train)](${base}/api/v1/executions/${train.id})`;
    expect(md.stdout).toContain(`| ${trainLink} | dataset | \`data.csv\` | \`${sha(DATASET)}\` | ${DATASET.length} B | \`${dataUrl}\` |`);
    expect(md.stdout).toContain(`| validation evidence | ${trainLink}: `);
    expect(md.stdout).toContain(`[churn #${infer.counter} (infer)](${base}/api/v1/executions/${infer.id})`);
    const approvedEvent = report.history.find((h) => h.kind === "approved")!;
    expect(md.stdout).toContain(`| approver | lead (event [#${approvedEvent.id}](${base}/api/v1/audit/model-events/${approvedEvent.id})) |`);
    expect(md.stdout).toMatch(/\| approved \| lead \| \[pr_review\]\(https:\/\/github.com\/acme\/churn\/pull\/7#pullrequestreview-3\) \|/);
    expect(md.stdout).toContain("every chain intact");
    expect(md.stdout).toContain("| model_events | ");
    // the approving event's link leads to the event itself
    const linked = await stack.api<{ id: number; kind: string }>("GET", `/api/v1/audit/model-events/${approvedEvent.id}`);
    expect(linked).toMatchObject({ id: approvedEvent.id, kind: "approved" });
    const html = await cli(["model", "report", "model://churn/v2", "--format", "html"]);
    expect(html.code, html.stderr).toBe(0);
    expect(html.stdout).toMatch(/^<!doctype html>/);
    expect(html.stdout).toContain(`<a href="${base}/api/v1/executions/${train.id}">churn #${train.counter} (train)</a>`);
    expect(html.stdout).toContain('<section id="oversight">');
    expect(html.stdout).not.toContain("<script");
    const mdJson = await cli(["model", "report", "model://churn/v2", "--format", "json"]);
    const asJson = JSON.parse(mdJson.stdout) as AuditReport;
    expect(asJson.version).toBe("model://churn/v2");
    expect(asJson.auditChain.ok).toBe(true);
    expect(asJson.inventory).toMatchObject({ model: "churn", version: "model://churn/v2", approver: "lead", approvalEvent: { id: approvedEvent.id } });
    const bad = await cli(["model", "report", "model://churn/v2", "--format", "pdf"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("--format must be md, html or json");

    // which version was latest at time T
    const before = await stack.api<{ latest: string | null }>("GET", `/api/v1/models/churn/latest?at=${encodeURIComponent(new Date(Date.parse(v2.createdAt)).toISOString())}`);
    expect(before.latest).toBeNull();
    const after = await stack.api<{ latest: string | null }>("GET", `/api/v1/models/churn/latest?at=${encodeURIComponent(approvedAt.toISOString())}`);
    expect(after.latest).toBe("model://churn/v2");

    // the CLI's list / show / compare
    const list = await cli(["model", "list"]);
    expect(list.stdout).toMatch(/churn\s+2\s+model:\/\/churn\/v2\s+1/);
    const show = await cli(["model", "show", "churn"]);
    expect(show.stdout).toMatch(/model:\/\/churn\/v2\s+approved\s+1/);
    expect(show.stdout).toMatch(/model:\/\/churn\/v1\s+pending/);
    const cmp = await cli(["model", "compare", "model://churn/v1", "model://churn/v2", "--json"]);
    expect(cmp.code, cmp.stderr).toBe(0);
    const comparison = JSON.parse(cmp.stdout) as { versions: { metrics: Record<string, unknown>; series: Record<string, unknown[]> }[]; differs: { parameters: string[]; metrics: string[] } };
    expect(comparison.versions.map((v) => v.metrics["loss"])).toEqual([0.25, 0.125]);
    expect(comparison.versions.map((v) => v.series["loss"])).toEqual([[0.5, 0.25], [0.5, 0.25, 0.125]]);
    expect(comparison.differs.parameters).toEqual(["epochs"]);
    const cmpText = await cli(["model", "compare", "model://churn/v1", "model://churn/v2"]);
    expect(cmpText.stdout).toMatch(/\* param epochs\s+2\s+3/);
  });
});
