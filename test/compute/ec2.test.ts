/**
 * EC2 environments end to end, through the suite's EC2 twin (test/helpers/ec2-twin.ts: the real
 * @aws-sdk/client-ec2 speaks EC2's Query protocol to it, and each instance is a real sshd on its own
 * loopback address that runs the user data). Nothing here talks to AWS.
 *
 * - An execution in an environment launches an instance (tags in the launch call, a ClientToken),
 *   runs on it over SSH with its host key pinned from the console, records price and cost, and the
 *   idle instance is terminated.
 * - A spot notice mid-run: the outputs so far are saved, and the execution resumes as attempt 2 on
 *   another instance with them restored and VH_RESUME_ATTEMPT=2; the report says so.
 * - Faults: capacity refused on the first type; an instance that never boots; the control plane
 *   killed between RunInstances and its database write; an instance vh does not know; a terminate
 *   that fails once.
 */
import { costText } from "../../app/cli/commands/exec.js";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { EC2Client, RunInstancesCommand } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, tempDir, waitFor, type Stack } from "../helpers/stack.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { skipWithoutSshd } from "../helpers/sshd.js";
import { startEc2Twin, type Ec2Twin } from "../helpers/ec2-twin.js";

interface Exec {
  id: string;
  counter: number;
  status: string;
  host: string | null;
  environment: string | null;
  attempt: number;
  attempts: { attempt: number; host: string | null; instanceId: string | null; instanceType: string | null; spot: boolean | null; pricePerHour: number | null; seconds: number | null; costUsd: number | null; outcome: string }[];
  costUsd: number | null;
  statusHistory?: { status: string; reason: string | null }[];
  runtime: { hostName?: string } | null;
}

const me = os.userInfo().username;
const YAML = `- step:
    name: quick
    image: busybox
    command: echo quick-ran
- step:
    name: resumable
    image: busybox
    command: sh resume.sh
`;
// Saves a checkpoint at once, then works until stopped; a later attempt finds the checkpoint and finishes.
const RESUME = `if [ -f "$VH_OUTPUTS_DIR/ckpt.txt" ]; then
  echo "resumed at $(cat "$VH_OUTPUTS_DIR/ckpt.txt") attempt \${VH_RESUME_ATTEMPT:-none}"
  echo done > "$VH_OUTPUTS_DIR/final.txt"
  exit 0
fi
echo 5 > "$VH_OUTPUTS_DIR/ckpt.txt"
echo started
i=0
while [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
`;

describe.skipIf(skipWithoutSshd)("EC2 environments (through the twin)", () => {
  let twin: Ec2Twin;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let code: string;
  let dir: string;
  const savedEnv: Record<string, string | undefined> = {};

  const exec = (n: number) => stack.api<Exec>("GET", `/api/v1/projects/ec2/executions/${n}`);
  const run = (step: string, environment: string) => stack.api<Exec>("POST", "/api/v1/projects/ec2/executions", { step, code, environment });
  const hostRows = () =>
    db.sql<{ id: string; name: string; environment: string; instance_id: string | null; lifecycle: string; lifecycle_reason: string | null; instance_type: string | null; price_per_hour: number | null; spot: boolean | null }[]>`
      select id, name, environment, instance_id, lifecycle, lifecycle_reason, instance_type, price_per_hour, spot from hosts where provider = 'ec2' order by created_at`;
  const until = <T>(what: string, f: () => Promise<T | undefined>, ms = 60_000) => waitFor(what, f, ms, 100);
  const ended = (n: number, ms = 90_000) => until(`#${n} to end`, async () => {
    const e = await exec(n);
    // Ended, and its attempt recorded (settled just after the status is written).
    return ["completed", "failed", "error", "stopped"].includes(e.status) && e.attempts.some((a) => a.attempt === e.attempt) ? e : undefined;
  }, ms);

  beforeAll(async () => {
    for (const k of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_PROFILE"]) savedEnv[k] = process.env[k];
    // The SDK's own credential chain, as in production: here the environment, with values the twin accepts.
    process.env["AWS_ACCESS_KEY_ID"] = "AKIDTWIN";
    process.env["AWS_SECRET_ACCESS_KEY"] = "twin-secret";
    delete process.env["AWS_PROFILE"];
    twin = await startEc2Twin({ region: "eu-west-1" });
    twin.setSpotPrice("t3.medium", 0.0125);
    twin.setSpotPrice("t3.large", 0.025);
    dir = tempDir("vh-ec2-");
    const envFile = path.join(dir, "environments.yaml");
    const common = `    provider: ec2\n    region: eu-west-1\n    ami: ami-0123456789abcdef0\n    endpoint: ${twin.endpoint}\n    ssh-user: ${me}\n    ssh-port: ${twin.sshPort}\n`;
    fs.writeFileSync(
      envFile,
      `environments:\n  - name: spot\n${common}    instance-types: [t3.medium, t3.large]\n    spot: true\n    max-price: 0.05\n    max-instances: 2\n    idle-shutdown: 2\n    boot-timeout: 20\n` +
        `  - name: ondemand\n${common}    instance-type: c5.large\n    max-instances: 1\n    idle-shutdown: 1\n    boot-timeout: 4\n`,
    );
    db = await createTestDatabase();
    stack = await startStack({
      databaseUrl: db.connectionString,
      env: { VH_ENVIRONMENTS_FILE: envFile, VH_COMPUTE_TICK_S: "0.2", VH_RECONCILE_S: "1", VH_SPOT_POLL_S: "0.2", VH_LOST_AFTER_S: "5", VH_HOST_CHECK_S: "2" },
    });
    await stack.api("POST", "/api/v1/projects", { name: "ec2" });
    const src = path.join(dir, "src");
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, "valohai.yaml"), YAML);
    fs.writeFileSync(path.join(src, "resume.sh"), RESUME);
    code = await uploadSnapshot(stack, src);
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await twin?.close();
    await db?.drop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it("launches an instance for queued work, runs on it, records its cost, and terminates it when idle", async () => {
    const created = await run("quick", "ondemand");
    expect(created.environment).toBe("ondemand");
    const done = await ended(created.counter);
    expect(done.status).toBe("completed");
    const [host] = (await hostRows()).filter((h) => h.environment === "ondemand");
    expect(host).toMatchObject({ instance_type: "c5.large", spot: false, price_per_hour: 0.085 });
    expect(done.host).toBe(host!.name);
    // The launch call carried the tags and a ClientToken: no instance ever exists untagged.
    const launch = twin.instances().find((i) => i.id === host!.instance_id)!;
    expect(launch.tags).toMatchObject({ "vh:cluster": "vh", "vh:host-id": host!.id, "vh:environment": "ondemand" });
    expect(twin.calls.filter((c) => c.action === "CreateTags")).toEqual([]);
    const runCall = twin.calls.find((c) => c.action === "RunInstances" && c.params["TagSpecification.1.Tag.2.Value"] === host!.id);
    expect(runCall?.params["ClientToken"]).toMatch(/^vh-/);
    expect(runCall?.params["InstanceMarketOptions.MarketType"]).toBeUndefined();
    // The user data holds the public key, never a secret.
    expect(launch.userData).toContain("vh-control-plane");
    expect(launch.userData).not.toContain("twin-secret");
    // Cost: its price for the seconds it ran.
    const a = done.attempts[0]!;
    expect(a).toMatchObject({ attempt: 1, instanceType: "c5.large", spot: false, pricePerHour: 0.085, outcome: "completed", instanceId: host!.instance_id });
    expect(a.costUsd).toBeCloseTo((0.085 * a.seconds!) / 3600, 6);
    expect(done.costUsd).toBeCloseTo(a.costUsd!, 6);
    const env = await stack.api<{ costUsd: number; executions: number }>("GET", "/api/v1/environments/ondemand");
    expect(env.costUsd).toBeCloseTo(a.costUsd!, 6);
    // Idle for idle-shutdown (1 s): terminated, in EC2 and in the record.
    await until("the idle instance to be terminated", async () => (twin.instances().find((i) => i.id === host!.instance_id)?.state === "terminated" ? true : undefined), 20_000);
    await until("its host to say terminated", async () => ((await hostRows()).find((h) => h.id === host!.id)?.lifecycle === "terminated" ? true : undefined), 10_000);
  }, 120_000);

  it("resumes an execution interrupted on spot as attempt 2, elsewhere, with its saved outputs", async () => {
    const created = await run("resumable", "spot");
    const first = await until("#resumable to run", async () => {
      const e = await exec(created.counter);
      return e.status === "running" && e.host ? e : undefined;
    });
    const [firstHost] = (await hostRows()).filter((h) => h.name === first.host);
    expect(firstHost).toMatchObject({ spot: true, instance_type: "t3.medium", price_per_hour: 0.0125 });
    // Let it save its checkpoint, then the notice: taken back in 30 s.
    await until("the checkpoint line", async () => {
      const res = await stack.api<{ lines: { line: string }[] }>("GET", `/api/v1/projects/ec2/executions/${created.counter}/logs`);
      return res.lines.some((l) => l.line === "started") ? true : undefined;
    });
    // While it runs: its attempt's cost so far, from the instance's price (ended attempts: none yet).
    const now = await stack.api<Exec & { currentAttempt: { attempt: number; instanceType: string; spot: boolean; pricePerHour: number; seconds: number; costUsd: number } | null }>("GET", `/api/v1/projects/ec2/executions/${created.counter}`);
    expect(now.currentAttempt).toMatchObject({ attempt: 1, instanceType: "t3.medium", spot: true, pricePerHour: 0.0125 });
    expect(now.currentAttempt!.seconds).toBeGreaterThan(0);
    expect(now.currentAttempt!.costUsd).toBeCloseTo((0.0125 * now.currentAttempt!.seconds) / 3600, 6);
    expect(costText(now as never)).toMatch(/^\$0\.\d{4} so far \(attempt 1 running: t3\.medium spot at \$0\.0125\/h for .+ so far = \$0\.\d{4}\)$/);
    twin.spotNotice(firstHost!.instance_id!, 30);
    const done = await ended(created.counter, 120_000);
    expect((done as Exec & { currentAttempt: unknown }).currentAttempt).toBeNull();
    expect(done.status).toBe("completed");
    expect(done.attempt).toBe(2);
    expect(done.attempts.map((a) => a.outcome)).toEqual(["interrupted", "completed"]);
    expect(done.attempts[0]).toMatchObject({ instanceId: firstHost!.instance_id, instanceType: "t3.medium", spot: true, pricePerHour: 0.0125 });
    // Another instance, of the other type first (the interrupted one is tried last for a while).
    expect(done.attempts[1]!.instanceId).not.toBe(firstHost!.instance_id);
    expect(done.attempts[1]!.instanceType).toBe("t3.large");
    const logs = await stack.api<{ lines: { line: string }[] }>("GET", `/api/v1/projects/ec2/executions/${created.counter}/logs`);
    expect(logs.lines.map((l) => l.line)).toContain("resumed at 5 attempt 2");
    const history = (await stack.api<Exec>("GET", `/api/v1/projects/ec2/executions/${created.counter}?history=1`)).statusHistory ?? [];
    const reasons = history.map((h) => h.reason ?? "").join("\n");
    expect(reasons).toMatch(/Spot interruption notice for instance i-[0-9a-f]+ \(t3\.medium\)/);
    expect(reasons).toMatch(/Interrupted on spot \(instance i-[0-9a-f]+, t3\.medium\); resumed as attempt 2 of at most 3/);
    const outputs = await stack.api<{ results: { name: string }[] }>("GET", `/api/v1/projects/ec2/executions/${created.counter}/outputs`);
    expect(outputs.results.map((o) => o.name).sort()).toEqual(["ckpt.txt", "final.txt"]);
    expect(done.costUsd).toBeCloseTo(done.attempts.reduce((n, a) => n + (a.costUsd ?? 0), 0), 6);
    // The drained instance is terminated once empty.
    await until("the interrupted instance to be terminated", async () => (twin.instances().find((i) => i.id === firstHost!.instance_id)?.state === "terminated" ? true : undefined), 30_000);
  }, 180_000);

  it("falls to the next offer when capacity is refused, and replaces an instance that never boots", async () => {
    await until("no spot instance left from before", async () => ((await hostRows()).every((h) => h.environment !== "spot" || h.lifecycle === "terminated") ? true : undefined), 20_000);
    const before = twin.calls.filter((c) => c.action === "RunInstances").length;
    // t3.medium was interrupted in the test before, so t3.large is tried first for a while; none of it
    // is to be had (EC2 answers 500: handed to vh at once, not retried by the SDK).
    twin.setCapacity("t3.large", 0);
    const a = await run("quick", "spot");
    const doneA = await ended(a.counter);
    twin.setCapacity("t3.large", null);
    expect(doneA.status).toBe("completed");
    const launches = twin.calls.filter((c) => c.action === "RunInstances").slice(before);
    expect([...new Set(launches.map((c) => c.params["InstanceType"]))]).toEqual(["t3.large", "t3.medium"]);
    const refused = launches.filter((c) => c.params["InstanceType"] === "t3.large");
    expect(new Set(refused.map((c) => c.params["ClientToken"])).size, "each refused launch was sent once").toBe(refused.length);
    expect(launches.at(-1)!.params["InstanceType"]).toBe("t3.medium");
    expect(launches.at(-1)!.params["InstanceMarketOptions.MarketType"]).toBe("spot");
    expect(launches.at(-1)!.params["InstanceMarketOptions.SpotOptions.MaxPrice"]).toBe("0.05");
    expect(doneA.attempts[0]!.instanceType).toBe("t3.medium");

    // ondemand: boot-timeout 4 s. The first instance never comes up: failed, terminated, replaced.
    await until("no ondemand instance left", async () => ((await hostRows()).every((h) => h.environment !== "ondemand" || h.lifecycle === "terminated") ? true : undefined), 20_000);
    twin.neverBoot(1);
    const b = await run("quick", "ondemand");
    const doneB = await ended(b.counter, 60_000);
    expect(doneB.status).toBe("completed");
    const failed = (await hostRows()).filter((h) => h.environment === "ondemand" && /boot-timeout/.test(h.lifecycle_reason ?? ""));
    expect(failed).toHaveLength(1);
    expect(twin.instances().find((i) => i.id === failed[0]!.instance_id)?.state).toBe("terminated");
  }, 120_000);

  it("says which rented hosts it can no longer watch when their environment left the file", async () => {
    const id = randomUUID();
    const name = `retired-${id.slice(0, 6)}`;
    await db.sql`insert into hosts (id, name, kind, enabled, status, source, provider, environment, lifecycle, region, instance_id, instance_type, spot, price_per_hour)
      values (${id}, ${name}, 'ssh', true, 'up', 'compute', 'ec2', 'retired-env', 'ready', 'eu-west-1', 'i-0123456789abcdef0', 'c5.large', false, 0.085)`;
    try {
      const res = await stack.vh.worker!.compute!.reconcile();
      expect(res && res.orphaned).toEqual([name]);
      // Once terminated (by hand, as the warning says), it is no longer named.
      await db.sql`update hosts set lifecycle = 'terminated' where id = ${id}`;
      const again = await stack.vh.worker!.compute!.reconcile();
      expect(again && again.orphaned).toEqual([]);
    } finally {
      await db.sql`delete from hosts where id = ${id}`;
    }
  });

  it("leaves nothing running after a reconcile: an instance vh never recorded, a lost launch answer, a failed terminate", async () => {
    const client = new EC2Client({ region: "eu-west-1", endpoint: twin.endpoint });
    // 1. The control plane died after RunInstances, before any row said so: an instance no row knows.
    const orphan = await client.send(new RunInstancesCommand({
      ImageId: "ami-0123456789abcdef0", InstanceType: "c5.large", MinCount: 1, MaxCount: 1, ClientToken: `orphan-${randomUUID()}`,
      TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "vh:cluster", Value: "vh" }, { Key: "vh:host-id", Value: randomUUID() }, { Key: "vh:environment", Value: "ondemand" }] }],
    }));
    const orphanId = orphan.Instances![0]!.InstanceId!;
    // 2. It died after writing the row and calling RunInstances, before recording the answer.
    const rowId = randomUUID();
    const token = `vh-${rowId}`;
    await db.sql`insert into hosts (id, name, kind, enabled, status, source, provider, environment, launch_token, lifecycle, region, instance_type, spot, price_per_hour)
      values (${rowId}, ${`ondemand-lost-${rowId.slice(0, 6)}`}, 'ssh', false, 'unknown', 'compute', 'ec2', 'ondemand', ${token}, 'launching', 'eu-west-1', 'c5.large', false, 0.085)`;
    const answered = await client.send(new RunInstancesCommand({
      ImageId: "ami-0123456789abcdef0", InstanceType: "c5.large", MinCount: 1, MaxCount: 1, ClientToken: token,
      TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "vh:cluster", Value: "vh" }, { Key: "vh:host-id", Value: rowId }, { Key: "vh:environment", Value: "ondemand" }] }],
    }));
    const lostAnswerId = answered.Instances![0]!.InstanceId!;
    // 3. The first terminate of the orphan fails (a 400 the SDK does not retry); the next reconcile tries again.
    twin.failNext("TerminateInstances", "DependencyViolation");
    const compute = stack.vh.worker!.compute!;
    await compute.reconcile();
    await compute.reconcile();
    await until("the orphan to be terminated", async () => (twin.instances().find((i) => i.id === orphanId)?.state === "terminated" ? true : undefined), 10_000);
    expect(twin.calls.filter((c) => c.action === "TerminateInstances" && c.params["InstanceId.1"] === orphanId).length).toBeGreaterThanOrEqual(2);
    // The lost answer is adopted (or re-asked with the same token): one instance for that row, never two.
    const row = await until("the row to know its instance", async () => (await hostRows()).find((h) => h.id === rowId && h.instance_id) ?? undefined, 10_000);
    expect(row.instance_id).toBe(lostAnswerId);
    expect(twin.instances().filter((i) => i.tags["vh:host-id"] === rowId)).toHaveLength(1);
    // Nothing queued: the adopted instance is idle past idle-shutdown and goes too. Then nothing tagged runs but what a row wants.
    await until("every instance vh does not want to be gone", async () => {
      const rows = await hostRows();
      const wanted = new Set(rows.filter((h) => !["terminated", "failed", "terminating"].includes(h.lifecycle)).map((h) => h.instance_id));
      const live = twin.instances().filter((i) => i.state !== "terminated" && i.state !== "shutting-down");
      return live.every((i) => wanted.has(i.id)) ? true : undefined;
    }, 20_000);
    expect(twin.unknownCalls).toEqual([]);
  }, 60_000);
});
