import fs from "node:fs";
import path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { runCli, tempDir, writeProject } from "./helpers.js";

/**
 * A row: label, parameters (YAML flow sequence), command list (null: `python t.py {parameters}`),
 * the options after STEP, and the script `vh exec run --dry-run` prints. Every expected script is
 * what valohai-cli 0.35.0 (click 8) sends for the same options, built by valohai-yaml 0.57.0 (for
 * the clash rows: valohai-cli given the options after `--`, the only way it reaches such a
 * parameter; see run-args.test.ts).
 */
type Row = [string, string, string[] | null, string[], string];

function yamlText(params: string, command: string[] | null): string {
  return `- step:\n    name: s\n    image: python:3.12\n    command: ${JSON.stringify(command ?? ["python t.py {parameters}"])}\n    parameters: ${params}\n`;
}

async function dryRun(params: string, command: string[] | null, argv: string[], before: string[] = []) {
  const d = tempDir();
  fs.writeFileSync(path.join(d, "valohai.yaml"), yamlText(params, command));
  return runCli(["exec", "run", "--dry-run", ...before, "s", ...argv], { cwd: d, env: { XDG_CONFIG_HOME: path.join(d, ".config"), HOME: d } });
}

const ROWS_BIG: Row[] = [
    ["big-cli", "[{name: n, type: integer}]", null, ["--n=12345678901234567"], "python t.py --n=12345678901234567\n"],
    ["big-cli-d", "[{name: n, type: integer, pass-as: \"--n={v:d}\"}]", null, ["--n=12345678901234567"], "python t.py --n=12345678901234567\n"],
    ["big-cli-neg", "[{name: n, type: integer}]", null, ["--n", "-98765432109876543210"], "python t.py --n=-98765432109876543210\n"],
    ["big-cli-float", "[{name: x, type: float}]", null, ["--x=12345678901234567"], "python t.py --x=1.2345678901234568e+16\n"],
    ["multi-none-cli", "[{name: m, type: string, multiple: repeat}, {name: k, default: x}]", null, [], "python t.py --k=x\n"],
    ["multi-none-separate-cli", "[{name: m, type: string, multiple: separate}]", null, [], "python t.py\n"],
    ["multi-null-default", "[{name: m, type: string, multiple: repeat, default: ~}]", null, [], "python t.py\n"],
    ["multi-none-given", "[{name: m, type: string, multiple: repeat}]", null, ["--m=a", "--m", "b c"], "python t.py --m=a '--m=b c'\n"],
];
const ROWS_CLASH: Row[] = [
    ["clash-title", "[{name: title, type: string}]", null, ["--title=x"], "python t.py --title=x\n"],
    ["clash-image", "[{name: image, type: string}]", null, ["--image=x"], "python t.py --image=x\n"],
    ["clash-json", "[{name: json, type: string}]", null, ["--json=x"], "python t.py --json=x\n"],
    ["clash-project", "[{name: project, type: string}]", null, ["--project=x"], "python t.py --project=x\n"],
    ["clash-dry-run", "[{name: dry-run, type: string}]", null, ["--dry-run=x"], "python t.py --dry-run=x\n"],
    ["clash-yaml", "[{name: yaml, type: string}]", null, ["--yaml=x"], "python t.py --yaml=x\n"],
    ["clash-var", "[{name: var, type: string}]", null, ["--var=x"], "python t.py --var=x\n"],
    ["clash-watch", "[{name: watch, type: string}]", null, ["--watch=x"], "python t.py --watch=x\n"],
    ["clash-adhoc", "[{name: adhoc, type: string}]", null, ["--adhoc=x"], "python t.py --adhoc=x\n"],
    ["clash-help", "[{name: help, type: string}]", null, ["--help=x"], "python t.py --help=x\n"],
    ["clash-Title", "[{name: Title, type: string}]", null, ["--title=x"], "python t.py --Title=x\n"],
    ["clash-flag-json", "[{name: json, type: flag}]", null, ["--json=yes"], "python t.py --json\n"],
];
const ROWS_COERCE: Row[] = [
    ["flag-word-'t'", "[{name: f, type: flag}]", null, ["--f=t"], "python t.py --f\n"],
    ["flag-word-'f'", "[{name: f, type: flag}]", null, ["--f=f"], "python t.py\n"],
    ["flag-word-''", "[{name: f, type: flag}]", null, ["--f="], "python t.py\n"],
    ["flag-word-'T'", "[{name: f, type: flag}]", null, ["--f=T"], "python t.py --f\n"],
    ["flag-word-'F'", "[{name: f, type: flag}]", null, ["--f=F"], "python t.py\n"],
    ["flag-word-' yes '", "[{name: f, type: flag}]", null, ["--f= yes "], "python t.py --f\n"],
    ["flag-word-'ON'", "[{name: f, type: flag}]", null, ["--f=ON"], "python t.py --f\n"],
    ["flag-word-'n'", "[{name: f, type: flag}]", null, ["--f=n"], "python t.py\n"],
    ["flag-separate-t", "[{name: f, type: flag}]", null, ["--f", "t"], "python t.py --f\n"],
    ["repeat-last-wins", "[{name: n, type: integer}]", null, ["--n=1", "--n=2", "--n", "3"], "python t.py --n=3\n"],
    ["repeat-last-wins-bad-first", "[{name: n, type: integer}]", null, ["--n=abc", "--n=2"], "python t.py --n=2\n"],
    ["repeat-last-wins-flag", "[{name: f, type: flag}]", null, ["--f=maybe", "--f=t"], "python t.py --f\n"],
    ["int-unicode-٣", "[{name: n, type: integer}]", null, ["--n=٣"], "python t.py --n=3\n"],
    ["float-unicode-٣", "[{name: x, type: float}]", null, ["--x=٣"], "python t.py --x=3.0\n"],
    ["int-unicode-١٢", "[{name: n, type: integer}]", null, ["--n=١٢"], "python t.py --n=12\n"],
    ["int-unicode-１２", "[{name: n, type: integer}]", null, ["--n=１２"], "python t.py --n=12\n"],
    ["float-unicode-１２", "[{name: x, type: float}]", null, ["--x=１２"], "python t.py --x=12.0\n"],
    ["int-unicode-𝟕", "[{name: n, type: integer}]", null, ["--n=𝟕"], "python t.py --n=7\n"],
    ["int-unicode- 5 ", "[{name: n, type: integer}]", null, ["--n= 5 "], "python t.py --n=5\n"],
    ["int-unicode-1_000", "[{name: n, type: integer}]", null, ["--n=1_000"], "python t.py --n=1000\n"],
    ["int-unicode- -7 ", "[{name: n, type: integer}]", null, ["--n= -7 "], "python t.py --n=-7\n"],
    ["float-unicode-٣.٥", "[{name: x, type: float}]", null, ["--x=٣.٥"], "python t.py --x=3.5\n"],
    ["value-takes-dash", "[{name: args, type: string}]", null, ["--args", "--fast"], "python t.py --args=--fast\n"],
    ["value-takes-dash-int", "[{name: n, type: integer}]", null, ["--n", "-5"], "python t.py --n=-5\n"],
    ["cli-inf", "[{name: x, type: float}]", null, ["--x=1e400"], "python t.py --x=inf\n"],
    ["cli-neg-zero", "[{name: x, type: float}]", null, ["--x=-0"], "python t.py --x=-0.0\n"],
];
const ROWS_DEFAULTS: Row[] = [
    ["int-default-0.5", "[{name: n, type: integer, default: 0.5}]", null, [], "python t.py --n=0\n"],
    ["int-default--0.5", "[{name: n, type: integer, default: -0.5}]", null, [], "python t.py --n=0\n"],
    ["int-default-yes", "[{name: n, type: integer, default: yes}]", null, [], "python t.py --n=1\n"],
    ["int-default-no", "[{name: n, type: integer, default: no}]", null, [], "python t.py --n=0\n"],
    ["int-default-1.0e+16", "[{name: n, type: integer, default: 1.0e+16}]", null, [], "python t.py --n=10000000000000000\n"],
    ["int-default-'7'", "[{name: n, type: integer, default: '7'}]", null, [], "python t.py --n=7\n"],
    ["int-default-2.0", "[{name: n, type: integer, default: 2.0}]", null, [], "python t.py --n=2\n"],
    ["float-default-yes", "[{name: x, type: float, default: yes}]", null, [], "python t.py --x=1.0\n"],
    ["float-default-no", "[{name: x, type: float, default: no}]", null, [], "python t.py --x=0.0\n"],
    ["float-default-7", "[{name: x, type: float, default: 7}]", null, [], "python t.py --x=7.0\n"],
    ["float-default-'0.5'", "[{name: x, type: float, default: '0.5'}]", null, [], "python t.py --x=0.5\n"],
    ["float-default-12345678901234567", "[{name: x, type: float, default: 12345678901234567}]", null, [], "python t.py --x=1.2345678901234568e+16\n"],
    ["flag-default-'t'", "[{name: f, type: flag, default: 't'}]", null, [], "python t.py --f\n"],
    ["flag-default-'f'", "[{name: f, type: flag, default: 'f'}]", null, [], "python t.py\n"],
    ["flag-default-'yes'", "[{name: f, type: flag, default: 'yes'}]", null, [], "python t.py --f\n"],
    ["string-default-1.5", "[{name: s, type: string, default: 1.5}]", null, [], "python t.py --s=1.5\n"],
    ["string-default-yes", "[{name: s, type: string, default: yes}]", null, [], "python t.py --s=True\n"],
    ["string-default-12345678901234567", "[{name: s, type: string, default: 12345678901234567}]", null, [], "python t.py --s=12345678901234567\n"],
    ["string-default-2020-01-02", "[{name: s, type: string, default: 2020-01-02}]", null, [], "python t.py --s=2020-01-02\n"],
    ["string-default-[a, b]", "[{name: s, type: string, default: [a, b]}]", null, [], "python t.py '--s=['\"'\"'a'\"'\"', '\"'\"'b'\"'\"']'\n"],
    ["string-default-1e-4", "[{name: s, type: string, default: 1e-4}]", null, [], "python t.py --s=1e-4\n"],
    ["string-default-1.0e+16", "[{name: s, type: string, default: 1.0e+16}]", null, [], "python t.py --s=1e+16\n"],
    ["string-default-format", "[{name: s, type: string, default: 1.5, pass-as: \"--s={v:.2f}\"}]", null, [], "python t.py {parameters}\n"],
    ["optional-none-pv", "[{name: s, type: string, optional: true}]", ["echo {parameter-value:s}"], [], "echo None\n"],
    ["multi-int-default-mixed", "[{name: n, type: integer, multiple: repeat, default: [1, 0.5, yes]}]", null, [], "python t.py --n=1 --n=0 --n=1\n"],
    ["cli-float-int-default", "[{name: x, type: float, multiple: separate, default: [1000, 1, 0.01]}]", null, [], "python t.py --x=1000.0,1.0,0.01\n"],
];


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

  it("--json masks secret values: by name, and passwords inside URLs", async () => {
    const r = await runCli(
      ["exec", "run", "train", "--dry-run", "--json", "--var", "DB_PASS=hunter2-db", "--var", "DATABASE_URL=postgres://u:pw-in-url@db/x", "--var", "SEED=1"],
      { cwd: dir, env },
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).environmentVariables).toEqual({ MODE: "fast", DB_PASS: "***", DATABASE_URL: "postgres://u:***@db/x", SEED: "1" });
    expect(r.stdout).not.toContain("hunter2-db");
    expect(r.stdout).not.toContain("pw-in-url");
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

  it("refuses --adhoc with --commit (exit 2), and needs a server for either kind of run", async () => {
    const both = await runCli(["exec", "run", "--adhoc", "--commit", "main", "train"], { cwd: dir, env });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--adhoc runs this directory; --commit runs a commit of the linked repository: give one of them.");
    const atCommit = await runCli(["exec", "run", "--commit", "main", "train"], { cwd: dir, env });
    expect(atCommit.code).toBe(1);
    expect(atCommit.stderr).toContain("No vh server configured");
    const noServer = await runCli(["exec", "run", "--adhoc", "train"], { cwd: dir, env });
    expect(noServer.code).toBe(1);
    expect(noServer.stderr).toContain("No vh server configured: start one with `npm start`, or set VH_URL and VH_TOKEN, or run `vh login`");
  });
});

describe("class: integers beyond 2^53 stay exact on the command line (and in --json)", () => {
  it.each(ROWS_BIG)("%s", async (_label, params, command, argv, expected) => {
    const r = await dryRun(params, command, argv);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(expected);
  });

  it("--json prints the exact digits, and floats as Python writes them", async () => {
    const r = await dryRun("[{name: n, type: integer}, {name: x, type: float, default: 1}, {name: z, type: float}]", null, ["--n=12345678901234567", "--z=-0"], ["--json"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"parameters": {\n    "n": 12345678901234567,\n    "x": 1.0,\n    "z": -0.0\n  }');
  });
});

describe("class: a step parameter is never swallowed by vh's option of the same name", () => {
  it.each(ROWS_CLASH)("%s", async (_label, params, command, argv, expected) => {
    const r = await dryRun(params, command, argv);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(expected);
    const option = argv[0]!.split("=")[0]!;
    expect(r.stderr).toMatch(new RegExp(`^note: ${option} after the step name is parameter "[^"]+" of step "s", not vh's own ${option}; to use vh's, put it before the step name`));
  });

  it("vh's own option before STEP stays vh's, next to the parameter of the same name", async () => {
    const r = await dryRun("[{name: json, type: flag}, {name: image, type: string}]", null, ["--json=t", "--image", "x"], ["--json", "--image", "alpine"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ image: "alpine", commandList: ["python t.py --json --image=x"], parameters: { json: true, image: "x" } });
  });

  it("help says so", async () => {
    const r = await dryRun("[{name: title, type: string}]", null, ["-h"]);
    expect(r.stdout).toContain("After STEP, an option named like one of the step's parameters or inputs is that parameter or input");
    expect(r.stdout).toContain(`Note: After the step name, --title is parameter "title" of step "s"; vh's own --title goes before the step name`);
  });
});

describe("class: valohai-cli's value coercions (click)", () => {
  it.each(ROWS_COERCE)("%s", async (_label, params, command, argv, expected) => {
    const r = await dryRun(params, command, argv);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(expected);
  });

  it.each(ROWS_DEFAULTS)("YAML default: %s", async (_label, params, command, argv, expected) => {
    const r = await dryRun(params, command, argv);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(expected);
  });

  // Where click changes a number, vh runs with the same value and says so (valohai-cli is silent).
  it.each([
    ["[{name: n, type: integer, default: 0.5}]", 'warning: Parameter "n" (integer): the default 0.5 is not an integer; valohai-cli reads it as 0, and so does this run. Write it as 0 to say so.\n'],
    ["[{name: n, type: integer, default: yes}]", 'warning: Parameter "n" (integer): the default True is not an integer; valohai-cli reads it as 1, and so does this run. Write it as 1 to say so.\n'],
    ["[{name: x, type: float, default: no}]", 'warning: Parameter "x" (float): the default False is not a number; valohai-cli reads it as 0.0, and so does this run. Write it as 0.0 to say so.\n'],
    ["[{name: n, type: integer, default: '7'}]", ""],
    ["[{name: x, type: float, default: 7}]", ""],
  ])("warning for %s", async (params, warning) => {
    const r = await dryRun(params, null, []);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(warning);
  });

  // click refuses these (its message in the third column); so does vh, naming the parameter.
  it.each([
    ["[{name: n, type: integer}]", ["--n=٣.٥"], "Invalid value for '--n': '٣.٥' is not a valid integer.", 'Parameter "n": ٣.٥ is not an integer'],
    ["[{name: n, type: integer, default: 'abc'}]", [], "Invalid value for '--n': 'abc' is not a valid integer.", `Parameter "n": the default 'abc' is not a valid integer`],
    ["[{name: n, type: integer, default: 1.5e300}]", [], "Invalid value for '--n': '1.5e300' is not a valid integer.", `Parameter "n": the default '1.5e300' is not a valid integer`],
    ["[{name: x, type: float, default: 'abc'}]", [], "Invalid value for '--x': 'abc' is not a valid float.", `Parameter "x": the default 'abc' is not a valid float`],
    ["[{name: f, type: flag, default: 'maybe'}]", [], "Invalid value for '--f': 'maybe' is not a valid boolean.", `Parameter "f": the default 'maybe' is not a valid boolean`],
  ])("refused: %s %j", async (params, argv, _clickMessage, ours) => {
    const r = await dryRun(params, null, argv);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(ours);
  });

  // valohai-cli reads a .json parameter file with json.load and anything else with PyYAML.
  it.each([
    ["params.json", `{"n": 12345678901234567, "x": 1, "s": 1.5}`, "python t.py --n=12345678901234567 --x=1.0 --s=1.5\n"],
    ["params.yaml", "n: 12345678901234567\nx: 1\ns: 1.5\nf: yes\n", "python t.py --n=12345678901234567 --x=1.0 --s=1.5 --f\n"],
  ])("--parameter-file %s keeps integers exact", async (name, text, expected) => {
    const d = tempDir();
    fs.writeFileSync(path.join(d, "valohai.yaml"), yamlText("[{name: n, type: integer}, {name: x, type: float}, {name: s, type: string}, {name: f, type: flag}]", null));
    fs.writeFileSync(path.join(d, name), text);
    const r = await runCli(["exec", "run", "--dry-run", "--parameter-file", name, "s"], { cwd: d, env: { XDG_CONFIG_HOME: path.join(d, ".config"), HOME: d } });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(expected);
  });

  it("dry-run parameter values follow valohai-cli's typing", async () => {
    const r = await dryRun(
      "[{name: n, type: integer, default: 0.5}, {name: x, type: float, default: 7}, {name: s, type: string, default: 1.5}, {name: f, type: flag, default: 't'}, {name: o, type: string, optional: true}, {name: m, type: integer, multiple: repeat}]",
      null,
      [],
      ["--json"],
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"parameters": {\n    "n": 0,\n    "x": 7.0,\n    "s": "1.5",\n    "f": true,\n    "o": null\n  }');
  });
});

describe("class: a pass-as template Python cannot fill in is a located error, never a stack trace", () => {
  it.each([
    ["lint: {v.real} on a string", `[{name: v, type: string, default: ab, pass-as: "--x={v.real}"}]`, [], /^error: valohai\.yaml is invalid:\nvalohai\.yaml:5:\d+: Step "s", parameter "v": `pass-as` "--x=\{v\.real\}" cannot be filled in with a string value/],
    ["build: {v[3]} on a short value", `[{name: v, type: string, pass-as: "--x={v[3]}"}]`, ["--v=ab"], /^error: valohai\.yaml:5:\d+: Step "s", parameter "v": cannot fill in "--x=\{v\[3\]\}" with the value 'ab': string index out of range \(Python raises IndexError\)\.\n$/],
  ])("%s", async (_label, params, argv, message) => {
    const r = await dryRun(params, null, argv);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("a template Python leaves as written (ValueError) builds the same, with the lint warning nowhere fatal", async () => {
    const r = await dryRun(`[{name: v, type: integer, default: 5, pass-as: "--x={0}"}]`, ["python t.py {parameters}", "echo done"], []);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("python t.py {parameters}\necho done\n");
  });
});
