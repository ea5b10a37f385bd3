/**
 * The compute providers this control plane can rent hosts from, by kind: the only file that
 * imports a provider's folder. Adding a provider is adding a folder (with its readme.md) that
 * implements app/contracts/compute.ts, and one entry here.
 */
import type { Compute } from "../../app/contracts/compute.js";
import type { Environment } from "../../app/environments/file.js";
import { createEc2Compute } from "./ec2/provider.js";

const FACTORIES: Record<Environment["provider"], (environments: () => readonly Environment[]) => Compute> = {
  ec2: (environments) => createEc2Compute({ environments }),
};

export function createComputeProviders(environments: () => readonly Environment[]): Map<string, Compute> {
  return new Map(Object.entries(FACTORIES).map(([kind, make]) => [kind, make(environments)]));
}
