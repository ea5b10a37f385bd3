/**
 * The suite's EC2 twin (test/helpers/ec2-twin.ts) checked against the real @aws-sdk/client-ec2: the
 * SDK must parse every answer, its errors must arrive as the SDK's named exceptions, and an instance
 * must be what vh needs of EC2 — reachable over SSH once its user data authorised a key, its host
 * key on the console, a spot notice on its metadata service, and its processes gone when it is
 * terminated. If the twin drifted from EC2's wire format, the EC2 tests built on it would prove
 * nothing; this file is what keeps it honest.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeSpotPriceHistoryCommand,
  EC2Client,
  GetConsoleOutputCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type RunInstancesCommandInput,
} from "@aws-sdk/client-ec2";
import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildUserData, hostKeysInConsole, READY_MARKER } from "../../worker/compute/ec2/user-data.js";
import { skipWithoutSshd } from "../helpers/sshd.js";
import { startEc2Twin, type Ec2Twin } from "../helpers/ec2-twin.js";
import { waitFor } from "../helpers/stack.js";

const me = os.userInfo().username;
const key = ssh2.utils.generateKeyPairSync("ed25519", { comment: "vh-control-plane" });

function sshRun(host: string, port: number, fingerprint: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.on("ready", () => {
      c.exec(command, (err, stream) => {
        if (err) return reject(err);
        let out = "";
        stream.on("data", (d: Buffer) => (out += d.toString()));
        stream.on("close", () => {
          c.end();
          resolve(out);
        });
      });
    });
    c.on("error", reject);
    c.connect({
      host,
      port,
      username: me,
      privateKey: key.private,
      hostHash: "sha256",
      // The fingerprint from the console, as vh pins it: any other key is refused.
      hostVerifier: (h: string) => `SHA256:${Buffer.from(h, "hex").toString("base64").replace(/=+$/, "")}` === fingerprint,
      readyTimeout: 5000,
    });
  });
}

describe.skipIf(skipWithoutSshd)("the EC2 twin, through the real AWS SDK", () => {
  let twin: Ec2Twin;
  let ec2: EC2Client;
  const saved = { id: process.env["AWS_ACCESS_KEY_ID"], secret: process.env["AWS_SECRET_ACCESS_KEY"] };

  beforeAll(async () => {
    twin = await startEc2Twin({ region: "eu-west-1", pageSize: 2 });
    ec2 = new EC2Client({ region: "eu-west-1", endpoint: twin.endpoint, credentials: { accessKeyId: "AKIDTWIN", secretAccessKey: "twin-secret" }, maxAttempts: 1 });
  });
  afterAll(async () => {
    await twin?.close();
    process.env["AWS_ACCESS_KEY_ID"] = saved.id;
    process.env["AWS_SECRET_ACCESS_KEY"] = saved.secret;
  });

  const launch = (over: Partial<RunInstancesCommandInput> = {}) =>
    ec2.send(
      new RunInstancesCommand({
        ImageId: "ami-0123456789abcdef0",
        InstanceType: "t3.medium",
        MinCount: 1,
        MaxCount: 1,
        UserData: Buffer.from(buildUserData({ sshUser: me, publicKey: key.public, spotPollSeconds: 0.1, cluster: "twin", hostId: "h1" })).toString("base64"),
        TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "vh:cluster", Value: "twin" }, { Key: "vh:host-id", Value: "h1" }] }],
        ...over,
      }),
    );

  it("launches with tags and a ClientToken (the same token, the same instance), and describes by filter and page", async () => {
    const a = await launch({ ClientToken: "tok-1" });
    const again = await launch({ ClientToken: "tok-1" });
    const id = a.Instances![0]!.InstanceId!;
    expect(id).toMatch(/^i-[0-9a-f]{17}$/);
    expect(again.Instances![0]!.InstanceId).toBe(id);
    expect(a.Instances![0]!.State?.Name).toBe("pending");
    expect(a.Instances![0]!.Tags).toEqual(expect.arrayContaining([{ Key: "vh:cluster", Value: "twin" }, { Key: "vh:host-id", Value: "h1" }]));
    await expect(launch({ ClientToken: "tok-1", InstanceType: "t3.large" })).rejects.toMatchObject({ name: "IdempotentParameterMismatch" });
    // The wire keys are EC2's own (TagSpecification.N.Tag.M.Key), not the SDK's member names.
    const wire = twin.calls.find((c) => c.action === "RunInstances")!.params;
    expect(wire).toMatchObject({ ClientToken: "tok-1", "TagSpecification.1.ResourceType": "instance", "TagSpecification.1.Tag.1.Key": "vh:cluster", "TagSpecification.1.Tag.2.Value": "h1" });

    await launch({ TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "vh:cluster", Value: "other" }] }] });
    await launch({ ClientToken: "tok-2" });
    await launch({ ClientToken: "tok-3" });
    // Filtered and paged (page size 2): three instances of cluster "twin", over two pages.
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "tag:vh:cluster", Values: ["twin"] }, { Name: "instance-state-name", Values: ["pending", "running"] }], NextToken: token }));
      pages++;
      for (const res of r.Reservations ?? []) for (const i of res.Instances ?? []) seen.push(i.InstanceId!);
      token = r.NextToken;
    } while (token);
    expect(pages).toBe(2);
    expect(seen).toHaveLength(3);
    expect(seen).toContain(id);
    await expect(ec2.send(new DescribeInstancesCommand({ InstanceIds: ["i-00000000000000000"] }))).rejects.toMatchObject({ name: "InvalidInstanceID.NotFound" });
    await expect(ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "no-such-filter", Values: ["x"] }] }))).rejects.toMatchObject({ name: "InvalidParameterValue" });
    expect(twin.unknownCalls).toEqual(["DescribeInstances filter no-such-filter"]);
    twin.unknownCalls.length = 0;
  }, 30_000);

  it("checks each request's SigV4 signature: a wrong secret, an unknown key and another region's scope are refused", async () => {
    const other = (credentials: { accessKeyId: string; secretAccessKey: string }, region = "eu-west-1") =>
      new EC2Client({ region, endpoint: twin.endpoint, credentials, maxAttempts: 1 }).send(new DescribeInstancesCommand({}));
    await expect(other({ accessKeyId: "AKIDTWIN", secretAccessKey: "twin-secret" })).resolves.toBeDefined();
    await expect(other({ accessKeyId: "AKIDTWIN", secretAccessKey: "not-the-secret" })).rejects.toMatchObject({ name: "SignatureDoesNotMatch" });
    await expect(other({ accessKeyId: "AKIDSOMEONE", secretAccessKey: "twin-secret" })).rejects.toMatchObject({ name: "AuthFailure" });
    await expect(other({ accessKeyId: "AKIDTWIN", secretAccessKey: "twin-secret" }, "us-east-1")).rejects.toMatchObject({ name: "AuthFailure" });
  });

  it("boots: the user data authorises the key, the console shows the host key, and SSH with that key pinned works", async () => {
    const r = await launch();
    const id = r.Instances![0]!.InstanceId!;
    const consoleText = await waitFor(
      "the console to show the bootstrap ready",
      async () => {
        const out = await ec2.send(new GetConsoleOutputCommand({ InstanceId: id, Latest: true }));
        const text = out.Output ? Buffer.from(out.Output, "base64").toString() : "";
        return text.includes(READY_MARKER) && text.includes("END SSH HOST KEY FINGERPRINTS") ? text : undefined;
      },
      10_000,
      50,
    );
    const [fp] = hostKeysInConsole(consoleText);
    expect(fp).toMatch(/^SHA256:/);
    const d = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    const inst = d.Reservations![0]!.Instances![0]!;
    expect(inst.State?.Name).toBe("running");
    expect(inst.PrivateIpAddress).toMatch(/^127\./);
    expect(await sshRun(inst.PrivateIpAddress!, twin.sshPort, fp!, "echo $VH_TWIN_INSTANCE")).toBe(`${id}\n`);
    // A wrong pin is refused.
    await expect(sshRun(inst.PrivateIpAddress!, twin.sshPort, "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "true")).rejects.toThrow();

    // The metadata twin: a spot notice appears where the instance's watcher reads it.
    const spot = await launch({ InstanceMarketOptions: { MarketType: "spot", SpotOptions: { MaxPrice: "0.05" } } });
    const sid = spot.Instances![0]!.InstanceId!;
    expect(spot.Instances![0]!.InstanceLifecycle).toBe("spot");
    const home = path.join(twin.instances().find((i) => i.id === sid)!.dir, "home");
    await waitFor("the spot instance's bootstrap", async () => (fs.existsSync(path.join(home, ".vh", "spot-watch.sh")) ? true : undefined), 10_000, 50);
    twin.spotNotice(sid, 1);
    const notice = await waitFor("the watcher to see the notice", async () => {
      try {
        return fs.readFileSync(path.join(home, ".vh", "interruption"), "utf8");
      } catch {
        return undefined;
      }
    }, 10_000, 50);
    expect(JSON.parse(notice)).toMatchObject({ action: "terminate" });
    // Taken back when the notice said: terminated, the watcher's processes gone.
    await waitFor("the reclaim", async () => (twin.instances().find((i) => i.id === sid)!.state === "terminated" ? true : undefined), 10_000, 50);
    const again = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [sid] }));
    expect(again.Reservations![0]!.Instances![0]!.StateReason?.Code).toBe("Server.SpotInstanceTermination");
    const marker = Buffer.from(`VH_TWIN_INSTANCE=${sid}\0`);
    const alive = fs.readdirSync("/proc").filter((p) => {
      try {
        return /^\d+$/.test(p) && fs.readFileSync(`/proc/${p}/environ`).includes(marker);
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
  }, 30_000);

  it("terminates idempotently, and an instance that never boots stays silent", async () => {
    twin.neverBoot(1);
    const r = await launch();
    const id = r.Instances![0]!.InstanceId!;
    await waitFor("running", async () => (twin.instances().find((i) => i.id === id)!.state === "running" ? true : undefined), 5000, 20);
    await new Promise((res) => setTimeout(res, 300));
    const out = await ec2.send(new GetConsoleOutputCommand({ InstanceId: id }));
    expect(out.Output).toBeUndefined();
    const t1 = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(t1.TerminatingInstances![0]).toMatchObject({ InstanceId: id, PreviousState: { Name: "running" }, CurrentState: { Name: "shutting-down" } });
    const t2 = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    expect(t2.TerminatingInstances![0]!.InstanceId).toBe(id);
    await expect(ec2.send(new TerminateInstancesCommand({ InstanceIds: ["i-00000000000000001"] }))).rejects.toMatchObject({ name: "InvalidInstanceID.NotFound" });
    twin.failNext("TerminateInstances", "DependencyViolation");
    await expect(ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }))).rejects.toMatchObject({ name: "DependencyViolation", $metadata: { httpStatusCode: 400 } });
  }, 20_000);

  it("prices spot, refuses a max price below it and launches beyond capacity as EC2 does", async () => {
    twin.setSpotPrice("t3.large", 0.031);
    const h = await ec2.send(new DescribeSpotPriceHistoryCommand({ InstanceTypes: ["t3.large"], ProductDescriptions: ["Linux/UNIX"], StartTime: new Date() }));
    const prices = h.SpotPriceHistory!.map((p) => Number(p.SpotPrice));
    expect(Math.min(...prices)).toBeCloseTo(0.031, 6);
    expect(h.SpotPriceHistory![0]!.Timestamp).toBeInstanceOf(Date);
    await expect(launch({ InstanceType: "t3.large", InstanceMarketOptions: { MarketType: "spot", SpotOptions: { MaxPrice: "0.02" } } })).rejects.toMatchObject({ name: "SpotMaxPriceTooLow" });
    twin.setCapacity("c5.large", 0);
    await expect(launch({ InstanceType: "c5.large" })).rejects.toMatchObject({ name: "InsufficientInstanceCapacity", $metadata: { httpStatusCode: 500 } });
    twin.setCapacity("c5.large", null);
    const types = await ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ["g5.xlarge", "t3.medium"] }));
    const g5 = types.InstanceTypes!.find((t) => t.InstanceType === "g5.xlarge")!;
    expect(g5).toMatchObject({ VCpuInfo: { DefaultVCpus: 4 }, MemoryInfo: { SizeInMiB: 16384 } });
    expect(g5.GpuInfo?.Gpus?.[0]).toMatchObject({ Name: "A10G", Count: 1 });
    // Unsigned calls are refused, and actions the twin does not speak are recorded.
    const res = await fetch(twin.endpoint, { method: "POST", body: "Action=DescribeInstances&Version=2016-11-15", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(res.status).toBe(401);
    const { CreateTagsCommand } = await import("@aws-sdk/client-ec2");
    await expect(ec2.send(new CreateTagsCommand({ Resources: ["i-1"], Tags: [] }))).rejects.toMatchObject({ name: "InvalidAction" });
    expect(twin.unknownCalls).toEqual(["CreateTags"]);
  }, 20_000);
});
