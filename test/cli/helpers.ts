/** Runs `main` in-process with captured streams, a temp config dir and no real sleeping. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { main } from "../../app/cli/main.js";
import type { Packer } from "../../app/cli/snapshot-upload.js";
import { afterAll } from "vitest";

/** A stand-in for app/cli/packaging: a deterministic gzip of the sorted top-level files. */
export const fakePacker: Packer = async (dir) => {
  const files = fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile() && !e.name.startsWith(".")).map((e) => e.name).sort();
  const data = gzipSync(Buffer.concat(files.map((f) => Buffer.concat([Buffer.from(`${f}\0`), fs.readFileSync(path.join(dir, f))]))));
  return { sha256: createHash("sha256").update(data).digest("hex"), data, size: data.length, fileCount: files.length, warnings: [] };
};

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const made: string[] = [];
// Registered while the importing test file is collected: its temp folders go when it ends.
afterAll(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

export function tempDir(prefix = "vh-cli-"): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  made.push(dir);
  return dir;
}

export async function runCli(argv: string[], opts: { cwd: string; env?: Record<string, string | undefined> }): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: opts.env ?? {},
    cwd: opts.cwd,
    sleep: async () => {},
    packer: fakePacker,
  });
  return { code, stdout, stderr };
}

/**
 * `vh` against a running server (its URL and token first: `exec run` reads the options after STEP
 * as the step's), the real packager, a config dir in `dir`.
 */
export function cliAgainst(server: { url: string; token: string }, dir: string): (args: string[]) => Promise<CliResult> {
  return async (args) => {
    let stdout = "";
    let stderr = "";
    const code = await main(["--url", server.url, "--token", server.token, ...args], {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      env: { XDG_CONFIG_HOME: path.join(dir, ".config"), HOME: dir },
      cwd: dir,
      sleep: async () => {},
    });
    return { code, stdout, stderr };
  };
}

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export type Handler = (req: Recorded, res: http.ServerResponse) => void | Promise<void>;

/** A tiny HTTP server on 127.0.0.1:0; `routes` are keyed by "METHOD /path" (query stripped). */
export async function stubServer(routes: Record<string, Handler>): Promise<{ url: string; requests: Recorded[]; close: () => Promise<void> }> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const rec: Recorded = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(rec);
      const key = `${rec.method} ${rec.url.split("?")[0]}`;
      const handler = routes[key] ?? Object.entries(routes).find(([k]) => matches(k, key))?.[1];
      if (!handler) {
        sendJson(res, 404, { error: { code: "not_found", message: `No route ${key}.` } });
        return;
      }
      Promise.resolve(handler(rec, res)).catch((err: unknown) => sendJson(res, 500, { error: { code: "internal", message: String(err) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `GET /a/:x/b` matches `GET /a/1/b`. */
function matches(pattern: string, key: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:[a-z]+/gi, "[^/]+")}$`);
  return re.test(key);
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export const FIXTURE_YAML = `
- step:
    name: train
    image: python:3.12
    command:
      - pip install -r requirements.txt
      - python train.py {parameters}
    parameters:
      - name: learning_rate
        type: float
        default: 0.001
      - name: epochs
        type: integer
        default: 10
      - name: optimizer
        type: string
        default: adam
      - name: verbose
        type: flag
        default: false
      - name: layers
        type: integer
        multiple: repeat
        optional: true
      - name: tags
        type: string
        multiple: separate
        optional: true
    inputs:
      - name: dataset
        default: https://example.com/data.csv
      - name: extra
        optional: true
    environment-variables:
      - name: MODE
        default: fast
    time-limit: 3600
- step:
    name: evaluate
    image: python:3.12
    command: python eval.py {parameters}
    parameters:
      - name: model-name
        type: string
- step:
    name: export
    image: alpine
    command: echo export
`;

export function writeProject(dir: string, yaml = FIXTURE_YAML): void {
  fs.writeFileSync(path.join(dir, "valohai.yaml"), yaml);
  fs.writeFileSync(path.join(dir, "train.py"), "print('hi')\n");
}
