/** What the Action's tests share: a workspace with a valohai.yaml, a recording job log, the runner's file formats. */
import fs from "node:fs";
import path from "node:path";
import type { JobLog } from "../../action/src/main.js";

export const YAML = `
- step:
    name: train
    image: python:3.12
    command: python3 train.py {parameters}
    parameters:
      - name: lr
        type: float
        default: 0.01
      - name: epochs
        type: integer
        default: 2
- step:
    name: fail
    image: python:3.12
    command: python3 fail.py
- step:
    name: slow
    image: python:3.12
    command: sleep 60
`;

/** Prints one metrics line per epoch, a line that looks like a workflow command, and one that looks like JSON but is not. */
export const TRAIN_PY = `import json, sys
args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
lr = float(args.get("lr", "0.01"))
epochs = int(args.get("epochs", "2"))
print("::warning::printed by the job")
print("{not json")
for epoch in range(epochs):
    loss = round(lr * 10 + 1 / (epoch + 2), 4)
    print(json.dumps({"epoch": epoch, "loss": loss, "accuracy": round(1 - loss / 10, 4)}))
`;

export const FAIL_PY = `import sys
print("loading the data")
print("Traceback: the data is not there", file=sys.stderr)
sys.exit(3)
`;

export function writeWorkspace(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "valohai.yaml"), YAML);
  fs.writeFileSync(path.join(dir, "train.py"), TRAIN_PY);
  fs.writeFileSync(path.join(dir, "fail.py"), FAIL_PY);
  fs.mkdirSync(path.join(dir, "ignored"), { recursive: true });
  fs.writeFileSync(path.join(dir, ".gitignore"), "ignored/\n");
  fs.writeFileSync(path.join(dir, "ignored", "big.bin"), "not uploaded\n");
  return dir;
}

export type Entry =
  | { kind: "info" | "verbatim"; text: string }
  | { kind: "warning" | "error"; text: string; title?: string | undefined }
  | { kind: "group"; text: string }
  | { kind: "endgroup" };

/** A JobLog that records what the Action wrote, in order. */
export function recordingLog(): JobLog & { entries: Entry[]; text(): string } {
  const entries: Entry[] = [];
  return {
    entries,
    info: (text) => void entries.push({ kind: "info", text }),
    warning: (text, title) => void entries.push({ kind: "warning", text, title }),
    error: (text, title) => void entries.push({ kind: "error", text, title }),
    startGroup: (text) => void entries.push({ kind: "group", text }),
    endGroup: () => void entries.push({ kind: "endgroup" }),
    verbatim: (lines) => void entries.push(...lines.map((text) => ({ kind: "verbatim" as const, text }))),
    text: () => entries.map((e) => ("text" in e ? `${e.kind}: ${e.text}` : e.kind)).join("\n"),
  };
}

/** The runner's GITHUB_OUTPUT (and GITHUB_STATE) file: `name<<DELIMITER`, the value's lines, `DELIMITER`. */
export function parseCommandFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i]!);
    if (!m) {
      const eq = lines[i]!.indexOf("=");
      if (eq > 0) out[lines[i]!.slice(0, eq)] = lines[i]!.slice(eq + 1);
      continue;
    }
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]!);
    out[m[1]!] = value.join("\n");
  }
  return out;
}
