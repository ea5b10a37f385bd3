/**
 * Which environment an execution runs in, decided once at creation (app/executions/create.ts):
 * the one asked for (`--environment`, the API's `environment`), else the step's valohai.yaml
 * `environment:` when vh has one of that name, else the default (VH_DEFAULT_ENVIRONMENT, or the
 * one marked `default: true`), else none: the registered hosts (local, SSH).
 *
 * A valohai.yaml environment vh does not have is not an error (real repositories name Valohai's
 * slugs, like `aws-eu-west-1-p3-2xlarge`): the execution runs where the default says, with a warning.
 * An environment asked for by name that does not exist, or one whose hosts can never run the
 * request (more GPUs than its instance type has), is refused with the reason.
 */
import { VhError } from "../errors.js";
import type { Environment } from "./file.js";

export interface EnvironmentChoice {
  environment: Environment | null;
  /** Said on the execution when the step's environment was not used. */
  warning: string | null;
}

function listed(envs: readonly Environment[]): string {
  return envs.length ? envs.map((e) => e.name).join(", ") : "none is configured (VH_ENVIRONMENTS_FILE)";
}

export function defaultEnvironment(envs: readonly Environment[], defaultName: string | undefined): Environment | null {
  if (defaultName) {
    const e = envs.find((x) => x.name === defaultName);
    if (!e) throw new VhError("invalid_config", `VH_DEFAULT_ENVIRONMENT=${defaultName}: no such environment. Environments: ${listed(envs)}.`);
    return e;
  }
  return envs.find((e) => e.default) ?? null;
}

export function chooseEnvironment(
  envs: readonly Environment[],
  ask: { explicit?: string | undefined; step?: string | undefined; defaultName?: string | undefined; gpus: number },
): EnvironmentChoice {
  let environment: Environment | null;
  let warning: string | null = null;
  if (ask.explicit !== undefined) {
    environment = envs.find((e) => e.name === ask.explicit) ?? null;
    if (!environment) throw new VhError("bad_request", `Environment "${ask.explicit}" does not exist. Environments: ${listed(envs)}.`, { environment: ask.explicit });
  } else if (ask.step !== undefined && envs.some((e) => e.name === ask.step)) {
    environment = envs.find((e) => e.name === ask.step)!;
  } else {
    environment = defaultEnvironment(envs, ask.defaultName);
    if (ask.step !== undefined) {
      warning = `valohai.yaml asks for environment "${ask.step}", which this vh does not have; it runs ${environment ? `in the default environment "${environment.name}"` : "on the registered hosts"}.`;
    }
  }
  if (environment) {
    const type = environment.instanceTypes[0];
    if (type && ask.gpus > type.gpus) {
      throw new VhError(
        "bad_request",
        `Asks for ${ask.gpus} GPU${ask.gpus === 1 ? "" : "s"}, but environment "${environment.name}" runs ${type.name} with ${type.gpus}: no host of it can ever run this. Ask for at most ${type.gpus}, or pick another environment (vh environment list).`,
        { environment: environment.name, gpus: ask.gpus, instanceType: type.name, instanceGpus: type.gpus },
      );
    }
  }
  return { environment, warning };
}
