/**
 * The EC2 provider of the Compute contract (app/contracts/compute.ts), over @aws-sdk/client-ec2.
 * Credentials come only from the AWS SDK's own chain (environment, profile, instance role…); vh
 * never stores or logs them. An environment's `endpoint` points the client elsewhere (an
 * EC2-compatible cloud, or the suite's twin).
 *
 * - Offers: the environment's instance types × subnets, in its order; a spot offer is priced by the
 *   latest spot price (DescribeSpotPriceHistory, cached a minute) and left out above `max-price`.
 * - Provision: one RunInstances with the ClientToken (idempotent: the same token never makes a second
 *   instance) and the tags in TagSpecifications (an instance never exists untagged).
 *   InsufficientInstanceCapacity, SpotMaxPriceTooLow and their kin are NoCapacityError.
 * - Terminate: idempotent; an unknown instance is already gone.
 */
import {
  DescribeInstancesCommand,
  DescribeSpotPriceHistoryCommand,
  EC2Client,
  type EC2ClientConfig,
  GetConsoleOutputCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type Filter,
  type Instance,
} from "@aws-sdk/client-ec2";
import type { Environment } from "../../../app/environments/file.js";
import { NoCapacityError, NotYetReadyError, type BootReport, type Compute, type InstanceState, type InstanceStatus, type Offer, type Provisioned, type ProvisionRequest, type Requirements, type SupportsSpot } from "../../../app/contracts/compute.js";
import { buildUserData, hostKeysInConsole } from "./user-data.js";

/** EC2 error codes that mean "none of this offer can be had now": try another offer, or later. */
const NO_CAPACITY = new Set([
  "InsufficientInstanceCapacity",
  "InsufficientCapacity",
  "InsufficientHostCapacity",
  "SpotMaxPriceTooLow",
  "MaxSpotInstanceCountExceeded",
  "InstanceLimitExceeded",
  "VcpuLimitExceeded",
  "Unsupported",
  "InsufficientFreeAddressesInSubnet",
]);

export interface Ec2ComputeOptions {
  environments: () => readonly Environment[];
  /** A client per region and endpoint (tests may wrap one). */
  clientFor?: (region: string, endpoint: string | null) => EC2Client;
}

function stateOf(i: Instance): InstanceState {
  const n = i.State?.Name;
  return n === "pending" || n === "running" || n === "stopping" || n === "stopped" || n === "shutting-down" || n === "terminated" ? n : "pending";
}

function statusOf(i: Instance): InstanceStatus {
  const tags: Record<string, string> = {};
  for (const t of i.Tags ?? []) if (t.Key) tags[t.Key] = t.Value ?? "";
  return {
    instanceId: i.InstanceId ?? "",
    state: stateOf(i),
    instanceType: String(i.InstanceType ?? ""),
    zone: i.Placement?.AvailabilityZone ?? null,
    privateIp: i.PrivateIpAddress ?? null,
    publicIp: i.PublicIpAddress ?? null,
    spot: i.InstanceLifecycle === "spot",
    launchedAt: i.LaunchTime ?? null,
    tags,
  };
}

type RetryStrategy = Extract<NonNullable<EC2ClientConfig["retryStrategy"]>, { refreshRetryTokenForRetry: unknown }>;

/**
 * The SDK's own retry strategy, except that a "no capacity" answer (EC2 sends some as HTTP 500,
 * which the SDK would retry twice, with backoff) is handed back at once: vh's answer to it is the
 * next offer, not the same request again.
 */
function capacityNotRetried(region: string): RetryStrategy {
  let base: RetryStrategy | null = null;
  const get = async () => (base ??= (await (new EC2Client({ region }).config.retryStrategy as () => Promise<RetryStrategy>)()));
  return {
    acquireInitialRetryToken: async (scope) => (await get()).acquireInitialRetryToken(scope),
    async refreshRetryTokenForRetry(token, info) {
      const name = (info.error as { name?: unknown } | undefined)?.name;
      if (typeof name === "string" && NO_CAPACITY.has(name)) throw info.error;
      return (await get()).refreshRetryTokenForRetry(token, info);
    },
    recordSuccess: (token) => base?.recordSuccess(token),
  };
}

export function createEc2Compute(opts: Ec2ComputeOptions): Compute & SupportsSpot {
  const clients = new Map<string, EC2Client>();
  const prices = new Map<string, { at: number; price: number | null }>();
  const clientFor =
    opts.clientFor ??
    ((region: string, endpoint: string | null) => {
      const key = `${region}|${endpoint ?? ""}`;
      let c = clients.get(key);
      if (!c) {
        c = new EC2Client({ region, ...(endpoint ? { endpoint } : {}), retryStrategy: capacityNotRetried(region) });
        clients.set(key, c);
      }
      return c;
    });

  function env(name: string): Environment {
    const e = opts.environments().find((x) => x.name === name);
    if (!e) throw new Error(`environment "${name}" is not in VH_ENVIRONMENTS_FILE any more`);
    return e;
  }
  const client = (e: Environment) => clientFor(e.region, e.endpoint);

  async function describe(e: Environment, filters: Filter[], ids?: string[]): Promise<InstanceStatus[]> {
    const out: InstanceStatus[] = [];
    let token: string | undefined;
    do {
      const res = await client(e).send(new DescribeInstancesCommand({ ...(ids ? { InstanceIds: ids } : {}), ...(filters.length ? { Filters: filters } : {}), ...(token ? { NextToken: token } : {}) }));
      for (const r of res.Reservations ?? []) for (const i of r.Instances ?? []) out.push(statusOf(i));
      token = res.NextToken;
    } while (token);
    return out;
  }

  const compute: Compute & SupportsSpot = {
    kind: "ec2",

    async spotPrice(envName, instanceType, zone) {
      const e = env(envName);
      const key = `${e.region}|${e.endpoint ?? ""}|${instanceType}|${zone ?? ""}`;
      const hit = prices.get(key);
      if (hit && Date.now() - hit.at < 60_000) return hit.price;
      const res = await client(e).send(
        new DescribeSpotPriceHistoryCommand({
          InstanceTypes: [instanceType as never],
          ProductDescriptions: ["Linux/UNIX"],
          StartTime: new Date(),
          ...(zone ? { AvailabilityZone: zone } : {}),
        }),
      );
      // The latest price of each zone; the lowest of them when no zone is asked for.
      const latest = new Map<string, { t: number; p: number }>();
      for (const h of res.SpotPriceHistory ?? []) {
        const z = h.AvailabilityZone ?? "";
        const t = h.Timestamp?.getTime() ?? 0;
        const p = Number(h.SpotPrice);
        if (!Number.isFinite(p)) continue;
        const cur = latest.get(z);
        if (!cur || t > cur.t) latest.set(z, { t, p });
      }
      const price = latest.size ? Math.min(...[...latest.values()].map((v) => v.p)) : null;
      prices.set(key, { at: Date.now(), price });
      return price;
    },

    async offers(envName, req: Requirements) {
      const e = env(envName);
      const out: Offer[] = [];
      for (const t of e.instanceTypes) {
        if (t.gpus < req.gpus) continue;
        for (const subnet of e.subnets.length ? e.subnets : [null]) {
          let price = t.onDemandPerHour;
          if (e.spot) {
            const spot = await compute.spotPrice(envName, t.name, null);
            if (spot !== null) price = spot;
            if (e.maxPrice !== null && price > e.maxPrice) continue;
          }
          out.push({ environment: e.name, instanceType: t.name, zone: null, subnetId: subnet, spot: e.spot, pricePerHour: price, maxPrice: e.spot ? e.maxPrice : null });
        }
      }
      return out;
    },

    async provision(req: ProvisionRequest): Promise<Provisioned> {
      const e = env(req.offer.environment);
      const tags = Object.entries(req.tags).map(([Key, Value]) => ({ Key, Value }));
      try {
        const res = await client(e).send(
          new RunInstancesCommand({
            ImageId: e.ami,
            InstanceType: req.offer.instanceType as never,
            MinCount: 1,
            MaxCount: 1,
            ClientToken: req.clientToken,
            UserData: Buffer.from(buildUserData(req.bootstrap), "utf8").toString("base64"),
            ...(req.offer.subnetId ? { SubnetId: req.offer.subnetId } : {}),
            ...(e.securityGroups.length ? { SecurityGroupIds: e.securityGroups } : {}),
            TagSpecifications: [
              { ResourceType: "instance", Tags: tags },
              { ResourceType: "volume", Tags: tags },
            ],
            ...(req.offer.spot
              ? {
                  InstanceMarketOptions: {
                    MarketType: "spot",
                    SpotOptions: { SpotInstanceType: "one-time", InstanceInterruptionBehavior: "terminate", ...(req.offer.maxPrice !== null ? { MaxPrice: String(req.offer.maxPrice) } : {}) },
                  },
                }
              : {}),
            InstanceInitiatedShutdownBehavior: "terminate",
            MetadataOptions: { HttpTokens: "required", HttpEndpoint: "enabled" },
          }),
        );
        const i = res.Instances?.[0];
        if (!i?.InstanceId) throw new Error("RunInstances answered without an instance");
        const s = statusOf(i);
        return { instanceId: s.instanceId, state: s.state, zone: s.zone, privateIp: s.privateIp };
      } catch (err) {
        const name = (err as { name?: string }).name ?? "";
        if (NO_CAPACITY.has(name)) throw new NoCapacityError(name, req.offer, `${name}: ${(err as Error).message}`);
        throw err;
      }
    },

    async terminate(envName, instanceId) {
      const e = env(envName);
      try {
        await client(e).send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
      } catch (err) {
        if ((err as { name?: string }).name === "InvalidInstanceID.NotFound") return;
        throw err;
      }
    },

    async status(envName, instanceId) {
      const e = env(envName);
      try {
        const found = await describe(e, [], [instanceId]);
        return found[0] ?? null;
      } catch (err) {
        if ((err as { name?: string }).name === "InvalidInstanceID.NotFound") return null;
        throw err;
      }
    },

    async managed(cluster) {
      const seen = new Set<string>();
      const out: InstanceStatus[] = [];
      for (const e of opts.environments()) {
        const key = `${e.region}|${e.endpoint ?? ""}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const live = await describe(e, [
          { Name: "tag:vh:cluster", Values: [cluster] },
          { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
        ]);
        out.push(...live);
      }
      return out;
    },

    async bootReport(envName, instanceId): Promise<BootReport> {
      const e = env(envName);
      const res = await client(e).send(new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: true }));
      const text = res.Output ? Buffer.from(res.Output, "base64").toString("utf8") : "";
      if (!text) throw new NotYetReadyError(`instance ${instanceId} has printed nothing to its console yet`);
      return { hostKeys: hostKeysInConsole(text), tail: text.split("\n").slice(-20).join("\n") };
    },
  };
  return compute;
}
