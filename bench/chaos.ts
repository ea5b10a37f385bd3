/**
 * `npm run bench -- chaos`: nothing lost, nothing run twice, nothing run that nobody allowed, while
 * everything vh depends on fails under it. On this machine it drives CHAOS_EXECUTIONS executions
 * (single runs through the REST API, API sweeps, and sweeps from `/vh run` lines in commits pushed
 * to a linked Git repository; most 1-second jobs, every fifth a CHAOS_LONG_S-second one), placed on
 * the control plane's local host and on an SSH host (a real sshd on loopback), with outputs in an
 * S3-protocol server (s3rver), while it:
 *   (a) kills the control plane (`npm start`, a child process) with SIGKILL CHAOS_KILLS times at
 *       random moments, each restarted a moment later;
 *   (b) restarts Postgres CHAOS_PG_RESTARTS times under it (a fast shutdown, back a few seconds later);
 *   (c) takes the S3 server away for CHAOS_S3_OUTAGE_S seconds while outputs are being uploaded;
 *   (d) kills the SSH host's sshd (the listener and every session) while an execution runs there,
 *       and brings it back after twice the lost-host time;
 *   (e) replays CHAOS_REPLAYS webhook deliveries (GitHub deliveries with the same id, and the
 *       linked repository's push notifications again) and sends CHAOS_BAD_SIGNATURES with bad signatures.
 *
 * Every API call the bench makes is retried until it is answered, as a client would; the creating
 * ones carry an `Idempotency-Key`, so a request whose answer was lost to a kill is not made twice.
 *
 * Figures (the goals fail the bench, smoke runs too):
 * - `executions`: how many the workload asks for; `completed`: how many ended `completed` (a
 *   retried one that then completed counts: `retried` says how many of those ran more than once);
 * - `lost_unrecovered`: asked for and not completed (ended otherwise, or never created);
 * - `duplicated`: executions made beyond what was asked, plus executions whose job ran to its end
 *   more than once;
 * - `log_gaps` / `log_duplicates`: lines of the completed run missing from / repeated in its log
 *   (each job numbers its lines), and holes in the log's sequence numbers;
 * - `outputs_missing`: completed executions without all their outputs, or with an output whose
 *   bytes are not what the job wrote (its own sha256 beside it) or not from the run that completed;
 * - `bad_signatures_accepted`: bad-signature deliveries answered other than 401, or recorded;
 * - `replays_started`: work started by a replayed delivery (a GitHub delivery recorded twice, a
 *   commit run twice);
 * and what happened: `kills`, `pg_restarts`, `s3_outage_s`, `sshd_kills`, `replays`, `bad_signatures`, `seconds`.
 * Goal: `completed` = `executions`, every other goal figure 0.
 */
import type { ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { createHash, createHmac, randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import postgres from "postgres";
import { freePort, round, size, SMOKE } from "./support.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../db/embedded.js";
import { tempDir } from "../test/helpers/stack.js";
import { tarball } from "../test/helpers/snapshot.js";
import { killServerProcess, startServerProcess, serverProcessEnv, stopServerProcessWithin, type ServerProcess } from "../test/helpers/server-process.js";
import { startS3, S3RVER_CREDENTIALS } from "../test/helpers/s3.js";
import { startSshd } from "../test/helpers/sshd.js";
import { commentPayload, githubEnv, SECRET } from "../test/github/helpers.js";
import { TERMINAL } from "../app/executions/state.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

const VALOHAI_YAML = `- step:
    name: job
    image: busybox
    command: sh job.sh {parameter-value:secs} {parameter-value:lines}
    parameters:
      - name: secs
        type: float
        default: 1
      - name: lines
        type: integer
        default: 20
`;

// Numbered lines under a run id of its own, then outputs with their own checksum beside them.
const JOB_SH = `set -e
run="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \\n')"
n="$2"
pause="$(awk -v s="$1" -v n="$n" 'BEGIN { printf "%.3f", s / n }')"
i=1
while [ "$i" -le "$n" ]; do
  echo "chaos run=$run line $i/$n"
  sleep "$pause"
  i=$((i + 1))
done
head -c 262144 /dev/urandom > "$VH_OUTPUTS_DIR/data.bin"
sha256sum "$VH_OUTPUTS_DIR/data.bin" | cut -d' ' -f1 > "$VH_OUTPUTS_DIR/data.sha256"
echo "$run" > "$VH_OUTPUTS_DIR/run.txt"
echo "chaos run=$run done"
`;

interface ExecView {
  id: string;
  counter: number;
  status: string;
  statusDetail: string | null;
  attempt: number;
  attempts: { outcome: string; reason: string | null; host: string | null }[];
}

/** A Postgres the bench can stop and start again on the same files and port. */
async function restartablePostgres(): Promise<{ connectionString: string; restart(downMs: number): Promise<void>; close(): Promise<void> }> {
  const dir = tempDir("vh-bench-chaos-pg-");
  const opts = { dataDir: path.join(dir, "data"), port: await freePort(), database: "bench", ephemeral: false };
  let pg: EmbeddedDatabase | null = await startEmbeddedPostgres(opts);
  const connectionString = pg.connectionString;
  return {
    connectionString,
    async restart(downMs) {
      await pg!.stop();
      pg = null;
      await sleep(downMs);
      pg = await startEmbeddedPostgres(opts);
    },
    async close() {
      const cluster = pg?.clusterDir;
      await pg?.stop();
      if (cluster) fs.rmSync(cluster, { recursive: true, force: true });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function run(): Promise<Record<string, number>> {
  const total = size("CHAOS_EXECUTIONS", 200, 12);
  const kills = size("CHAOS_KILLS", 20, 2);
  const pgRestarts = size("CHAOS_PG_RESTARTS", 2, 1);
  const s3OutageS = size("CHAOS_S3_OUTAGE_S", 10, 3);
  const replays = size("CHAOS_REPLAYS", 1000, 40);
  const badSignatures = size("CHAOS_BAD_SIGNATURES", 200, 10);
  const longS = size("CHAOS_LONG_S", 20, 4);
  const lostAfterS = SMOKE ? 5 : 8;

  // The workload: commits of 2-point sweeps (~10 %), API sweeps of 5 points (~15 %), the rest single runs.
  const commits = Math.max(1, Math.round((total * 0.1) / 2));
  const apiSweeps = Math.max(1, Math.round((total * 0.15) / 5));
  const singles = total - commits * 2 - apiSweeps * 5;
  if (singles < 1) throw new Error(`CHAOS_EXECUTIONS=${total} is too few for the mix (at least ${commits * 2 + apiSweeps * 5 + 1})`);
  const secsOf = (i: number) => (i % 5 === 4 ? longS : 1);

  const dir = tempDir("vh-bench-chaos-");
  const pg = await restartablePostgres();
  const db = postgres(pg.connectionString, { max: 2, onnotice: () => {}, connect_timeout: 5 });
  const s3 = await startS3({ buckets: ["vh-chaos"] });
  const sshd = await startSshd("chaos");
  const gitSecret = "chaos-git-webhook-secret";
  const env: Record<string, string> = {
    ...githubEnv(),
    ...serverProcessEnv(pg.connectionString, dir, await freePort()),
    VH_STORE: "s3",
    VH_S3_BUCKET: "vh-chaos",
    VH_S3_ENDPOINT: s3.endpoint,
    VH_S3_FORCE_PATH_STYLE: "true",
    VH_S3_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    VH_LOST_AFTER_S: String(lostAfterS),
    VH_LOST_RETRIES: "10",
    VH_MAX_ATTEMPTS: "10",
    VH_HOST_CHECK_S: "2",
    VH_WORKER_DEAD_AFTER_S: "10",
    VH_GIT_MIN_POLL_S: "0.5",
  };

  let server: ServerProcess | null = null;
  let pastOutput = "";
  const outputTail = (lines: number) => (pastOutput + (server?.output() ?? "")).split("\n").slice(-lines).join("\n");
  const up = async () => {
    server = await startServerProcess(env, 120_000);
    return server;
  };
  const q = async <T>(f: () => Promise<T>): Promise<T> => {
    // Postgres is restarted under the bench too: ask again.
    for (let i = 0; ; i++) {
      try {
        return await f();
      } catch (err) {
        if (i > 300) throw err;
        await sleep(200);
      }
    }
  };
  let token = "";
  const upUrl = () => {
    if (!server) throw new Error("the control plane is down");
    return server.url;
  };
  const call = async (method: string, p: string, opts: { body?: unknown; raw?: Buffer; key?: string; type?: string } = {}): Promise<Response> => {
    for (let i = 0; ; i++) {
      try {
        const s = server;
        if (!s) throw new Error("the control plane is down");
        const res = await fetch(s.url + p, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": opts.type ?? (opts.raw ? "application/gzip" : "application/json"),
            ...(opts.key ? { "idempotency-key": opts.key } : {}),
          },
          body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
          signal: AbortSignal.timeout(20_000),
        });
        // A 5xx while Postgres or S3 is away, or the answer lost with a killed control plane: ask again.
        if (res.status >= 500) throw new Error(`${method} ${p} → ${res.status}: ${await res.text()}`);
        return res;
      } catch (err) {
        if (i > 900 || aborted) throw err;
        await sleep(200);
      }
    }
  };
  const api = async <T>(method: string, p: string, opts: { body?: unknown; raw?: Buffer; key?: string } = {}): Promise<T> => {
    const res = await call(method, p, opts);
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p} → ${res.status}: ${text}`);
    return JSON.parse(text) as T;
  };

  const diagnosis = async () => {
    const jobs = await db`
      select t.identifier as task, j.key, j.attempts, j.locked_at, j.locked_by, j.run_at, left(j.last_error, 300) as last_error
      from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
      order by j.run_at limit 40`.catch((err: Error) => [{ error: err.message }]);
    const hosts = await db`select name, status, last_error from hosts order by created_at`.catch((err: Error) => [{ error: err.message }]);
    return [
      `hosts:\n${hosts.map((h) => "  " + JSON.stringify(h)).join("\n")}`,
      `jobs:\n${jobs.map((j) => "  " + JSON.stringify(j)).join("\n")}`,
      `control plane output (last 150 lines):\n${outputTail(150)}`,
    ].join("\n");
  };

  const t0 = Date.now();
  const done = { kills: 0, pgRestarts: 0, s3Outage: 0, sshdKills: 0, replays: 0, badSignatures: 0, badAccepted: 0 };
  let failure: Error | null = null;
  /** Set when the run failed: the submitting and delivering loops stop too. */
  let aborted = false;
  try {
    await up();
    token = fs.readFileSync(path.join(env["VH_DATA_DIR"]!, "admin-token"), "utf8").trim();
    await api("POST", "/api/v1/projects", { body: { name: "chaos" }, key: "project" }).catch((err: Error) => {
      if (!/409|exists/.test(err.message)) throw err;
    });
    await api("POST", "/api/v1/hosts", { body: { name: "chaos-ssh", url: sshd.url, privateKey: fs.readFileSync(sshd.keyFile, "utf8") } });

    // The code: an uploaded snapshot for the API's runs, and a Git repository the pushes go to.
    const src = path.join(dir, "src");
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, "valohai.yaml"), VALOHAI_YAML);
    fs.writeFileSync(path.join(src, "job.sh"), JOB_SH);
    const snap = await tarball(src);
    await api("PUT", `/api/v1/code/${snap.sha256}`, { raw: snap.body });
    const origin = path.join(dir, "origin.git");
    const git = (cwd: string, ...args: string[]) =>
      execFileSync("git", ["-c", "user.name=chaos", "-c", "user.email=chaos@example.invalid", "-c", "init.defaultBranch=main", ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] }).toString().trim();
    git(dir, "init", "-q", "--bare", origin);
    git(src, "init", "-q");
    git(src, "add", ".");
    git(src, "commit", "-q", "-m", "the job");
    git(src, "push", "-q", origin, "HEAD:main");
    const repo = await api<{ id: string }>("POST", "/api/v1/repos", { body: { url: `file://${origin}`, project: "chaos", pollSeconds: 30, webhookSecret: gitSecret } });
    const pushed: string[] = [];

    // What the workload asks for, each with its own idempotency key.
    type Ask = { kind: "single"; i: number } | { kind: "sweep"; i: number } | { kind: "push"; i: number };
    const asks: Ask[] = [
      ...Array.from({ length: singles }, (_, i) => ({ kind: "single" as const, i })),
      ...Array.from({ length: apiSweeps }, (_, i) => ({ kind: "sweep" as const, i })),
      ...Array.from({ length: commits }, (_, i) => ({ kind: "push" as const, i })),
    ].sort((a, b) => ((a.i * 7919 + a.kind.length) % 97) - ((b.i * 7919 + b.kind.length) % 97));
    const runId = randomUUID().slice(0, 8);
    let submitted = false;
    // async: with the control plane down, a rejected promise (sent again), never a throw
    const nudge = async (body: string, signature?: string) =>
      fetch(`${upUrl()}/api/git/webhooks/${repo.id}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-hub-signature-256": `sha256=${signature ?? createHmac("sha256", gitSecret).update(body).digest("hex")}` },
        body,
        signal: AbortSignal.timeout(10_000),
      });
    const submit = async () => {
      for (const a of asks) {
        if (aborted) return;
        if (a.kind === "single") {
          await api("POST", "/api/v1/projects/chaos/executions", { body: { step: "job", code: snap.sha256, parameters: { secs: secsOf(a.i) } }, key: `${runId}-single-${a.i}` });
        } else if (a.kind === "sweep") {
          await api("POST", "/api/v1/projects/chaos/sweeps", { body: { step: "job", code: snap.sha256, parameters: { secs: [1, 1.1, 1.2, 1.3, longS] } }, key: `${runId}-sweep-${a.i}` });
        } else {
          fs.writeFileSync(path.join(src, "push.txt"), `push ${a.i}\n`);
          git(src, "add", "push.txt");
          git(src, "commit", "-q", "-m", `push ${a.i}\n\n/vh run job secs=[1,${a.i % 2 ? longS : 1.5}]`);
          git(src, "push", "-q", origin, "HEAD:main");
          const sha = git(src, "rev-parse", "HEAD");
          pushed.push(sha);
          // The notification (a lost one is made up for by the next poll), then wait until vh has
          // seen this commit: a polled host's pushes between two polls count as one, their last
          // commit's (docs/git-hosts.md), which is not what this bench is about.
          for (let waited = 0; ; waited++) {
            if (aborted) return;
            if (waited % 20 === 0) await nudge(JSON.stringify({ ref: "refs/heads/main", after: sha })).catch(() => {});
            const [seen] = await q(() => db<{ n: number }[]>`select count(*)::int as n from forge_deliveries where id = ${`${repo.id}:${sha}`}`);
            if (seen!.n > 0) break;
            if (waited > 1200) throw new Error(`commit ${sha} was not seen by vh within 5 minutes`);
            await sleep(250);
          }
        }
      }
      submitted = true;
    };

    // (e) Deliveries again, and forged ones, spread over the run.
    const ghDistinct = Math.max(2, Math.round(replays / 2 / 10));
    const ghDeliveries = Array.from({ length: ghDistinct }, (_, i) => ({
      id: `chaos-${runId}-${i}`,
      body: JSON.stringify(commentPayload(`Numbers look right (${i}).`, { commentId: 900_000 + i })),
    }));
    const ghSign = (body: string, secret: string) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
    const ghPost = async (d: { id: string; body: string }, secret = SECRET) =>
      fetch(`${upUrl()}/api/github/webhooks`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-github-event": "issue_comment", "x-github-delivery": d.id, "x-hub-signature-256": ghSign(d.body, secret) },
        body: d.body,
        signal: AbortSignal.timeout(10_000),
      });
    const deliveries = async () => {
      // Each GitHub delivery once first (the original), then the replays: half of them GitHub's, half the repository's notifications.
      const plan: ("gh" | "git" | "bad-gh" | "bad-git")[] = [
        ...Array.from({ length: Math.ceil(replays / 2) }, () => "gh" as const),
        ...Array.from({ length: Math.floor(replays / 2) }, () => "git" as const),
        ...Array.from({ length: Math.ceil(badSignatures / 2) }, () => "bad-gh" as const),
        ...Array.from({ length: Math.floor(badSignatures / 2) }, () => "bad-git" as const),
      ].sort(() => Math.random() - 0.5);
      for (const d of ghDeliveries) {
        for (;;) {
          if (aborted) return;
          const res = await ghPost(d).catch(() => null);
          if (res && res.status < 500) break;
          await sleep(200);
        }
      }
      let n = 0;
      for (const kind of plan) {
        n++;
        for (;;) {
          if (aborted) return;
          if (!server) {
            await sleep(100);
            continue;
          }
          let res: Response | null = null;
          if (kind === "gh") res = await ghPost(ghDeliveries[n % ghDeliveries.length]!).catch(() => null);
          else if (kind === "git") res = await nudge(JSON.stringify({ ref: "refs/heads/main", replay: n })).catch(() => null);
          else if (kind === "bad-gh") res = await ghPost({ id: `chaos-bad-${runId}-${n}`, body: JSON.stringify(commentPayload(`/vh run job (forged ${n})`, { commentId: 950_000 + n })) }, "not-the-secret").catch(() => null);
          else res = await nudge(JSON.stringify({ forged: n }), "0".repeat(64)).catch(() => null);
          if (!res) {
            await sleep(100);
            continue; // not delivered (the control plane is down): send it again
          }
          await res.arrayBuffer().catch(() => {});
          if (res.status >= 500) {
            await sleep(100);
            continue;
          }
          if (kind === "gh" || kind === "git") done.replays++;
          else {
            done.badSignatures++;
            if (res.status !== 401) done.badAccepted++;
          }
          break;
        }
        await sleep(SMOKE ? 20 : 60);
      }
    };

    const ended = async () => {
      const [r] = await q(() => db<{ ended: number; open: number }[]>`
        select count(*) filter (where status = any(${TERMINAL as string[]}::text[]))::int as ended,
               count(*) filter (where status <> all(${TERMINAL as string[]}::text[]))::int as open
        from executions`);
      return r!;
    };
    // (a)–(d), each at a point of progress (how many executions have ended), so that the chaos
    // falls on the work whatever the machine's speed; the kills from the start (mid-submission too).
    const killAt = Array.from({ length: kills }, () => Math.random() * 0.9).sort((a, b) => a - b);
    const pgAt = Array.from({ length: pgRestarts }, (_, i) => (i + 1) / (pgRestarts + 1));
    const s3At = 0.45;
    const sshdAt = 0.2;
    const kill = async () => {
      const s = server!;
      server = null;
      await killServerProcess(s.child);
      pastOutput += s.output() + "\n--- control plane killed (SIGKILL) and restarted ---\n";
      done.kills++;
      await sleep(300 + Math.random() * 1500);
      await up();
    };
    const chaos = async () => {
      let sshdBackAt = 0;
      let s3BackAt = 0;
      const deadline = Date.now() + (SMOKE ? 240_000 : 1_800_000);
      let shownAt = 0;
      for (;;) {
        if (aborted) return;
        const { ended: n, open } = await ended();
        const progress = n / total;
        if (Date.now() - shownAt > 10_000) {
          shownAt = Date.now();
          const byStatus = await q(() => db<{ status: string; n: number }[]>`select status, count(*)::int as n from executions group by status order by status`);
          process.stderr.write(
            `chaos ${Math.round((Date.now() - t0) / 1000)} s: ${n} of ${total} ended (${byStatus.map((r) => `${r.status} ${r.n}`).join(", ")}); kills ${done.kills}/${killAt.length}, pg restarts ${done.pgRestarts}/${pgAt.length}, s3 outage ${done.s3Outage ? "done" : "to come"}, sshd ${done.sshdKills ? "killed" : "to come"}, replays ${done.replays}, forged ${done.badSignatures}\n`,
          );
        }
        if (server && (server.child.exitCode !== null || server.child.signalCode !== null)) {
          throw new Error(`the control plane exited by itself (code ${server.child.exitCode}, signal ${server.child.signalCode})\n${await diagnosis()}`);
        }
        if (Date.now() > deadline) {
          const stuck = await db`select counter, status, attempt, status_detail from executions where status <> all(${TERMINAL as string[]}::text[]) order by counter`;
          throw new Error(`${open} executions still open after the deadline (${n} ended): ${JSON.stringify(stuck)}\n${await diagnosis()}`);
        }
        if (sshdBackAt && Date.now() > sshdBackAt) {
          sshdBackAt = 0;
          await sshd.start();
        }
        if (s3BackAt && Date.now() > s3BackAt) {
          s3BackAt = 0;
          await s3.start();
        }
        if (done.kills < killAt.length && progress >= killAt[done.kills]!) {
          await kill();
        } else if (done.pgRestarts < pgAt.length && progress >= pgAt[done.pgRestarts]!) {
          await pg.restart(SMOKE ? 1500 : 3000);
          done.pgRestarts++;
        } else if (!done.s3Outage && progress >= s3At && open > 0) {
          await s3.stop();
          s3BackAt = Date.now() + s3OutageS * 1000;
          done.s3Outage = s3OutageS;
        } else if (!done.sshdKills && progress >= sshdAt) {
          const [busy] = await q(() => db<{ n: number }[]>`
            select count(*)::int as n from execution_placements pl join hosts h on h.id = pl.host_id join executions e on e.id = pl.execution_id
            where h.name = 'chaos-ssh' and pl.released_at is null and e.status = 'running'`);
          if (busy!.n > 0 || progress >= 0.6) {
            sshd.kill();
            sshdBackAt = Date.now() + lostAfterS * 2000;
            done.sshdKills++;
          }
        }
        const allChaos = done.kills === killAt.length && done.pgRestarts === pgAt.length && done.s3Outage > 0 && done.sshdKills > 0 && !sshdBackAt && !s3BackAt;
        if (submitted && allChaos && open === 0 && n >= total) {
          // Twice, a second apart: a lost attempt is ended for a moment before its next one is queued.
          await sleep(1000);
          const again = await ended();
          if (again.open === 0) break;
        }
        await sleep(250);
      }
    };
    const flows = await Promise.allSettled([
      chaos().catch((err: Error) => {
        failure = err;
        aborted = true;
      }),
      submit().catch((err: Error) => {
        aborted = true;
        throw err;
      }),
      deliveries(),
    ]);
    // The chaos loop's failure says why; a submitting or delivering one otherwise.
    if (failure) throw failure;
    for (const f of flows) if (f.status === "rejected") throw f.reason;
    const seconds = (Date.now() - t0) / 1000;

    // What the user sees, through the API.
    const listed = await api<{ results: ExecView[] }>("GET", "/api/v1/projects/chaos/executions?limit=1000");
    const views = listed.results;
    let completed = 0;
    let retried = 0;
    let ranTwice = 0;
    let logGaps = 0;
    let logDuplicates = 0;
    let outputsMissing = 0;
    for (const e of views) {
      if (e.status !== "completed") {
        const history = await q(() => db<{ status: string; reason: string | null }[]>`
          select h.status, h.reason from execution_status_history h where h.execution_id = ${e.id} order by h.id`);
        process.stderr.write(`#${e.counter} ended ${e.status}: ${e.statusDetail ?? ""}; attempts ${JSON.stringify(e.attempts)}; history ${JSON.stringify(history)}\n`);
        continue;
      }
      completed++;
      if (e.attempt > 1) retried++;
      // Its log, page by page.
      const lines: { seq: number; line: string }[] = [];
      for (let after = 0; ; ) {
        const page = await api<{ lines: { seq: number; line: string }[]; next: number }>("GET", `/api/v1/projects/chaos/executions/${e.counter}/logs?after=${after}&limit=5000`);
        lines.push(...page.lines);
        if (page.lines.length < 5000) break;
        after = page.next;
      }
      const problems: string[] = [];
      for (let k = 0; k < lines.length; k++) {
        if (lines[k]!.seq !== k + 1) {
          logGaps++;
          problems.push(`seq ${lines[k]!.seq} at position ${k + 1}`);
          break;
        }
      }
      const finishers = new Set(lines.flatMap((l) => /^chaos run=(\w+) done$/.exec(l.line)?.[1] ?? []));
      if (finishers.size > 1) ranTwice++;
      // Its outputs: the newest of each name.
      const outs = (await api<{ results: { id: string; name: string; sha256: string; createdAt: string }[] }>("GET", `/api/v1/projects/chaos/executions/${e.counter}/outputs`)).results;
      const newest = new Map<string, { id: string; sha256: string; createdAt: string }>();
      for (const o of outs) if (!newest.has(o.name) || newest.get(o.name)!.createdAt < o.createdAt) newest.set(o.name, o);
      const fetchDatum = async (name: string) => {
        const d = newest.get(name);
        if (!d) return null;
        const res = await call("GET", `/api/v1/data/${d.id}/download`);
        if (!res.ok) return null;
        const bytes = Buffer.from(await res.arrayBuffer());
        return sha256(bytes) === d.sha256 ? bytes : null;
      };
      const [data, sum, runTxt] = [await fetchDatum("data.bin"), await fetchDatum("data.sha256"), await fetchDatum("run.txt")];
      const finalRun = runTxt?.toString().trim() ?? [...finishers].at(-1) ?? "";
      if (!data || !sum || !runTxt || sha256(data) !== sum.toString().trim() || !finishers.has(finalRun)) {
        outputsMissing++;
        problems.push(`outputs: ${[...newest.keys()].join(", ") || "none"}${data && sum && sha256(data) !== sum.toString().trim() ? " (data.bin is not what the job wrote)" : ""}`);
      }
      // The completed run's lines: 1..n, each once.
      const seen = new Map<number, number>();
      let n = 0;
      for (const l of lines) {
        const m = new RegExp(`^chaos run=${finalRun} line (\\d+)/(\\d+)$`).exec(l.line);
        if (!m) continue;
        n = Number(m[2]);
        seen.set(Number(m[1]), (seen.get(Number(m[1])) ?? 0) + 1);
      }
      for (let k = 1; k <= n; k++) if (!seen.has(k)) logGaps++;
      if (n === 0) logGaps++;
      for (const c of seen.values()) if (c > 1) logDuplicates += c - 1;
      if (problems.length || n === 0 || seen.size !== n || [...seen.values()].some((c) => c > 1)) {
        process.stderr.write(`#${e.counter}: ${problems.join("; ") || "log lines of its completed run missing or repeated"} (lines ${lines.length}, runs that finished: ${[...finishers].join(", ")})\n`);
      }
    }

    // Replays: a GitHub delivery recorded more than once; a pushed commit run more than once.
    const [gh] = await q(() => db<{ rows: number; ids: number; bad: number }[]>`
      select count(*) filter (where id like ${`chaos-${runId}-%`})::int as rows,
             count(distinct id) filter (where id like ${`chaos-${runId}-%`})::int as ids,
             count(*) filter (where id like ${`chaos-bad-${runId}-%`})::int as bad
      from forge_deliveries`);
    const pushRuns = await q(() => db<{ commit_sha: string; sweeps: number; executions: number }[]>`
      select s.commit_sha, count(distinct s.id)::int as sweeps, count(se.execution_id)::int as executions
      from sweeps s left join sweep_executions se on se.sweep_id = s.id
      where s.commit_sha = any(${pushed}::text[]) group by s.commit_sha`);
    const replaysStarted = gh!.rows - gh!.ids + pushRuns.reduce((a, r) => a + (r.sweeps - 1), 0);
    const pushedMissing = pushed.length - pushRuns.length;
    if (pushedMissing) process.stderr.write(`${pushedMissing} pushed commits never ran\n`);
    const madeBeyond = Math.max(0, views.length - total);
    const figures = {
      executions: total,
      completed,
      retried,
      lost_unrecovered: total - completed,
      duplicated: madeBeyond + ranTwice,
      log_gaps: logGaps,
      log_duplicates: logDuplicates,
      outputs_missing: outputsMissing,
      bad_signatures_accepted: done.badAccepted + gh!.bad,
      replays_started: replaysStarted,
      kills: done.kills,
      pg_restarts: done.pgRestarts,
      s3_outage_s: done.s3Outage,
      sshd_kills: done.sshdKills,
      replays: done.replays,
      bad_signatures: done.badSignatures,
      seconds: round(seconds, 1),
    };
    const missed = [
      figures.completed !== total ? `completed ${figures.completed} of ${total} (${views.length} made)` : "",
      ...(["duplicated", "log_gaps", "log_duplicates", "outputs_missing", "bad_signatures_accepted", "replays_started"] as const).map((k) => (figures[k] !== 0 ? `${k} ${figures[k]}` : "")),
    ].filter(Boolean);
    if (missed.length) throw new Error(`chaos missed its goals: ${missed.join(", ")} (figures ${JSON.stringify(figures)}; each execution concerned is printed above)\n${await diagnosis()}`);
    return figures;
  } finally {
    const s = server as ServerProcess | null;
    if (s) await stopServerProcessWithin(s.child);
    await sshd.stop().catch(() => {});
    await s3.close().catch(() => {});
    await db.end().catch(() => {});
    await pg.close().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
