import fs from "node:fs";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { runCli, tempDir, writeProject } from "./helpers.js";

let dir: string;
let env: Record<string, string>;

beforeEach(() => {
  dir = tempDir();
  writeProject(dir);
  // An empty config dir: no login, no local server, nothing in the environment.
  env = { XDG_CONFIG_HOME: path.join(dir, ".config"), HOME: dir };
});

describe("vh exec run --dry-run (offline)", () => {
  it("prints exactly the script, with defaults and several parameter types", async () => {
    const r = await runCli(
      ["exec", "run", "train", "--dry-run", "--learning-rate=0.01", "--epochs", "5", "--optimizer", "sgd momentum", "--verbose", "--layers=1", "--layers", "2"],
      { cwd: dir, env },
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("pip install -r requirements.txt\npython train.py --learning_rate=0.01 --epochs=5 '--optimizer=sgd momentum' --verbose --layers=1 --layers=2\n");
  });

  it("uses the YAML defaults and joins with && on --joiner and", async () => {
    const r = await runCli(["exec", "run", "train", "--dry-run", "--joiner", "and"], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("pip install -r requirements.txt && python train.py --learning_rate=0.001 --epochs=10 --optimizer=adam\n");
  });

  it("takes flag values, the lowercase twin, separate lists and a parameter file", async () => {
    fs.writeFileSync(path.join(dir, "params.yaml"), "epochs: 3\nlearning-rate: 1\n");
    const r = await runCli(
      ["ex", "r", "tr", "--dry-run", "--parameter-file", "params.yaml", "--verbose=no", "--tags=a", "--tags=b c", "--epochs=4"],
      { cwd: dir, env },
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("pip install -r requirements.txt\npython train.py --learning_rate=1.0 --epochs=4 --optimizer=adam '--tags=a,b c'\n");
  });

  it("--json prints the whole plan", async () => {
    const r = await runCli(["exec", "run", "train", "--dry-run", "--json", "--epochs=2", "--extra=s3://b/k", "--extra", "s3://b/k2", "--var", "SEED=1"], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      step: "train",
      image: "python:3.12",
      command: "pip install -r requirements.txt\npython train.py --learning_rate=0.001 --epochs=2 --optimizer=adam",
      commandList: ["pip install -r requirements.txt", "python train.py --learning_rate=0.001 --epochs=2 --optimizer=adam"],
      parameters: { learning_rate: 0.001, epochs: 2, optimizer: "adam", verbose: false },
      inputs: { dataset: ["https://example.com/data.csv"], extra: ["s3://b/k", "s3://b/k2"] },
      environmentVariables: { MODE: "fast", SEED: "1" },
      timeLimitSeconds: 3600,
      noOutputTimeoutSeconds: null,
    });
  });

  it("reports every bad value, naming the parameter, before anything else", async () => {
    const r = await runCli(["exec", "run", "train", "--dry-run", "--epochs=many", "--learning-rate=fast", "--verbose=maybe"], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain('Parameter "epochs"');
    expect(r.stderr).toContain('Parameter "learning_rate"');
    expect(r.stderr).toContain('Parameter "verbose"');
  });

  it("requires parameters without default", async () => {
    const r = await runCli(["exec", "run", "evaluate", "--dry-run"], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Parameter "model-name" is required: pass --model-name=VALUE.');
    const ok = await runCli(["exec", "run", "evaluate", "--dry-run", "--model-name", "m1"], { cwd: dir, env });
    expect(ok.stdout).toBe("python eval.py --model-name=m1\n");
  });

  it("names unknown options with a did-you-mean", async () => {
    const r = await runCli(["exec", "run", "train", "--dry-run", "--epoch=3"], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Unknown option --epoch for step "train". Did you mean --epochs?');
  });

  it("matches steps by unique prefix, and explains unknown or ambiguous ones", async () => {
    const ambiguous = await runCli(["exec", "run", "e", "--dry-run"], { cwd: dir, env });
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toContain('"e" matches several steps: evaluate, export');
    const unknown = await runCli(["exec", "run", "trainn", "--dry-run"], { cwd: dir, env });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('There is no step "trainn". Did you mean "train"? Steps: train, evaluate, export.');
    const ok = await runCli(["exec", "run", "exp", "--dry-run"], { cwd: dir, env });
    expect(ok.stdout).toBe("echo export\n");
  });

  it("prints valohai.yaml problems as FILE:LINE:COL and exits 1", async () => {
    fs.writeFileSync(path.join(dir, "valohai.yaml"), "- step:\n    name: x\n    image: [unclosed\n");
    const r = await runCli(["exec", "run", "x", "--dry-run"], { cwd: dir, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/valohai\.yaml:\d+:\d+: /);
  });

  it("reads --yaml relative to the project root", async () => {
    fs.mkdirSync(path.join(dir, "conf"));
    fs.writeFileSync(path.join(dir, "conf", "other.yaml"), "- step:\n    name: hello\n    image: alpine\n    command: echo hi\n");
    const r = await runCli(["exec", "run", "hello", "--dry-run", "--yaml", "conf/other.yaml"], { cwd: dir, env });
    expect(r.stdout).toBe("echo hi\n");
  });

  it("shows the step's parameter and input options in help", async () => {
    const r = await runCli(["exec", "run", "train", "--help"], { cwd: dir, env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("--learning-rate=FLOAT");
    expect(r.stdout).toContain("--verbose[=BOOL]");
    expect(r.stdout).toContain("a bare flag means true");
    expect(r.stdout).toContain("--dataset=URI");
  });

  it("refuses runs without --adhoc with exit 2, and needs a server otherwise", async () => {
    const noAdhoc = await runCli(["exec", "run", "train"], { cwd: dir, env });
    expect(noAdhoc.code).toBe(2);
    expect(noAdhoc.stderr).toContain("GitHub App");
    const noServer = await runCli(["exec", "run", "--adhoc", "train"], { cwd: dir, env });
    expect(noServer.code).toBe(1);
    expect(noServer.stderr).toContain("No vh server configured: start one with `npm start`, or set VH_URL and VH_TOKEN, or run `vh login`");
  });
});
