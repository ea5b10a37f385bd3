/**
 * Environments (Valohai's word): named recipes for rented hosts, read from the YAML file
 * VH_ENVIRONMENTS_FILE (docs/compute.md). Every mistake is refused with its file, line and column.
 *
 * ```yaml
 * environments:
 *   - name: gpu-spot
 *     provider: ec2
 *     region: eu-west-1
 *     instance-types: [g5.xlarge, g6.xlarge]   # or instance-type: g5.xlarge; tried in this order
 *     spot: true
 *     max-price: 0.6                           # USD/hour; default: the on-demand price
 *     ami: ami-0123456789abcdef0
 *     subnets: [subnet-aaa, subnet-bbb]        # one per zone: an interrupted run resumes in another
 *     security-groups: [sg-0123]
 *     min-instances: 0
 *     max-instances: 4
 *     idle-shutdown: 15m
 *     labels: { team: vision }
 * ```
 */
import fs from "node:fs";
import path from "node:path";
import YAML, { LineCounter } from "yaml";
import { z } from "zod";
import { VhError } from "../errors.js";
import { instanceType, type InstanceType } from "./catalogue.js";

export interface Environment {
  name: string;
  provider: "ec2";
  description: string | null;
  region: string;
  /** In the order they are tried. */
  instanceTypes: InstanceType[];
  spot: boolean;
  /** Spot: the most paid per hour (default: the first type's on-demand price). */
  maxPrice: number | null;
  ami: string;
  /** Empty: the account's default subnet. */
  subnets: string[];
  securityGroups: string[];
  minInstances: number;
  maxInstances: number;
  idleShutdownSeconds: number;
  bootTimeoutSeconds: number;
  /** A spot interruption resumes the execution as a new attempt, up to this many attempts in all. */
  maxAttempts: number;
  sshUser: string;
  sshPort: number;
  labels: Record<string, string>;
  /** An EC2-compatible API endpoint instead of AWS's (a private cloud, or a test's twin). */
  endpoint: string | null;
  /** The executions without an environment of their own run here. */
  default: boolean;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** `900`, `90s`, `15m`, `2h`. */
const duration = z.union([z.number().nonnegative(), z.string().regex(/^\d+(\.\d+)?\s*(s|m|h)?$/, 'a number of seconds, or like "15m", "90s", "2h"')]).transform((v) => {
  if (typeof v === "number") return v;
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h)?$/.exec(v)!;
  return Number(m[1]) * (m[2] === "h" ? 3600 : m[2] === "m" ? 60 : 1);
});

const strList = z.union([z.string().min(1), z.array(z.string().min(1))]).transform((v) => (Array.isArray(v) ? v : [v]));

const EnvSchema = z
  .object({
    name: z.string().regex(NAME, "1–63 letters, digits, '.', '_' or '-', starting with a letter or digit"),
    provider: z.literal("ec2", { error: 'the only provider is "ec2"' }),
    description: z.string().optional(),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'an AWS region, like "eu-west-1"'),
    "instance-type": z.string().min(1).optional(),
    "instance-types": z.array(z.string().min(1)).min(1).optional(),
    spot: z.boolean().default(false),
    "max-price": z.number().positive().optional(),
    ami: z.string().regex(/^ami-[0-9a-f]{8,17}$/, 'an AMI id, like "ami-0123456789abcdef0"'),
    subnet: z.string().min(1).optional(),
    subnets: z.array(z.string().min(1)).optional(),
    "security-groups": strList.default([]),
    "min-instances": z.number().int().min(0).default(0),
    "max-instances": z.number().int().min(1).max(10_000).default(1),
    "idle-shutdown": duration.default(900),
    "boot-timeout": duration.default(600),
    "max-attempts": z.number().int().min(1).max(100).default(3),
    "ssh-user": z.string().regex(/^[a-z_][a-z0-9_-]*$/, "a user name").default("ubuntu"),
    "ssh-port": z.number().int().min(1).max(65535).default(22),
    labels: z.record(z.string(), z.string()).default({}),
    endpoint: z.string().url().optional(),
    default: z.boolean().default(false),
    /** Types not in the catalogue: their GPUs and price. */
    "instance-type-info": z
      .record(z.string(), z.object({ gpus: z.number().int().min(0), "price-per-hour": z.number().positive(), "gpu-model": z.string().optional(), vcpus: z.number().int().positive().optional(), "memory-gib": z.number().positive().optional() }).strict())
      .default({}),
  })
  .strict();

const FileSchema = z.object({ environments: z.array(z.unknown()).default([]) }).strict();

function located(doc: YAML.Document, lc: LineCounter, file: string, at: (string | number)[], message: string): string {
  let node: unknown = doc.getIn(at, true);
  for (let n = at.length; (!node || !(node as { range?: unknown }).range) && n > 0; n--) node = doc.getIn(at.slice(0, n - 1), true);
  const range = (node as { range?: [number, number, number] } | undefined)?.range;
  const pos = range ? lc.linePos(range[0]) : null;
  const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
  return `${where}: ${at.length ? `${at.join(".")}: ` : ""}${message}`;
}

/** Parses an environments file's text; `file` names it in messages. Throws one VhError listing every mistake. */
export function parseEnvironments(text: string, file: string): Environment[] {
  const lc = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const pos = lc.linePos(e.pos[0]);
    throw new VhError("invalid_config", `${file}:${pos.line}:${pos.col}: ${e.message.split("\n")[0]}`);
  }
  const top = FileSchema.safeParse(doc.toJS() ?? {});
  if (!top.success) throw new VhError("invalid_config", top.error.issues.map((i) => located(doc, lc, file, i.path as (string | number)[], i.message)).join("\n"));
  const problems: string[] = [];
  const out: Environment[] = [];
  for (const [i, raw] of top.data.environments.entries()) {
    const at = (...p: (string | number)[]) => ["environments", i, ...p];
    const parsed = EnvSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(located(doc, lc, file, at(...(issue.path as (string | number)[])), issue.message));
      continue;
    }
    const e = parsed.data;
    const names = e["instance-types"] ?? (e["instance-type"] ? [e["instance-type"]] : []);
    if (names.length === 0) problems.push(located(doc, lc, file, at(), `environment "${e.name}" names no instance-type (or instance-types)`));
    if (e["instance-type"] && e["instance-types"]) problems.push(located(doc, lc, file, at("instance-type"), "give instance-type or instance-types, not both"));
    const types: InstanceType[] = [];
    for (const [j, n] of names.entries()) {
      const known = instanceType(n);
      const info = e["instance-type-info"][n];
      if (info) types.push({ name: n, gpus: info.gpus, gpuModel: info["gpu-model"] ?? null, gpuMemoryMiB: 0, vcpus: info.vcpus ?? 0, memoryGiB: info["memory-gib"] ?? 0, onDemandPerHour: info["price-per-hour"] });
      else if (known) types.push(known);
      else problems.push(located(doc, lc, file, at(e["instance-types"] ? "instance-types" : "instance-type", ...(e["instance-types"] ? [j] : [])), `instance type "${n}" is not in vh's catalogue: give its GPUs and price under instance-type-info`));
    }
    if (e["min-instances"] > e["max-instances"]) problems.push(located(doc, lc, file, at("min-instances"), `min-instances (${e["min-instances"]}) is more than max-instances (${e["max-instances"]})`));
    if (e["max-price"] !== undefined && !e.spot) problems.push(located(doc, lc, file, at("max-price"), "max-price is for spot instances: set spot: true, or remove it"));
    if (e.subnet && e.subnets) problems.push(located(doc, lc, file, at("subnet"), "give subnet or subnets, not both"));
    if (out.some((o) => o.name === e.name)) problems.push(located(doc, lc, file, at("name"), `environment "${e.name}" is defined twice`));
    if (types.length > 1) {
      const g = types[0]!.gpus;
      if (types.some((t) => t.gpus !== g)) problems.push(located(doc, lc, file, at("instance-types"), `the instance types have different GPU counts (${types.map((t) => `${t.name}: ${t.gpus}`).join(", ")}); an environment's hosts must be alike`));
    }
    out.push({
      name: e.name,
      provider: e.provider,
      description: e.description ?? null,
      region: e.region,
      instanceTypes: types,
      spot: e.spot,
      maxPrice: e.spot ? (e["max-price"] ?? types[0]?.onDemandPerHour ?? null) : null,
      ami: e.ami,
      subnets: e.subnets ?? (e.subnet ? [e.subnet] : []),
      securityGroups: e["security-groups"],
      minInstances: e["min-instances"],
      maxInstances: e["max-instances"],
      idleShutdownSeconds: e["idle-shutdown"],
      bootTimeoutSeconds: e["boot-timeout"],
      maxAttempts: e["max-attempts"],
      sshUser: e["ssh-user"],
      sshPort: e["ssh-port"],
      labels: e.labels,
      endpoint: e.endpoint ?? null,
      default: e.default,
    });
  }
  const defaults = out.filter((e) => e.default);
  if (defaults.length > 1) problems.push(`${file}: more than one environment says default: true (${defaults.map((d) => d.name).join(", ")})`);
  if (problems.length) throw new VhError("invalid_config", problems.join("\n"), { problems });
  return out;
}

const cache = new Map<string, { mtimeMs: number; size: number; envs: Environment[] }>();

/** The environments of a file, re-read when it changes; none when no file is set. */
export function readEnvironmentsFile(file: string | undefined): Environment[] {
  if (!file) return [];
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw new VhError("invalid_config", `VH_ENVIRONMENTS_FILE: cannot read ${file}: ${(err as Error).message}`);
  }
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.envs;
  const envs = parseEnvironments(fs.readFileSync(file, "utf8"), path.basename(file) === file ? file : file);
  cache.set(file, { mtimeMs: st.mtimeMs, size: st.size, envs });
  return envs;
}
