/**
 * app/cli/transfer-progress.ts: the byte progress of the CLI's uploads and downloads, drawn on a
 * fake terminal (isTTY, columns) and on a plain writer (a pipe, a CI log), with a fake clock.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { trackBytes, trackedBody, transferProgress } from "../../app/cli/transfer-progress.js";

const MiB = 1024 * 1024;
const ESC = "\u001b";

function writer(tty: boolean, columns = 120) {
  const w = { text: "", isTTY: tty, columns, write: (s: string) => ((w.text += s), true) };
  return w;
}

/** A clock that moves only when told. */
function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("on a terminal: a bar with bytes, rate and ETA", () => {
  it("draws the label, the bar, done / total, the rate and the ETA, then ends on its own line", () => {
    const w = writer(true);
    const c = clock();
    const p = transferProgress(w, { label: "Uploading code", total: 10 * MiB, now: c.now });
    c.advance(2000);
    p.add(4 * MiB);
    const during = w.text;
    c.advance(3000);
    p.add(6 * MiB);
    expect(p.done()).toEqual({ bytes: 10 * MiB, ms: 5000 });
    expect(during).toContain("Uploading code");
    expect(w.text).toContain("100% | 10 MiB / 10 MiB | 2.0 MiB/s | ETA 0s");
    expect(w.text).toMatch(/Uploading code [█░]{10,40} 100%/);
    // drawn in place (cursor to column 1, line cleared), and a newline at the end
    expect(w.text).toContain(`${ESC}[1G`);
    expect(w.text.endsWith("\n")).toBe(true);
    // done twice draws nothing more
    const before = w.text;
    p.done();
    expect(w.text).toBe(before);
  });

  it("says the time left while the transfer runs", async () => {
    const w = writer(true);
    const c = clock();
    const p = transferProgress(w, { label: "Downloading model.pt", total: 100 * MiB, now: c.now });
    c.advance(10_000);
    p.add(10 * MiB); // 1 MiB/s, 90 MiB to go
    p.abort();
    // the bar's last drawing (on stop) has the figures of that moment
    expect(w.text).toContain("10 MiB / 100 MiB | 1.0 MiB/s | ETA 1m30s");
  });

  it("with clear, wipes the bar when done so the caller's own line takes its place", () => {
    const w = writer(true);
    const c = clock();
    const p = transferProgress(w, { label: "Downloading model.pt", total: 10, now: c.now, clear: true });
    c.advance(1000);
    p.add(10);
    p.done();
    expect(w.text).toContain("100% | 10 B / 10 B");
    expect(w.text.endsWith(`${ESC}[1G${ESC}[2K`)).toBe(true);
  });

  it("shows bytes and rate only when the total is unknown", () => {
    const w = writer(true);
    const c = clock();
    const p = transferProgress(w, { label: "Downloading x", total: null, now: c.now });
    c.advance(1000);
    p.add(3 * MiB);
    p.done();
    expect(w.text).toContain("Downloading x 3.0 MiB | 3.0 MiB/s");
    expect(w.text).not.toContain("ETA");
  });

  it("fits a narrow terminal and shows the end of a long label, made printable", () => {
    const w = writer(true, 60);
    const c = clock();
    const name = `Downloading ${"deep/".repeat(20)}evil${ESC}]0;title\u0007.bin`;
    const p = transferProgress(w, { label: name, total: 10, now: c.now });
    p.add(10);
    p.done();
    const drawn = w.text.split(`${ESC}[1G`).pop()!;
    expect(drawn).toContain("…");
    expect(drawn).toContain("evil\\x1b]0;title\\x07.bin".slice(-20));
    expect(w.text).not.toContain(`${ESC}]0;`);
  });
});

describe("not on a terminal: plain lines", () => {
  it("prints one line per 10 % (at most one a second), no escapes, and a 100 % line at the end", () => {
    const w = writer(false);
    const c = clock();
    const p = transferProgress(w, { label: "Uploading code", total: 100 * MiB, now: c.now });
    for (let i = 0; i < 20; i++) {
      c.advance(500);
      p.add(5 * MiB);
    }
    p.done();
    const lines = w.text.trimEnd().split("\n");
    expect(w.text).not.toContain(ESC);
    expect(w.text).not.toContain("\r");
    expect(lines[0]).toBe("Uploading code: 10% (10 MiB of 100 MiB, 10 MiB/s, ETA 9.0s)");
    expect(lines.map((l) => /: (\d+)%/.exec(l)?.[1])).toEqual(["10", "20", "30", "40", "50", "60", "70", "80", "90", "100"]);
    expect(lines.at(-1)).toBe("Uploading code: 100% (100 MiB in 10s, 10 MiB/s)");
  });

  it("skips steps that come faster than a second apart", () => {
    const w = writer(false);
    const c = clock();
    const p = transferProgress(w, { label: "Downloading a.bin", total: 100, now: c.now });
    c.advance(1000);
    p.add(10); // 10 %: a line
    c.advance(100);
    p.add(10); // 20 % a tenth of a second later: none
    c.advance(1000);
    p.add(10); // 30 %: a line
    c.advance(100);
    p.add(70); // the rest at once: said by the final line
    p.done();
    expect(w.text.trimEnd().split("\n").map((l) => /: (\d+)%/.exec(l)?.[1])).toEqual(["10", "30", "100"]);
  });

  it("says nothing about a transfer that took less than a second", () => {
    const w = writer(false);
    const c = clock();
    const p = transferProgress(w, { label: "Uploading code", total: 10 * MiB, now: c.now });
    for (let i = 0; i < 10; i++) {
      c.advance(50);
      p.add(MiB);
    }
    expect(p.done()).toEqual({ bytes: 10 * MiB, ms: 500 });
    expect(w.text).toBe("");
  });

  it("with no known total, prints what moved every few seconds", () => {
    const w = writer(false);
    const c = clock();
    const p = transferProgress(w, { label: "Downloading x", total: undefined, now: c.now });
    for (let i = 0; i < 12; i++) {
      c.advance(1000);
      p.add(MiB);
    }
    p.done();
    expect(w.text).toBe("Downloading x: 5.0 MiB (1.0 MiB/s)\nDownloading x: 10 MiB (1.0 MiB/s)\nDownloading x: 100% (12 MiB in 12s, 1.0 MiB/s)\n");
  });
});

describe("wrapping the bytes where they pass", () => {
  async function* source(chunks: number[], c: ReturnType<typeof clock>, fail?: Error) {
    for (const n of chunks) {
      c.advance(1000);
      yield new Uint8Array(n).fill(7);
    }
    if (fail) throw fail;
  }

  it("trackBytes passes every chunk on unchanged and ends the display with the source", async () => {
    const w = writer(false);
    const c = clock();
    const got: Uint8Array[] = [];
    for await (const chunk of trackBytes(w, source([30, 30, 40], c), { label: "Downloading a", total: 100, now: c.now })) got.push(chunk);
    expect(got.map((g) => g.length)).toEqual([30, 30, 40]);
    expect(got.every((g) => g.every((b) => b === 7))).toBe(true);
    expect(w.text).toBe("Downloading a: 30% (30 B of 100 B, 30 B/s, ETA 2.3s)\nDownloading a: 60% (60 B of 100 B, 30 B/s, ETA 1.3s)\nDownloading a: 100% (100 B in 3.0s, 33 B/s)\n");
  });

  it("a failing source stops the display without a final line, and the error goes on", async () => {
    const w = writer(true);
    const c = clock();
    const it = trackBytes(w, source([10], c, new Error("connection reset")), { label: "Downloading b", total: 100, now: c.now });
    await expect(
      (async () => {
        for await (const _ of it) void _;
      })(),
    ).rejects.toThrow("connection reset");
    expect(w.text).toContain("10 B / 100 B");
    expect(w.text).not.toContain("100%");
  });

  it("counts a fetch response body as it is read (a download)", async () => {
    const payload = Buffer.alloc(5 * MiB, 3);
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { "content-length": payload.length });
      res.end(payload);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      const w = writer(false);
      let t = 0;
      let got = 0;
      for await (const chunk of trackBytes(w, res.body!, { label: "Downloading big.bin", total: payload.length, now: () => (t += 200) })) got += chunk.length;
      expect(got).toBe(payload.length);
      expect(w.text.trimEnd().split("\n").at(-1)).toMatch(/^Downloading big\.bin: 100% \(5\.0 MiB in [\d.]+s, [\d.]+ (KiB|MiB)\/s\)$/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("trackedBody sends bytes in memory as a stream of chunks, counting them", async () => {
    const w = writer(false);
    const c = clock();
    const data = new Uint8Array(3 * MiB).map((_, i) => i % 251);
    const stream = trackedBody(w, data, { label: "Uploading code", now: () => c.advance(400) });
    const parts: Uint8Array[] = [];
    for await (const part of stream as unknown as AsyncIterable<Uint8Array>) parts.push(part);
    expect(parts.length).toBe(12);
    expect(Buffer.concat(parts).equals(Buffer.from(data))).toBe(true);
    expect(w.text).toMatch(/^Uploading code: \d+% \(/);
    expect(w.text.trimEnd().split("\n").at(-1)).toMatch(/^Uploading code: 100% \(3\.0 MiB in /);
  });
});
