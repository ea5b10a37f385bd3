/**
 * An http(s) input whose server stops sending is given up after the stall limit, with a message
 * naming the input and the URL, so a start never holds its queue slot for ever; a slow download
 * that keeps sending is never cut off. Loopback server, the input cache the local runner uses.
 */
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInputCache } from "../../worker/runners/shared/inputs.js";
import { createTempStore } from "../runners/temp-store.js";

describe("http inputs that stall", () => {
  let server: http.Server;
  let base: string;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vh-stall-"));
  const open: http.ServerResponse[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      open.push(res);
      if (req.url === "/no-answer") return; // never even the headers
      res.writeHead(200, { "content-type": "application/octet-stream" });
      if (req.url === "/stops") return void res.write("the first bytes, then nothing");
      // /trickle: a byte every 100 ms for 1.2 s (each gap well under the limit), then the end.
      let n = 0;
      const t = setInterval(() => {
        res.write("x");
        if (++n === 12) {
          clearInterval(t);
          res.end();
        }
      }, 100);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const r of open) r.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const cache = () => createInputCache({ cacheRoot: path.join(dir, "cache"), store: createTempStore(path.join(dir, "store")), fetch, stallMs: 400 });
  const spec = (p: string) => ({ input: "data", name: "f.bin", uri: `${base}${p}`, source: { kind: "http" as const, url: `${base}${p}` } });

  it("gives up on a server that never answers, naming the input and URL", async () => {
    const inputs = path.join(dir, "in1");
    await expect(cache().fetchInputs([spec("/no-answer")], inputs)).rejects.toThrow(/^Input "data": could not download http:\/\/127\.0\.0\.1:\d+\/no-answer: nothing received for 400 ms: the server stalled\.$/);
  });

  it("gives up on a body that stops mid-way, and keeps no partial file", async () => {
    const inputs = path.join(dir, "in2");
    await expect(cache().fetchInputs([spec("/stops")], inputs)).rejects.toThrow(/\/stops: nothing received for 400 ms: the server stalled\./);
    expect(fs.readdirSync(path.join(dir, "cache", "tmp"))).toEqual([]);
    expect(fs.existsSync(path.join(inputs, "data", "f.bin"))).toBe(false);
  });

  it("never cuts off a slow download that keeps sending", async () => {
    const inputs = path.join(dir, "in3");
    const [got] = await cache().fetchInputs([spec("/trickle")], inputs);
    expect(got!.size).toBe(12);
    expect(fs.readFileSync(path.join(inputs, "data", "f.bin"), "utf8")).toBe("x".repeat(12));
  });
});
