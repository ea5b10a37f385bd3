/**
 * The UI's one script (built by app/http/ui/build.ts): what each server-rendered page needs live,
 * picked by `<body data-page>`. Text from the server goes into the page with textContent only.
 */
import type uPlot from "uplot";
import { executionApi, getJson, pageData, setStatus, TERMINAL } from "./api.js";
import { joinSeries, lineChart, scatterChart, type SeriesJson } from "./charts.js";
import { startLogs } from "./logs.js";

/** Each chart's data as drawn, by metric key (read by the browser tests, handy in a console). */
const drawn: Record<string, { x: string; xs: number[]; ys: number[]; total: number }> = {};
(window as unknown as { vhCharts: typeof drawn }).vhCharts = drawn;

function list(): void {
  const rows = () => Array.from(document.querySelectorAll<HTMLElement>("[data-status-of]")).filter((el) => !TERMINAL.has(el.textContent ?? ""));
  async function poll(): Promise<void> {
    const live = rows();
    if (!live.length) return;
    try {
      const now = await getJson<Record<string, string>>(`/ui/executions/statuses?ids=${live.map((el) => el.dataset["statusOf"]).join(",")}`);
      for (const el of live) {
        const s = now[el.dataset["statusOf"]!];
        if (s && s !== el.textContent) setStatus(el, s);
      }
    } catch {
      /* the next poll tries again */
    }
    setTimeout(poll, 2000);
  }
  setTimeout(poll, 2000);
  const form = document.getElementById("compare-form") as HTMLFormElement | null;
  form?.addEventListener("submit", (ev) => {
    const n = form.querySelectorAll("input[name=id]:checked").length;
    if (n < 2 || n > 50) {
      ev.preventDefault();
      alert(`Tick 2 to 50 executions to compare (${n} ticked).`);
    }
  });
}

interface ExecutionData {
  id: string;
  project: string;
  counter: number;
  status: string;
  terminal: boolean;
  logSeq: number;
  keys: string[];
  deleted: boolean;
}

function execution(): void {
  const d = pageData<ExecutionData>();
  const api = executionApi(d.project, d.id);
  const status = document.getElementById("status")!;
  const stop = document.getElementById("stop") as HTMLButtonElement;
  const rerun = document.getElementById("rerun") as HTMLButtonElement;
  const result = document.getElementById("action-result")!;
  let terminal = d.terminal;
  const charts = new Map<string, uPlot>();
  let polls = 0;

  async function drawCharts(): Promise<void> {
    for (const fig of Array.from(document.querySelectorAll<HTMLElement>("#charts .chart"))) {
      const key = fig.dataset["key"]!;
      try {
        const s = await getJson<SeriesJson>(`/ui/executions/${d.id}/series/${encodeURIComponent(key)}?max=2000`);
        drawn[key] = { x: s.x, xs: s.xs, ys: s.ys, total: s.total };
        fig.querySelector("[data-points]")!.textContent = s.downsampled ? `${s.xs.length} of ${s.total} points (LTTB)` : `${s.total} points`;
        const data = [s.xs, s.ys] as uPlot.AlignedData;
        const have = charts.get(key);
        if (have) have.setData(data);
        else charts.set(key, lineChart(fig.querySelector(".plot")!, { xLabel: s.x, time: s.x === "time", names: [key], data }));
        fig.dataset["ready"] = "true";
      } catch (err) {
        fig.querySelector(".plot")!.textContent = `could not load ${key}: ${(err as Error).message}`;
      }
    }
  }

  function ended(s: string): void {
    setStatus(status, s);
    terminal = TERMINAL.has(s);
    stop.hidden = terminal;
    if (terminal) void drawCharts();
  }

  async function pollStatus(): Promise<void> {
    if (terminal) return;
    try {
      const e = await getJson<{ status: string }>(`/api/v1/executions/${d.id}`);
      if (e.status !== status.textContent) ended(e.status);
    } catch {
      /* next time */
    }
    if (!terminal) {
      // charts every 4th poll (12 s): each redraw reads the series again
      if (++polls % 4 === 0) void drawCharts();
      setTimeout(pollStatus, 3000);
    }
  }

  stop.addEventListener("click", async () => {
    stop.disabled = true;
    try {
      const e = await getJson<{ status: string }>(`${api}/stop`, { method: "POST", body: "{}" });
      ended(e.status);
      result.textContent = "stop asked";
    } catch (err) {
      result.textContent = `cannot stop: ${(err as Error).message}`;
    } finally {
      stop.disabled = false;
    }
  });
  rerun.addEventListener("click", async () => {
    rerun.disabled = true;
    try {
      const made = await getJson<{ execution: { id: string; counter: number } }>(`${api}/reproduce`, { method: "POST", body: JSON.stringify({ verify: false }) });
      location.href = `/ui/executions/${made.execution.id}`;
    } catch (err) {
      result.textContent = `cannot rerun: ${(err as Error).message}`;
      rerun.disabled = false;
    }
  });

  startLogs({ project: d.project, id: d.id, logSeq: d.logSeq, deleted: d.deleted, onEnd: ended });
  void drawCharts();
  if (!terminal) setTimeout(pollStatus, 3000);
}

interface CompareData {
  executions: { id: string; label: string; parameters: Record<string, unknown>; latest: Record<string, unknown> }[];
  metrics: string[];
  params: string[];
}

function compare(): void {
  const d = pageData<CompareData>();
  void (async () => {
    for (const fig of Array.from(document.querySelectorAll<HTMLElement>("#charts .chart"))) {
      const key = fig.dataset["key"]!;
      const got = await Promise.all(
        d.executions.map((e) => getJson<SeriesJson>(`/ui/executions/${e.id}/series/${encodeURIComponent(key)}?max=2000`).catch(() => ({ key, x: "time", xs: [], ys: [], total: 0, downsampled: false }))),
      );
      const xs = new Set(got.filter((s) => s.xs.length).map((s) => s.x));
      const x = xs.size === 1 ? [...xs][0]! : "time";
      const usable = got.map((s) => (s.x === x ? s : { ...s, xs: [], ys: [] }));
      lineChart(fig.querySelector(".plot")!, { xLabel: x, time: x === "time", names: d.executions.map((e) => e.label), data: joinSeries(usable) });
      fig.dataset["ready"] = "true";
    }
  })();
  const sx = document.getElementById("scatter-x") as HTMLSelectElement | null;
  const sy = document.getElementById("scatter-y") as HTMLSelectElement | null;
  const scatter = document.querySelector<HTMLElement>("#scatter .plot");
  if (!sx || !sy || !scatter) return;
  function draw(): void {
    const p = sx!.value;
    const m = sy!.value;
    // numbers as numbers; other values as their position among the distinct values, in order
    const raw = d.executions.map((e) => e.parameters[p]);
    const numeric = raw.every((v) => typeof v === "number");
    const cats = [...new Set(raw.map((v) => JSON.stringify(v)))].sort();
    const pts = d.executions
      .map((e, i) => ({ x: numeric ? (raw[i] as number) : cats.indexOf(JSON.stringify(raw[i])), y: typeof e.latest[m] === "number" ? (e.latest[m] as number) : null }))
      .sort((a, b) => a.x - b.x);
    scatterChart(scatter!, { xLabel: numeric ? p : `${p} (${cats.join(", ")})`, yLabel: m, xs: pts.map((q) => q.x), ys: pts.map((q) => q.y) });
    scatter!.parentElement!.dataset["ready"] = "true";
  }
  sx.addEventListener("change", draw);
  sy.addEventListener("change", draw);
  draw();
}

const pages: Record<string, () => void> = { list, execution, compare };
pages[document.body.dataset["page"] ?? ""]?.();
