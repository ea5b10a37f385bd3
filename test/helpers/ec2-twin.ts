/**
 * A twin of EC2 for the suite and the benches: nothing here talks to AWS.
 *
 * - An HTTP server speaking EC2's Query protocol (form-encoded POST, `Action=…&Version=2016-11-15`,
 *   XML answers and `<Response><Errors>` errors), reached by the real `@aws-sdk/client-ec2` through
 *   its `endpoint` setting. The subset vh calls: RunInstances (ClientToken idempotency,
 *   TagSpecifications, spot market options with MaxPrice), DescribeInstances (ids, filters, paging),
 *   TerminateInstances (idempotent), DescribeSpotPriceHistory, DescribeInstanceTypes,
 *   GetConsoleOutput. Any other action is answered `InvalidAction` and recorded in `unknownCalls`.
 *   Every request's SigV4 signature is checked against the twin's keys (TWIN_CREDENTIALS) and region.
 * - Each instance is a real OpenSSH sshd on its own loopback address (127.X.Y.Z, the same port for
 *   all, as on EC2 every instance listens on 22 at its own IP), with its own host key and HOME. At
 *   boot the twin runs the instance's user data as a shell script (as cloud-init would) with
 *   `VH_IMDS_ENDPOINT` pointing at the instance metadata twin and `VH_SSH_HOST_KEY_DIR` at the host
 *   keys; what it prints, plus cloud-init's fingerprint block, is the console (GetConsoleOutput).
 * - An IMDSv2 twin (`PUT /latest/api/token`, then the token in `X-aws-ec2-metadata-token`), one per
 *   instance under `/<instance-id>/`, with `spot/instance-action` and
 *   `events/recommendations/rebalance` that a test raises with `spotNotice()` / `rebalance()`.
 * - Faults: `failNext(action, code)`, `setCapacity(type, n)` (InsufficientInstanceCapacity beyond
 *   it), spot prices (SpotMaxPriceTooLow above MaxPrice), `neverBoot(n)` (running, but no sshd and
 *   an empty console), `reclaim(id)` (the spot service takes it back now).
 *
 * Terminating an instance kills its sshd and every process that carries its `VH_TWIN_INSTANCE`
 * marker in its environment or runs in its folder: the work an instance ran dies with it.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { freePort } from "./net.js";
import { SSHD, sshdConfig } from "./sshd.js";

export type TwinState = "pending" | "running" | "shutting-down" | "terminated";

export interface TwinInstance {
  id: string;
  state: TwinState;
  instanceType: string;
  imageId: string;
  zone: string;
  privateIp: string;
  spot: boolean;
  maxPrice: number | null;
  clientToken: string | null;
  tags: Record<string, string>;
  /** The user data as the instance received it (decoded). */
  userData: string;
  launchedAt: Date;
  /** When a spot interruption notice was raised, and when the instance is taken back. */
  noticeAt: Date | null;
  reclaimAt: Date | null;
  rebalanceAt: Date | null;
  /** Why it ended ("Client.UserInitiatedShutdown", "Server.SpotInstanceTermination"). */
  stateReason: string | null;
  /** It never booted (neverBoot): no sshd, no console. */
  dead: boolean;
  dir: string;
}

export interface TwinCall {
  action: string;
  /** The flat Query keys and values (`TagSpecification.1.Tag.2.Value`), less Action and Version. */
  params: Record<string, string>;
  at: number;
}

export interface Ec2Twin {
  /** The endpoint for the SDK (`new EC2Client({ endpoint })`). */
  endpoint: string;
  region: string;
  /** The port every instance's sshd listens on, at its own address. */
  sshPort: number;
  imdsPort: number;
  instances(): TwinInstance[];
  calls: TwinCall[];
  /** Actions the twin does not speak, and filters it does not know: a test asserts none. */
  unknownCalls: string[];
  /** The next `times` calls of `action` fail with `code`. */
  failNext(action: string, code: string, times?: number): void;
  /** At most `n` pending or running instances of `type`; null: unlimited. */
  setCapacity(type: string, n: number | null): void;
  setSpotPrice(type: string, price: number): void;
  /** The next `n` instances launched never boot. */
  neverBoot(n: number): void;
  /** A spot interruption notice, and the instance taken back `inSeconds` later (EC2 gives two minutes). */
  spotNotice(id: string, inSeconds: number): void;
  rebalance(id: string): void;
  /** The spot service takes the instance back now. */
  reclaim(id: string): Promise<void>;
  close(): Promise<void>;
}

export interface Ec2TwinOptions {
  region?: string;
  /** How long an instance stays pending before it runs (ms). */
  bootDelayMs?: number;
  /** Page size of DescribeInstances when the caller asks for none (to exercise NextToken). */
  pageSize?: number;
  /** The access keys it accepts, with their secrets (default: AKIDTWIN / twin-secret, what the suites set). */
  credentials?: Record<string, string>;
}

/** The well-known test credentials the suites and the bench put in the SDK's environment. */
export const TWIN_CREDENTIALS = { accessKeyId: "AKIDTWIN", secretAccessKey: "twin-secret" } as const;

const sha256hex = (b: string | Buffer) => createHash("sha256").update(b).digest("hex");
const hmac = (key: string | Buffer, text: string) => createHmac("sha256", key).update(text).digest();

/**
 * Checks a request's SigV4 signature as EC2 does (AWS's published algorithm, done here with
 * node:crypto): the canonical request from the method, path, query, the signed headers and the
 * body's hash; the string to sign with the request's date and scope; the key derived from the
 * secret. Null when valid, else why not (EC2 answers AuthFailure or SignatureDoesNotMatch).
 */
function sigV4Problem(req: http.IncomingMessage, body: Buffer, secrets: Record<string, string>, region: string): { code: string; message: string } | null {
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/ec2\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(String(req.headers.authorization ?? ""));
  if (!m) return { code: "AuthFailure", message: "AWS was not able to validate the provided access credentials" };
  const [, keyId, date, scopeRegion, signedHeaders, signature] = m as unknown as [string, string, string, string, string, string];
  const secret = secrets[keyId];
  if (secret === undefined) return { code: "AuthFailure", message: `The access key ${keyId} is not known to this twin` };
  if (scopeRegion !== region) return { code: "AuthFailure", message: `Credential should be scoped to a valid region, not '${scopeRegion}'` };
  const amzDate = String(req.headers["x-amz-date"] ?? "");
  if (!amzDate.startsWith(date)) return { code: "AuthFailure", message: "The request's X-Amz-Date does not match its credential scope" };
  const url = new URL(req.url ?? "/", "http://twin");
  const query = [...url.searchParams].map(([k, v]) => [encodeURIComponent(k), encodeURIComponent(v)]).sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join("&");
  const names = signedHeaders.split(";");
  const headers = names.map((h) => `${h}:${String(req.headers[h] ?? "").trim().replace(/\s+/g, " ")}\n`).join("");
  const payload = typeof req.headers["x-amz-content-sha256"] === "string" ? req.headers["x-amz-content-sha256"] : sha256hex(body);
  const canonical = [req.method ?? "POST", url.pathname, query, headers, signedHeaders, payload].join("\n");
  const toSign = ["AWS4-HMAC-SHA256", amzDate, `${date}/${scopeRegion}/ec2/aws4_request`, sha256hex(canonical)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), scopeRegion), "ec2"), "aws4_request");
  const expected = createHmac("sha256", key).update(toSign).digest();
  if (!names.includes("host") || !timingSafeEqual(expected, Buffer.from(signature, "hex"))) {
    return { code: "SignatureDoesNotMatch", message: "The request signature we calculated does not match the signature you provided." };
  }
  return null;
}

/** The types the twin knows, with what DescribeInstanceTypes answers and their on-demand price. */
const TYPES: Record<string, { vcpus: number; memMiB: number; gpus: number; gpuName: string | null; gpuMemMiB: number; price: number }> = {
  "t3.medium": { vcpus: 2, memMiB: 4096, gpus: 0, gpuName: null, gpuMemMiB: 0, price: 0.0416 },
  "t3.large": { vcpus: 2, memMiB: 8192, gpus: 0, gpuName: null, gpuMemMiB: 0, price: 0.0832 },
  "c5.large": { vcpus: 2, memMiB: 4096, gpus: 0, gpuName: null, gpuMemMiB: 0, price: 0.085 },
  "m5.large": { vcpus: 2, memMiB: 8192, gpus: 0, gpuName: null, gpuMemMiB: 0, price: 0.096 },
  "g5.xlarge": { vcpus: 4, memMiB: 16384, gpus: 1, gpuName: "A10G", gpuMemMiB: 24576, price: 1.006 },
  "g4dn.xlarge": { vcpus: 4, memMiB: 16384, gpus: 1, gpuName: "T4", gpuMemMiB: 16384, price: 0.526 },
  "p3.2xlarge": { vcpus: 8, memMiB: 62464, gpus: 1, gpuName: "V100", gpuMemMiB: 16384, price: 3.06 },
};

/** Codes EC2 answers as server errors (HTTP 500, retried by the SDK); the rest are client errors (400). */
const SERVER_CODES = new Set(["InsufficientInstanceCapacity", "InsufficientCapacity", "InsufficientHostCapacity", "InternalError", "Unavailable", "ServiceUnavailable"]);

const STATE_CODE: Record<TwinState, number> = { pending: 0, running: 16, "shutting-down": 32, terminated: 48 };

class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const x = (s: string | number | boolean) =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!);

/** Values of a Query list: `InstanceId.1`, `InstanceId.2`, … */
function list(p: URLSearchParams, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 1; p.has(`${prefix}.${i}`); i++) out.push(p.get(`${prefix}.${i}`)!);
  return out;
}

function waitPort(host: string, port: number, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tryOnce = () => {
      const s = net.connect(port, host);
      s.once("connect", () => {
        s.destroy();
        resolve();
      });
      s.once("error", () => {
        if (Date.now() > until) reject(new Error(`the twin's sshd did not listen on ${host}:${port}`));
        else setTimeout(tryOnce, 10);
      });
    };
    tryOnce();
  });
}

/** Processes whose environment carries the instance's marker or whose folder is the instance's. */
function processesOf(id: string, dir: string): number[] {
  const marker = Buffer.from(`VH_TWIN_INSTANCE=${id}\0`);
  const out: number[] = [];
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const env = fs.readFileSync(`/proc/${e}/environ`);
      if (env.includes(marker)) {
        out.push(Number(e));
        continue;
      }
    } catch {
      // gone, or not ours
    }
    try {
      const cwd = fs.readlinkSync(`/proc/${e}/cwd`);
      if (cwd === dir || cwd.startsWith(`${dir}/`)) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

export async function startEc2Twin(opts: Ec2TwinOptions = {}): Promise<Ec2Twin> {
  const region = opts.region ?? "eu-west-1";
  const bootDelayMs = opts.bootDelayMs ?? 100;
  const secrets = opts.credentials ?? { [TWIN_CREDENTIALS.accessKeyId]: TWIN_CREDENTIALS.secretAccessKey };
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "vh-ec2-twin-"));
  fs.chmodSync(root, 0o755);
  if (process.getuid?.() === 0) fs.mkdirSync("/run/sshd", { recursive: true });
  const sshPort = await freePort();
  const me = os.userInfo().username;
  // Loopback addresses of this twin: 127.<random>.<n>.<m>, so twins running side by side never meet.
  const octet = 16 + Math.floor(Math.random() * 200);
  let nextAddress = 0;

  const instances = new Map<string, TwinInstance>();
  const sshds = new Map<string, ChildProcess>();
  const timers = new Set<NodeJS.Timeout>();
  const byToken = new Map<string, string>();
  const calls: TwinCall[] = [];
  const unknownCalls: string[] = [];
  const failures: { action: string; code: string; left: number }[] = [];
  const capacity = new Map<string, number>();
  const spotPrices = new Map<string, number>();
  const imdsTokens = new Map<string, string>();
  let neverBootLeft = 0;
  let closed = false;

  const later = (ms: number, f: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!closed) f();
    }, ms);
    timers.add(t);
  };

  // ---------------------------------------------------------------- the instance metadata twin
  const imds = http.createServer((req, res) => {
    const m = /^\/(i-[0-9a-f]+)(\/.*)$/.exec(req.url ?? "");
    const inst = m ? instances.get(m[1]!) : undefined;
    if (!m || !inst || inst.state !== "running") {
      res.writeHead(404).end();
      return;
    }
    const rest = m[2]!;
    if (rest === "/latest/api/token") {
      if (req.method !== "PUT" || !req.headers["x-aws-ec2-metadata-token-ttl-seconds"]) {
        res.writeHead(400).end();
        return;
      }
      const token = randomBytes(16).toString("base64url");
      imdsTokens.set(token, inst.id);
      res.writeHead(200, { "content-type": "text/plain" }).end(token);
      return;
    }
    if (imdsTokens.get(String(req.headers["x-aws-ec2-metadata-token"] ?? "")) !== inst.id) {
      res.writeHead(401).end();
      return;
    }
    const text = (s: string) => res.writeHead(200, { "content-type": "text/plain" }).end(s);
    if (rest === "/latest/meta-data/instance-id") return text(inst.id);
    if (rest === "/latest/meta-data/instance-type") return text(inst.instanceType);
    if (rest === "/latest/meta-data/placement/availability-zone") return text(inst.zone);
    if (rest === "/latest/meta-data/spot/instance-action" && inst.reclaimAt) {
      return text(JSON.stringify({ action: "terminate", time: inst.reclaimAt.toISOString().replace(/\.\d+Z$/, "Z") }));
    }
    if (rest === "/latest/meta-data/events/recommendations/rebalance" && inst.rebalanceAt) {
      return text(JSON.stringify({ noticeTime: inst.rebalanceAt.toISOString().replace(/\.\d+Z$/, "Z") }));
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => imds.listen(0, "127.0.0.1", r));
  const imdsPort = (imds.address() as net.AddressInfo).port;

  // ---------------------------------------------------------------- instances
  function boot(inst: TwinInstance): void {
    if (inst.dead) {
      inst.state = "running";
      return;
    }
    const d = inst.dir;
    const keys = path.join(d, "keys");
    const home = path.join(d, "home");
    fs.mkdirSync(keys, { recursive: true });
    fs.mkdirSync(home, { recursive: true });
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `root@${inst.id}`, "-f", path.join(keys, "ssh_host_ed25519_key")]);
    const env = {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      HOME: home,
      VH_TWIN_INSTANCE: inst.id,
      VH_IMDS_ENDPOINT: `http://127.0.0.1:${imdsPort}/${inst.id}`,
      VH_SSH_HOST_KEY_DIR: keys,
    };
    fs.writeFileSync(
      path.join(d, "sshd_config"),
      sshdConfig({ port: sshPort, listen: inst.privateIp, hostKey: `${keys}/ssh_host_ed25519_key`, pidFile: `${d}/sshd.pid`, authorizedKeys: `${home}/.ssh/authorized_keys`, env }),
    );
    // Its log (-e: to stderr) in sshd.log beside console.log: a bench's failure report reads both.
    const sshdLog = fs.openSync(path.join(d, "sshd.log"), "a");
    const sshd = spawn(SSHD, ["-D", "-e", "-f", path.join(d, "sshd_config")], { stdio: ["ignore", sshdLog, sshdLog], detached: true, env: { ...process.env, VH_TWIN_INSTANCE: inst.id } });
    fs.closeSync(sshdLog);
    sshd.unref();
    sshds.set(inst.id, sshd);
    void waitPort(inst.privateIp, sshPort)
      .then(() => {
        if (inst.state !== "pending") return;
        inst.state = "running";
        // cloud-init: the user data as a script, its output on the console, then the fingerprints.
        const consoleFile = path.join(d, "console.log");
        fs.writeFileSync(consoleFile, `[    0.000000] Linux version 6.1.0-twin (${inst.id})\nCloud-init v. 24.1 running 'modules:final' at ${new Date().toUTCString()}.\n`);
        fs.writeFileSync(path.join(d, "user-data"), inst.userData, { mode: 0o700 });
        const out = fs.openSync(consoleFile, "a");
        const ud = spawn("/bin/sh", [path.join(d, "user-data")], { cwd: home, env, stdio: ["ignore", out, out], detached: true });
        fs.closeSync(out);
        ud.unref();
        ud.once("exit", () => {
          if (inst.state !== "running") return;
          let fps = "";
          try {
            fps = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", path.join(keys, "ssh_host_ed25519_key.pub")], { encoding: "utf8" }).trim();
          } catch {
            // the key is gone with the instance
          }
          fs.appendFileSync(consoleFile, `ci-info: no authorized SSH keys fingerprints found for user ${me}.\n-----BEGIN SSH HOST KEY FINGERPRINTS-----\n${fps}\n-----END SSH HOST KEY FINGERPRINTS-----\nCloud-init v. 24.1 finished.\n`);
        });
      })
      .catch(() => {
        // never listened: it stays pending, like an instance stuck in boot
      });
  }

  function kill(inst: TwinInstance): void {
    const sshd = sshds.get(inst.id);
    sshds.delete(inst.id);
    if (sshd?.pid) {
      try {
        process.kill(sshd.pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    // Twice: a process that forked while the first sweep ran is caught by the second.
    for (let round = 0; round < 2; round++) {
      for (const pid of processesOf(inst.id, inst.dir)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
  }

  function terminate(inst: TwinInstance, reason: string): TwinState {
    const previous = inst.state;
    if (previous === "terminated" || previous === "shutting-down") return previous;
    inst.state = "shutting-down";
    inst.stateReason = reason;
    kill(inst);
    later(150, () => {
      inst.state = "terminated";
    });
    return previous;
  }

  // ---------------------------------------------------------------- the Query protocol
  const ns = "http://ec2.amazonaws.com/doc/2016-11-15/";
  const answer = (action: string, body: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${ns}"><requestId>${randomUUID()}</requestId>${body}</${action}Response>`;

  function instanceXml(i: TwinInstance, stateTag = "instanceState"): string {
    const tags = Object.entries(i.tags)
      .map(([k, v]) => `<item><key>${x(k)}</key><value>${x(v)}</value></item>`)
      .join("");
    return (
      `<item><instanceId>${i.id}</instanceId><imageId>${x(i.imageId)}</imageId>` +
      `<${stateTag}><code>${STATE_CODE[i.state]}</code><name>${i.state}</name></${stateTag}>` +
      `<privateDnsName>ip-${i.privateIp.replace(/\./g, "-")}.${region}.compute.internal</privateDnsName>` +
      (i.state === "terminated" ? "" : `<privateIpAddress>${i.privateIp}</privateIpAddress>`) +
      `<instanceType>${x(i.instanceType)}</instanceType><launchTime>${i.launchedAt.toISOString()}</launchTime>` +
      `<placement><availabilityZone>${i.zone}</availabilityZone><tenancy>default</tenancy></placement>` +
      (i.spot ? "<instanceLifecycle>spot</instanceLifecycle>" : "") +
      (i.stateReason ? `<stateReason><code>${x(i.stateReason)}</code><message>${x(i.stateReason)}</message></stateReason>` : "") +
      `<tagSet>${tags}</tagSet></item>`
    );
  }

  function filterMatch(i: TwinInstance, name: string, values: string[]): boolean {
    if (name.startsWith("tag:")) {
      const v = i.tags[name.slice(4)];
      return v !== undefined && values.includes(v);
    }
    switch (name) {
      case "tag-key":
        return values.some((k) => k in i.tags);
      case "instance-state-name":
        return values.includes(i.state);
      case "instance-id":
        return values.includes(i.id);
      case "instance-type":
        return values.includes(i.instanceType);
      case "availability-zone":
        return values.includes(i.zone);
      case "instance-lifecycle":
        return values.includes(i.spot ? "spot" : "on-demand");
      default:
        unknownCalls.push(`DescribeInstances filter ${name}`);
        throw new Ec2Error("InvalidParameterValue", `The filter '${name}' is invalid`);
    }
  }

  function runInstances(p: URLSearchParams): string {
    const type = p.get("InstanceType") ?? "m1.small";
    const imageId = p.get("ImageId") ?? "";
    const token = p.get("ClientToken");
    if (!/^ami-[0-9a-f]{8,17}$/.test(imageId)) throw new Ec2Error("InvalidAMIID.Malformed", `Invalid id: "${imageId}" (expecting "ami-...")`);
    if (!(type in TYPES)) throw new Ec2Error("InvalidParameterValue", `Invalid value '${type}' for InstanceType.`);
    if (p.get("MinCount") !== "1" || p.get("MaxCount") !== "1") throw new Ec2Error("InvalidParameterValue", "the twin launches one instance per call");
    if (token) {
      const seen = byToken.get(token);
      if (seen) {
        const i = instances.get(seen)!;
        if (i.instanceType !== type || i.imageId !== imageId) throw new Ec2Error("IdempotentParameterMismatch", `The client token ${token} was used with other parameters.`);
        return answer("RunInstances", `<reservationId>r-${i.id.slice(2)}</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>${instanceXml(i)}</instancesSet>`);
      }
    }
    const spot = p.get("InstanceMarketOptions.MarketType") === "spot";
    const maxPriceText = p.get("InstanceMarketOptions.SpotOptions.MaxPrice");
    const maxPrice = maxPriceText === null ? null : Number(maxPriceText);
    if (spot) {
      const price = spotPrices.get(type) ?? TYPES[type]!.price * 0.3;
      if (maxPrice !== null && price > maxPrice) throw new Ec2Error("SpotMaxPriceTooLow", `Your Spot request price of ${maxPriceText} is lower than the minimum required Spot request fulfillment price of ${price}.`);
    }
    const cap = capacity.get(type);
    if (cap !== undefined) {
      const live = [...instances.values()].filter((i) => i.instanceType === type && (i.state === "pending" || i.state === "running")).length;
      if (live >= cap) throw new Ec2Error("InsufficientInstanceCapacity", `We currently do not have sufficient ${type} capacity in the Availability Zone you requested (${region}a).`);
    }
    const tags: Record<string, string> = {};
    for (let n = 1; p.has(`TagSpecification.${n}.ResourceType`); n++) {
      if (p.get(`TagSpecification.${n}.ResourceType`) !== "instance") continue;
      for (let m = 1; p.has(`TagSpecification.${n}.Tag.${m}.Key`); m++) tags[p.get(`TagSpecification.${n}.Tag.${m}.Key`)!] = p.get(`TagSpecification.${n}.Tag.${m}.Value`) ?? "";
    }
    const n = ++nextAddress;
    const id = `i-${randomBytes(9).toString("hex").slice(0, 17)}`;
    const dir = path.join(root, id);
    fs.mkdirSync(dir);
    const inst: TwinInstance = {
      id,
      state: "pending",
      instanceType: type,
      imageId,
      zone: `${region}${"abc"[n % 3]}`,
      privateIp: `127.${octet}.${Math.floor(n / 250)}.${(n % 250) + 2}`,
      spot,
      maxPrice,
      clientToken: token,
      tags,
      userData: p.get("UserData") ? Buffer.from(p.get("UserData")!, "base64").toString("utf8") : "",
      launchedAt: new Date(),
      noticeAt: null,
      reclaimAt: null,
      rebalanceAt: null,
      stateReason: null,
      dead: neverBootLeft > 0,
      dir,
    };
    if (neverBootLeft > 0) neverBootLeft--;
    instances.set(id, inst);
    if (token) byToken.set(token, id);
    later(bootDelayMs, () => {
      if (inst.state === "pending") boot(inst);
    });
    return answer("RunInstances", `<reservationId>r-${id.slice(2)}</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>${instanceXml(inst)}</instancesSet>`);
  }

  function describeInstances(p: URLSearchParams): string {
    const ids = list(p, "InstanceId");
    const missing = ids.filter((id) => !instances.has(id));
    if (missing.length) throw new Ec2Error("InvalidInstanceID.NotFound", `The instance IDs '${missing.join(", ")}' do not exist`);
    const filters: { name: string; values: string[] }[] = [];
    for (let n = 1; p.has(`Filter.${n}.Name`); n++) filters.push({ name: p.get(`Filter.${n}.Name`)!, values: list(p, `Filter.${n}.Value`) });
    let found = [...instances.values()].filter((i) => (ids.length === 0 || ids.includes(i.id)) && filters.every((f) => filterMatch(i, f.name, f.values)));
    const size = Number(p.get("MaxResults") ?? opts.pageSize ?? 1000);
    const from = Number(p.get("NextToken") ?? "0");
    const next = from + size < found.length ? String(from + size) : null;
    found = found.slice(from, from + size);
    const reservations = found.map((i) => `<item><reservationId>r-${i.id.slice(2)}</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>${instanceXml(i)}</instancesSet></item>`).join("");
    return answer("DescribeInstances", `<reservationSet>${reservations}</reservationSet>${next ? `<nextToken>${next}</nextToken>` : ""}`);
  }

  function terminateInstances(p: URLSearchParams): string {
    const ids = list(p, "InstanceId");
    const missing = ids.filter((id) => !instances.has(id));
    if (missing.length) throw new Ec2Error("InvalidInstanceID.NotFound", `The instance IDs '${missing.join(", ")}' do not exist`);
    const items = ids
      .map((id) => {
        const i = instances.get(id)!;
        const previous = terminate(i, "Client.UserInitiatedShutdown");
        return `<item><instanceId>${id}</instanceId><currentState><code>${STATE_CODE[i.state]}</code><name>${i.state}</name></currentState><previousState><code>${STATE_CODE[previous]}</code><name>${previous}</name></previousState></item>`;
      })
      .join("");
    return answer("TerminateInstances", `<instancesSet>${items}</instancesSet>`);
  }

  function describeSpotPriceHistory(p: URLSearchParams): string {
    const types = list(p, "InstanceType");
    const zone = p.get("AvailabilityZone");
    const now = new Date().toISOString();
    const items: string[] = [];
    for (const t of types.length ? types : Object.keys(TYPES)) {
      if (!(t in TYPES)) continue;
      const price = spotPrices.get(t) ?? TYPES[t]!.price * 0.3;
      for (const z of ["a", "b", "c"].map((s) => `${region}${s}`)) {
        if (zone && z !== zone) continue;
        // A zone's price now; the others a little higher, as spot markets differ by zone.
        const zp = z.endsWith("a") ? price : price * 1.1;
        items.push(`<item><instanceType>${t}</instanceType><productDescription>Linux/UNIX</productDescription><spotPrice>${zp.toFixed(6)}</spotPrice><timestamp>${now}</timestamp><availabilityZone>${z}</availabilityZone></item>`);
      }
    }
    return answer("DescribeSpotPriceHistory", `<spotPriceHistorySet>${items.join("")}</spotPriceHistorySet><nextToken/>`);
  }

  function describeInstanceTypes(p: URLSearchParams): string {
    const asked = list(p, "InstanceType");
    const bad = asked.filter((t) => !(t in TYPES));
    if (bad.length) throw new Ec2Error("InvalidInstanceType", `The following supplied instance types do not exist: [${bad.join(", ")}]`);
    const items = (asked.length ? asked : Object.keys(TYPES))
      .map((t) => {
        const s = TYPES[t]!;
        const gpu = s.gpus
          ? `<gpuInfo><gpus><item><name>${s.gpuName}</name><manufacturer>NVIDIA</manufacturer><count>${s.gpus}</count><memoryInfo><sizeInMiB>${s.gpuMemMiB}</sizeInMiB></memoryInfo></item></gpus><totalGpuMemoryInMiB>${s.gpuMemMiB * s.gpus}</totalGpuMemoryInMiB></gpuInfo>`
          : "";
        return `<item><instanceType>${t}</instanceType><currentGeneration>true</currentGeneration><vCpuInfo><defaultVCpus>${s.vcpus}</defaultVCpus></vCpuInfo><memoryInfo><sizeInMiB>${s.memMiB}</sizeInMiB></memoryInfo>${gpu}</item>`;
      })
      .join("");
    return answer("DescribeInstanceTypes", `<instanceTypeSet>${items}</instanceTypeSet>`);
  }

  function getConsoleOutput(p: URLSearchParams): string {
    const id = p.get("InstanceId") ?? "";
    const i = instances.get(id);
    if (!i) throw new Ec2Error("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`);
    let text = "";
    try {
      text = fs.readFileSync(path.join(i.dir, "console.log"), "utf8");
    } catch {
      // nothing printed yet
    }
    return answer("GetConsoleOutput", `<instanceId>${id}</instanceId><timestamp>${new Date().toISOString()}</timestamp>${text ? `<output>${Buffer.from(text).toString("base64")}</output>` : ""}`);
  }

  const actions: Record<string, (p: URLSearchParams) => string> = {
    RunInstances: runInstances,
    DescribeInstances: describeInstances,
    TerminateInstances: terminateInstances,
    DescribeSpotPriceHistory: describeSpotPriceHistory,
    DescribeInstanceTypes: describeInstanceTypes,
    GetConsoleOutput: getConsoleOutput,
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const p = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      const action = p.get("Action") ?? "";
      const params: Record<string, string> = {};
      for (const [k, v] of p) if (k !== "Action" && k !== "Version") params[k] = v;
      calls.push({ action, params, at: Date.now() });
      const fail = (status: number, code: string, message: string) =>
        res
          .writeHead(status, { "content-type": "text/xml;charset=UTF-8" })
          .end(`<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${x(code)}</Code><Message>${x(message)}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`);
      // Signed by the SDK's credential chain (SigV4) with a key it knows: anything else is refused as EC2 would.
      const auth = sigV4Problem(req, Buffer.concat(chunks), secrets, region);
      if (auth) {
        fail(auth.code === "AuthFailure" ? 401 : 403, auth.code, auth.message);
        return;
      }
      if (p.get("Version") !== "2016-11-15") {
        fail(400, "InvalidParameterValue", `unsupported API version ${p.get("Version")}`);
        return;
      }
      const handler = actions[action];
      if (!handler) {
        unknownCalls.push(action);
        fail(400, "InvalidAction", `The action ${action} is not valid for this web service.`);
        return;
      }
      const f = failures.find((e) => e.action === action && e.left > 0);
      if (f) {
        f.left--;
        fail(SERVER_CODES.has(f.code) ? 500 : 400, f.code, `the twin was told to fail ${action} with ${f.code}`);
        return;
      }
      try {
        const body = handler(p);
        res.writeHead(200, { "content-type": "text/xml;charset=UTF-8" }).end(body);
      } catch (err) {
        if (err instanceof Ec2Error) fail(SERVER_CODES.has(err.code) ? 500 : 400, err.code, err.message);
        else fail(500, "InternalError", (err as Error).message);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const apiPort = (server.address() as net.AddressInfo).port;

  return {
    endpoint: `http://127.0.0.1:${apiPort}`,
    region,
    sshPort,
    imdsPort,
    instances: () => [...instances.values()],
    calls,
    unknownCalls,
    failNext(action, code, times = 1) {
      failures.push({ action, code, left: times });
    },
    setCapacity(type, n) {
      if (n === null) capacity.delete(type);
      else capacity.set(type, n);
    },
    setSpotPrice(type, price) {
      spotPrices.set(type, price);
    },
    neverBoot(n) {
      neverBootLeft += n;
    },
    spotNotice(id, inSeconds) {
      const i = instances.get(id);
      if (!i) throw new Error(`no instance ${id}`);
      if (!i.spot) throw new Error(`${id} is not a spot instance`);
      i.noticeAt = new Date();
      i.reclaimAt = new Date(Date.now() + inSeconds * 1000);
      later(inSeconds * 1000, () => terminate(i, "Server.SpotInstanceTermination"));
    },
    rebalance(id) {
      const i = instances.get(id);
      if (!i) throw new Error(`no instance ${id}`);
      i.rebalanceAt = new Date();
    },
    async reclaim(id) {
      const i = instances.get(id);
      if (!i) throw new Error(`no instance ${id}`);
      terminate(i, "Server.SpotInstanceTermination");
    },
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      for (const i of instances.values()) if (i.state !== "terminated") kill(i);
      const closing = [new Promise<void>((r) => server.close(() => r())), new Promise<void>((r) => imds.close(() => r()))];
      server.closeAllConnections();
      imds.closeAllConnections();
      await Promise.all(closing);
      fs.rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}
