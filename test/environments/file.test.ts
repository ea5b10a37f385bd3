/**
 * Environments (app/environments/): the file's shape with every mistake located (file:line:column),
 * the instance catalogue, and which environment an execution runs in.
 */
import { describe, expect, it } from "vitest";
import { parseEnvironments } from "../../app/environments/file.js";
import { chooseEnvironment } from "../../app/environments/resolve.js";
import { INSTANCE_TYPES } from "../../app/environments/catalogue.js";

const GOOD = `environments:
  - name: gpu-spot
    provider: ec2
    region: eu-west-1
    instance-types: [g5.xlarge, g6.xlarge]
    spot: true
    max-price: 0.6
    ami: ami-0123456789abcdef0
    subnets: [subnet-a, subnet-b]
    security-groups: sg-1
    max-instances: 4
    idle-shutdown: 2m
    labels: { team: vision }
  - name: cpu
    provider: ec2
    region: us-east-1
    instance-type: c5.large
    ami: ami-0123456789abcdef1
    default: true
`;

describe("environments file", () => {
  it("reads every setting, with defaults and the catalogue's GPUs and prices", () => {
    const [gpu, cpu] = parseEnvironments(GOOD, "envs.yaml");
    expect(gpu).toMatchObject({
      name: "gpu-spot",
      region: "eu-west-1",
      spot: true,
      maxPrice: 0.6,
      subnets: ["subnet-a", "subnet-b"],
      securityGroups: ["sg-1"],
      minInstances: 0,
      maxInstances: 4,
      idleShutdownSeconds: 120,
      bootTimeoutSeconds: 600,
      sshUser: "ubuntu",
      sshPort: 22,
      labels: { team: "vision" },
      default: false,
    });
    expect(gpu!.instanceTypes.map((t) => [t.name, t.gpus, t.gpuModel])).toEqual([
      ["g5.xlarge", 1, "NVIDIA A10G"],
      ["g6.xlarge", 1, "NVIDIA L4"],
    ]);
    expect(cpu).toMatchObject({ name: "cpu", spot: false, maxPrice: null, idleShutdownSeconds: 900, maxInstances: 1, default: true });
    expect(cpu!.instanceTypes[0]!.onDemandPerHour).toBe(0.085);
  });

  it("says each mistake with its file, line and column", () => {
    const bad = `environments:
  - name: gpu
    provider: gce
    region: eu-west-1
    instance-type: g9.huge
    ami: ami-0123456789abcdef0
    min-instances: 3
    max-instances: 2
    max-price: 1
`;
    let message = "";
    try {
      parseEnvironments(bad, "envs.yaml");
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('envs.yaml:3:15: environments.0.provider: the only provider is "ec2"');
    // The rest of the entry is checked once its shape is right.
    const fixed = bad.replace("provider: gce", "provider: ec2");
    try {
      parseEnvironments(fixed, "envs.yaml");
      message = "";
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('envs.yaml:5:20: environments.0.instance-type: instance type "g9.huge" is not in vh\'s catalogue');
    expect(message).toContain("envs.yaml:7:20: environments.0.min-instances: min-instances (3) is more than max-instances (2)");
    expect(message).toContain("envs.yaml:9:16: environments.0.max-price: max-price is for spot instances");
  });

  it("refuses unknown keys, duplicate names, two defaults and YAML errors, each located", () => {
    expect(() => parseEnvironments("environments:\n  - name: a\n    provider: ec2\n    region: eu-west-1\n    instance-type: t3.medium\n    ami: ami-0123456789abcdef0\n    instnce-type: x\n", "e.yaml")).toThrow(/e\.yaml:2:5: environments\.0: Unrecognized key: "instnce-type"/);
    const one = "  - name: a\n    provider: ec2\n    region: eu-west-1\n    instance-type: t3.medium\n    ami: ami-0123456789abcdef0\n    default: true\n";
    expect(() => parseEnvironments(`environments:\n${one}${one}`, "e.yaml")).toThrow(/e\.yaml:8:11: environments\.1\.name: environment "a" is defined twice/);
    expect(() => parseEnvironments("environments: [\n", "e.yaml")).toThrow(/^e\.yaml:2:1: /);
  });

  it("takes a type outside the catalogue when the file gives its GPUs and price", () => {
    const [e] = parseEnvironments("environments:\n  - name: x\n    provider: ec2\n    region: eu-west-1\n    instance-type: g7.xlarge\n    ami: ami-0123456789abcdef0\n    instance-type-info: { g7.xlarge: { gpus: 2, price-per-hour: 3.5 } }\n", "e.yaml");
    expect(e!.instanceTypes[0]).toMatchObject({ name: "g7.xlarge", gpus: 2, onDemandPerHour: 3.5 });
  });
});

describe("the catalogue", () => {
  it("has the types Valohai lists and current GPU types, with GPU counts and prices", () => {
    for (const t of ["g2.2xlarge", "p2.xlarge", "p3.2xlarge", "p3.8xlarge", "p3.16xlarge", "c4.2xlarge", "c4.4xlarge", "m4.2xlarge", "m4.4xlarge", "t2.xlarge", "g5.xlarge", "g6.xlarge", "p4d.24xlarge", "p5.48xlarge"]) {
      expect(INSTANCE_TYPES.get(t), t).toBeDefined();
    }
    expect(INSTANCE_TYPES.get("p3.8xlarge")).toMatchObject({ gpus: 4, gpuModel: "NVIDIA V100" });
    expect(INSTANCE_TYPES.get("p5.48xlarge")).toMatchObject({ gpus: 8, gpuModel: "NVIDIA H100" });
    for (const t of INSTANCE_TYPES.values()) expect(t.onDemandPerHour, t.name).toBeGreaterThan(0);
  });
});

describe("chooseEnvironment", () => {
  const envs = parseEnvironments(GOOD, "envs.yaml");
  it("takes the one asked for, else the step's when vh has it, else the default", () => {
    expect(chooseEnvironment(envs, { explicit: "gpu-spot", step: "cpu", gpus: 0 }).environment?.name).toBe("gpu-spot");
    expect(chooseEnvironment(envs, { step: "gpu-spot", gpus: 1 }).environment?.name).toBe("gpu-spot");
    expect(chooseEnvironment(envs, { gpus: 0 })).toEqual({ environment: envs[1], warning: null });
    expect(chooseEnvironment(envs, { gpus: 0, defaultName: "gpu-spot" }).environment?.name).toBe("gpu-spot");
  });
  it("runs a step whose valohai.yaml environment vh does not have in the default, and says so", () => {
    const c = chooseEnvironment(envs, { step: "aws-eu-west-1-p3-2xlarge", gpus: 0 });
    expect(c.environment?.name).toBe("cpu");
    expect(c.warning).toBe('valohai.yaml asks for environment "aws-eu-west-1-p3-2xlarge", which this vh does not have; it runs in the default environment "cpu".');
    expect(chooseEnvironment([], { step: "x", gpus: 0 })).toEqual({ environment: null, warning: 'valohai.yaml asks for environment "x", which this vh does not have; it runs on the registered hosts.' });
  });
  it("refuses a name that does not exist and a request no instance of it can ever run", () => {
    expect(() => chooseEnvironment(envs, { explicit: "gpu", gpus: 0 })).toThrow('Environment "gpu" does not exist. Environments: gpu-spot, cpu.');
    expect(() => chooseEnvironment(envs, { explicit: "gpu-spot", gpus: 4 })).toThrow('Asks for 4 GPUs, but environment "gpu-spot" runs g5.xlarge with 1: no host of it can ever run this.');
    expect(() => chooseEnvironment(envs, { gpus: 1 })).toThrow(/environment "cpu" runs c5\.large with 0/);
    expect(() => chooseEnvironment(envs, { gpus: 0, defaultName: "nope" })).toThrow("VH_DEFAULT_ENVIRONMENT=nope: no such environment.");
  });
});
