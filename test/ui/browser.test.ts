/**
 * The web UI (app/http/ui/pages.ts and its bundled script) in a real headless Chromium
 * (playwright-core driving Debian's /usr/bin/chromium) against a whole vh: sign in, watch a running
 * execution's log lines arrive over SSE and stop it, see a chart whose points are the metadata,
 * compare two executions. Screenshots of each page go to test-results/ui/ (git-ignored).
 * In CI (CI=true) a missing chromium fails the suite; elsewhere it is skipped with a message.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { createTestDatabase } from "../helpers/db.js";
import { startStack, waitFor, type Stack } from "../helpers/stack.js";
import { uploadFiles } from "../helpers/snapshot.js";
import { buildUiBundle } from "../../app/http/ui/build.js";

// What the callbacks given to page.evaluate / waitForFunction use: they run in the page, not here.
declare const document: { querySelectorAll(s: string): { length: number }; getElementById(id: string): { textContent: string | null } | null };
declare const window: unknown;

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = path.resolve("test-results/ui");
const present = fs.existsSync(CHROMIUM);
if (!present && process.env["CI"] !== "true") console.warn(`test/ui/browser.test.ts skipped: ${CHROMIUM} is missing (apt-get install chromium); in CI this fails.`);

// metrics: loss = 100 / step (integer division), over steps 1..5; a stderr line per step
const YAML = `
- step:
    name: train
    image: python:3.12
    parameters:
      - name: lr
        type: float
        default: 0.01
    command:
      - |
        for i in 1 2 3 4 5; do printf '{"step": %d, "loss": %d}\\n' $i $((100 / i)); echo "epoch $i done"; echo "warning at $i" >&2; done
- step:
    name: slow
    image: python:3.12
    command:
      - for i in $(seq 1 600); do echo "tick $i"; sleep 0.2; done
`;

type Exec = { id: string; counter: number; status: string };

describe.skipIf(!present && process.env["CI"] !== "true")("the web UI in a browser", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  let a: Exec;
  let b: Exec;

  const ended = (n: number) =>
    waitFor(`execution #${n} to end`, async () => {
      const e = await stack.api<Exec>("GET", `/api/v1/projects/demo/executions/${n}`);
      return ["completed", "failed", "error", "stopped", "lost"].includes(e.status) ? e : undefined;
    }, 60_000);
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    if (!present) throw new Error(`${CHROMIUM} is missing: the browser tests need Debian's chromium (.ci/run installs it).`);
    await buildUiBundle();
    fs.mkdirSync(SHOTS, { recursive: true });
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString });
    await stack.api("POST", "/api/v1/projects", { name: "demo" });
    const code = await uploadFiles(stack, { "valohai.yaml": YAML });
    const one = await stack.api<Exec>("POST", "/api/v1/projects/demo/executions", { code, step: "train", parameters: { lr: 0.1 } });
    const two = await stack.api<Exec>("POST", "/api/v1/projects/demo/executions", { code, step: "train", parameters: { lr: 0.2 } });
    a = await ended(one.counter);
    b = await ended(two.counter);
    expect([a.status, b.status]).toEqual(["completed", "completed"]);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await db?.drop();
  });

  it("asks for a token, signs in with it and comes back to the page asked for", async () => {
    const res = await page.goto(`${stack.vh.url}/ui/executions?step=train`);
    expect(res!.status()).toBe(401);
    await shot("sign-in");
    await page.fill("input[name=token]", stack.vh.token);
    await page.click("button");
    await page.waitForURL(/\/ui\/executions\?step=train$/);
    const rows = page.locator("table.list tbody tr");
    expect(await rows.count()).toBe(2);
    await expect(page.locator(`a[href="/ui/executions/${a.id}"]`).first().textContent()).resolves.toBe(`#${a.counter}`);
    await shot("executions");
  });

  it("shows a chart whose points are the execution's metadata, and the stderr lines marked", async () => {
    await page.goto(`${stack.vh.url}/ui/executions/${a.id}`);
    await page.waitForSelector('figure.chart[data-key="loss"][data-ready="true"] canvas');
    const drawn = await page.evaluate(() => (window as unknown as { vhCharts: Record<string, { x: string; xs: number[]; ys: number[] }> }).vhCharts["loss"]);
    expect(drawn).toEqual({ x: "step", xs: [1, 2, 3, 4, 5], ys: [100, 50, 33, 25, 20], total: 5 });
    // the metadata as the API has it: the same points
    const api = await stack.api<{ points: { value: number }[] }>("GET", `/api/v1/projects/demo/executions/${a.counter}/metadata/loss`);
    expect(api.points.map((p) => p.value)).toEqual(drawn!.ys);
    // "step" is the x, not a chart of its own
    expect(await page.locator('figure.chart[data-key="step"]').count()).toBe(0);
    await page.waitForFunction(() => document.querySelectorAll("#log .ln").length >= 15);
    expect(await page.locator("#log .ln.stderr").allTextContents()).toEqual([1, 2, 3, 4, 5].map((i) => `warning at ${i}`));
    // metadata lines stay log lines too (as in Valohai)
    expect(await page.locator("#log .ln.stdout").allTextContents()).toEqual([1, 2, 3, 4, 5].flatMap((i) => [`{"step": ${i}, "loss": ${Math.floor(100 / i)}}`, `epoch ${i} done`]));
    await page.fill("#log-search", "epoch 3");
    expect(await page.locator("#log .ln:not(.miss)").allTextContents()).toEqual(["epoch 3 done"]);
    await expect(page.locator("table.facts").textContent()).resolves.toContain("completed");
    // the full series downloads as CSV
    const csv = await page.evaluate(async (u) => (await fetch(u)).text(), `/ui/executions/${a.id}/series/loss?format=csv`);
    expect(csv).toBe("step,loss\n1,100\n2,50\n3,33\n4,25\n5,20\n");
    await shot("execution");
  });

  it("streams a running execution's log lines as they are printed, and stops it with the Stop button", async () => {
    const code = await uploadFiles(stack, { "valohai.yaml": YAML });
    const made = await stack.api<Exec>("POST", "/api/v1/projects/demo/executions", { code, step: "slow" });
    await waitFor("the slow execution to print", async () => {
      const l = await stack.api<{ lines: unknown[] }>("GET", `/api/v1/projects/demo/executions/${made.counter}/logs`);
      return l.lines.length > 0 ? true : undefined;
    });
    await page.goto(`${stack.vh.url}/ui/executions/${made.id}`);
    await page.waitForSelector("#log .ln");
    const firstCount = await page.locator("#log .ln").count();
    // new lines arrive without a reload
    await page.waitForFunction((n) => document.querySelectorAll("#log .ln").length >= n + 5, firstCount, { timeout: 20_000 });
    const seen = await page.locator("#log .ln").allTextContents();
    expect(seen.every((t, i) => i === 0 || Number(t.split(" ")[1]) === Number(seen[i - 1]!.split(" ")[1]) + 1)).toBe(true);
    expect(await page.locator("#status").textContent()).toBe("running");
    await shot("execution-live");
    await page.click("#stop");
    await page.waitForFunction(() => document.getElementById("status")?.textContent === "stopped", undefined, { timeout: 30_000 });
    expect((await stack.api<Exec>("GET", `/api/v1/projects/demo/executions/${made.counter}`)).status).toBe("stopped");
    expect(await page.locator("#stop").isHidden()).toBe(true);
  });

  it("compares two executions: the differing parameter marked, overlaid charts, a scatter", async () => {
    await page.goto(`${stack.vh.url}/ui/executions?step=train`);
    await page.check(`input[name=id][value="${a.id}"]`);
    await page.check(`input[name=id][value="${b.id}"]`);
    await page.click("#compare-form button");
    await page.waitForURL(/\/ui\/compare\?/);
    const lr = page.locator("table.compare tr", { has: page.locator("th", { hasText: /^lr$/ }) });
    expect(await lr.locator("td.differs").allTextContents()).toEqual(expect.arrayContaining(["0.1", "0.2"]));
    const loss = page.locator("table.compare tr", { has: page.locator("th", { hasText: /^loss$/ }) });
    expect(await loss.locator("td.differs").count()).toBe(0);
    expect(await loss.locator("td").allTextContents()).toEqual(["20", "20"]);
    await page.waitForSelector('#charts figure[data-key="loss"][data-ready="true"] canvas');
    // both executions are series of the overlaid chart (uPlot's legend names them)
    const legend = await page.locator('#charts figure[data-key="loss"] .u-legend').textContent();
    expect(legend).toContain(`demo #${a.counter}`);
    expect(legend).toContain(`demo #${b.counter}`);
    await page.waitForSelector('#scatter[data-ready="true"] canvas');
    await shot("compare");
  });

  it("never renders user text as HTML", async () => {
    const code = await uploadFiles(stack, { "valohai.yaml": YAML });
    const e = await stack.api<Exec>("POST", "/api/v1/projects/demo/executions", { code, step: "train", title: "<img src=x onerror=alert(1)>", parameters: { lr: 0.3 } });
    await page.goto(`${stack.vh.url}/ui/executions/${e.id}`);
    expect(await page.locator("img[src=x]").count()).toBe(0);
    expect(await page.locator(".title .sub").first().textContent()).toBe("<img src=x onerror=alert(1)>");
    await ended(e.counter);
  });
});
