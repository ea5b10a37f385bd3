/**
 * Compute: providers of hosts (docs/compute.md). A provider rents machines (EC2 instances today);
 * a rented machine becomes an SSH host, so the SSH runner runs the executions on it. Transport
 * (app/contracts/runner.ts) and host lifecycle (this contract) are separate: a provider never runs
 * a command, a runner never launches a machine.
 *
 * Terminology:
 * - environment: a named recipe for hosts (provider, region, instance type, spot or on-demand,
 *   image, network, min/max instances, idle shutdown), from VH_ENVIRONMENTS_FILE. A step picks one.
 * - offer: one way to get a host for an environment now (instance type × zone × market) with its price.
 * - instance: what `provision` rented, named by the provider's id.
 *
 * Every method is checked by the provider's tests against a twin of its API (test/helpers/ec2-twin.ts).
 */

/** What an execution needs of a host. */
export interface Requirements {
  gpus: number;
}

export interface Offer {
  environment: string;
  instanceType: string;
  /** Availability zone, when the offer is tied to one (a subnet's). */
  zone: string | null;
  /** The subnet to launch into, when the environment names subnets. */
  subnetId: string | null;
  spot: boolean;
  /** USD per hour: the current spot price, or the on-demand price. */
  pricePerHour: number;
  /** The highest spot price the environment pays (null: on-demand, or the on-demand price as cap). */
  maxPrice: number | null;
}

/** What a launch carries besides the offer. */
export interface ProvisionRequest {
  offer: Offer;
  /** The hosts row this instance will be (tagged `vh:host-id`). */
  hostId: string;
  /** The idempotency token: the same token never launches a second instance. */
  clientToken: string;
  /** What the instance sets up at boot (the provider turns it into its user data; nothing here is secret). */
  bootstrap: BootstrapSpec;
  /** Tags set at launch, in the same call (never a later one, so no untagged instance exists). */
  tags: Record<string, string>;
}

/** What a rented host must do at boot so the SSH runner can use it (docs/compute.md). */
export interface BootstrapSpec {
  /** The user the control plane logs in as. */
  sshUser: string;
  /** The control plane's public key (`ssh-ed25519 AAAA… comment`), to authorise for that user. */
  publicKey: string;
  /** Seconds between the host's polls of its metadata for spot notices. */
  spotPollSeconds: number;
  cluster: string;
  hostId: string;
}

export type InstanceState = "pending" | "running" | "stopping" | "stopped" | "shutting-down" | "terminated";

export interface InstanceStatus {
  instanceId: string;
  state: InstanceState;
  instanceType: string;
  zone: string | null;
  privateIp: string | null;
  publicIp: string | null;
  spot: boolean;
  launchedAt: Date | null;
  tags: Record<string, string>;
}

export interface Provisioned {
  instanceId: string;
  state: InstanceState;
  zone: string | null;
  privateIp: string | null;
}

/** A host key the instance reported at boot (its console output), for pinning before the first connection. */
export interface BootReport {
  /** `SHA256:…` fingerprints of the instance's SSH host keys; empty until it reported them. */
  hostKeys: string[];
  /** The boot log's last lines (for a failure's reason); never secret. */
  tail: string;
}

export interface Compute {
  readonly kind: string;
  /** Ways to get a host for the requirements now, cheapest first; empty when none fits. */
  offers(environment: string, req: Requirements): Promise<Offer[]>;
  /** Launch one instance; returns as soon as the provider answered. Throws NoCapacityError, or another error. */
  provision(req: ProvisionRequest): Promise<Provisioned>;
  /** Idempotent: terminating a terminated (or unknown) instance succeeds. */
  terminate(environment: string, instanceId: string): Promise<void>;
  /** Null when the provider does not know the instance (never launched, or long gone). */
  status(environment: string, instanceId: string): Promise<InstanceStatus | null>;
  /** Every live instance carrying the tag `vh:cluster` = cluster, in every region the environments use. */
  managed(cluster: string): Promise<InstanceStatus[]>;
  /** What the instance printed at boot; throws NotYetReadyError while it has not. */
  bootReport(environment: string, instanceId: string): Promise<BootReport>;
}

/** Spot instances: their price history and whether the provider can take them back. */
export interface SupportsSpot {
  spotPrice(environment: string, instanceType: string, zone: string | null): Promise<number | null>;
}

export function supportsSpot(c: Compute): c is Compute & SupportsSpot {
  return typeof (c as Partial<SupportsSpot>).spotPrice === "function";
}

/** No instance of this offer can be had now (EC2 InsufficientInstanceCapacity, SpotMaxPriceTooLow…): try another, or later. */
export class NoCapacityError extends Error {
  readonly code: string;
  readonly offer: Offer;
  constructor(code: string, offer: Offer, message: string) {
    super(message);
    this.name = "NoCapacityError";
    this.code = code;
    this.offer = offer;
  }
}

/** The instance has not got that far yet (booting, no console output): ask again later. */
export class NotYetReadyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotYetReadyError";
  }
}

/** The most retries on failure one execution may ask for (`--retries N`, the API's `retries`). */
export const MAX_RETRIES = 10;

/** One ended attempt of an execution, kept in `executions.attempts` (the record keeps every attempt). */
export interface ExecutionAttempt {
  attempt: number;
  host: string | null;
  /** The provider's instance, when it ran on one. */
  instanceId?: string | null;
  instanceType?: string | null;
  spot?: boolean | null;
  pricePerHour?: number | null;
  startedAt: string | null;
  endedAt: string;
  seconds: number | null;
  /** pricePerHour × seconds, when priced. */
  costUsd: number | null;
  /** How it ended: `interrupted` (spot), `lost` (host gone), `failed` (retried when it asked for retries), or the execution's final status. */
  outcome: string;
  reason: string | null;
}
