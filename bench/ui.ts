/**
 * The web UI (docs/ui.md): bundle sizes gzipped; how many points of a 1,000,000-point metric the
 * chart is sent (LTTB, app/http/ui/lttb.ts); and, in the same headless Chromium run, the time to a
 * rendered execution page with that metric (navigation until its chart has drawn) against the time
 * to load a plain static page of the same size (the page's HTML plus the series it fetches) from a
 * loopback server. Median of RUNS each. Needs /usr/bin/chromium. Smoke: 20,000 points, 1 run.
 */
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import postgres from "postgres";
import { BUNDLE_DIR, buildUiBundle } from "../app/http/ui/build.js";
import { startStack } from "../test/helpers/stack.js";
import { uploadFiles } from "../test/helpers/snapshot.js";
import { benchPostgres, percentile, round, size } from "./support.js";

const CHROMIUM = "/usr/bin/chromium";

export async function run(): Promise<Record<string, number>> {
  const points = size("BENCH_UI_POINTS", 1_000_000, 20_000);
  const runs = size("BENCH_UI_RUNS", 5, 1);
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: this bench times pages in Debian's chromium (apt-get install chromium).`);
  await buildUiBundle();
  const gz = (f: string) => round(gzipSync(fs.readFileSync(path.join(BUNDLE_DIR, f)), { level: 9 }).length / 1024, 1);
  const pg = await benchPostgres();
  const stack = await startStack({ databaseUrl: pg.connectionString, worker: false });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
  let staticServer: http.Server | null = null;
  try {
    await stack.api("POST", "/api/v1/projects", { name: "bench" });
    const code = await uploadFiles(stack, { "valohai.yaml": "- step:\n    name: train\n    image: python:3.12\n    command: [echo hi]\n" });
    const e = await stack.api<{ id: string }>("POST", "/api/v1/projects/bench/executions", { code, step: "train" });
    const sql = postgres(pg.connectionString, { max: 1, onnotice: () => {} });
    await sql`insert into metadata_events (execution_id, seq, time, data)
      select ${e.id}::uuid, g, now(), jsonb_build_object('step', g, 'loss', 1.0 / g + sin(g / 1000.0) / 10)
      from generate_series(1, ${points}) g`;
    await sql`update executions set metadata_latest = (select data from metadata_events where execution_id = ${e.id}::uuid and seq = ${points}) where id = ${e.id}::uuid`;
    await sql.end();
    const cookie = { name: "vh_token", value: stack.vh.token, url: stack.vh.url };
    const series = await stack.raw("GET", `/ui/executions/${e.id}/series/loss`, undefined, { cookie: `vh_token=${stack.vh.token}` });
    const seriesText = await series.text();
    const served = (JSON.parse(seriesText) as { xs: number[] }).xs.length;
    const html = await (await stack.raw("GET", `/ui/executions/${e.id}`, undefined, { cookie: `vh_token=${stack.vh.token}` })).text();

    // the same number of bytes, as one plain static page
    const staticBody = Buffer.from(`<!doctype html><html><body><pre>${"x".repeat(Math.max(0, html.length + seriesText.length - 50))}</pre></body></html>`);
    staticServer = http.createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end(staticBody));
    await new Promise<void>((r) => staticServer!.listen(0, "127.0.0.1", r));
    const staticUrl = `http://127.0.0.1:${(staticServer.address() as { port: number }).port}/`;

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addCookies([cookie]);
    const page = await context.newPage();
    const execMs: number[] = [];
    const staticMs: number[] = [];
    for (let i = 0; i < runs + 1; i++) {
      let t0 = performance.now();
      await page.goto(`${stack.vh.url}/ui/executions/${e.id}`);
      await page.waitForSelector('figure.chart[data-key="loss"][data-ready="true"] canvas', { timeout: 120_000 });
      const a = performance.now() - t0;
      t0 = performance.now();
      await page.goto(staticUrl, { waitUntil: "load" });
      const b = performance.now() - t0;
      if (i > 0) {
        execMs.push(a);
        staticMs.push(b);
      }
    }
    await context.close();
    return {
      js_gzip_kb: gz("app.js"),
      css_gzip_kb: gz("app.css"),
      series_points: points,
      series_1m_points_served: served,
      execution_page_ms: round(percentile(execMs, 50), 1),
      static_page_ms: round(percentile(staticMs, 50), 1),
    };
  } finally {
    staticServer?.close();
    await browser.close();
    await stack.stop();
    await pg.stop();
  }
}
