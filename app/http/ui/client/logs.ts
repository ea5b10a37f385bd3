/**
 * The execution page's log: the last PAGE lines first (never the whole log), earlier pages on
 * demand, then new lines live from the API's SSE stream; stderr marked; follow (keep the newest in
 * view) and pause (keep receiving, stop drawing); a search that hides the lines that do not match.
 * At most KEEP lines are kept in the page; the oldest drop off (they stay one "Earlier lines" away).
 */
import { executionApi, getJson } from "./api.js";

interface Line {
  seq: number;
  time: string;
  stream: "stdout" | "stderr" | string;
  line: string;
}

const PAGE = 2000;
const KEEP = 20_000;

export function startLogs(opts: { project: string; id: string; logSeq: number; deleted: boolean; onEnd: (status: string) => void }): void {
  const box = document.getElementById("log")!;
  const search = document.getElementById("log-search") as HTMLInputElement;
  const follow = document.getElementById("log-follow") as HTMLInputElement;
  const pause = document.getElementById("log-pause") as HTMLButtonElement;
  const earlier = document.getElementById("log-earlier") as HTMLButtonElement;
  const info = document.getElementById("log-info")!;
  const api = executionApi(opts.project, opts.id);
  let first = Number.POSITIVE_INFINITY; // lowest seq in the page
  let last = Math.max(0, opts.logSeq - PAGE); // highest seq received
  let paused = false;
  let ended = false;
  const held: Line[] = [];
  let needle = "";

  function row(l: Line): HTMLElement {
    const d = document.createElement("div");
    d.className = `ln ${l.stream === "stderr" ? "stderr" : "stdout"}`;
    d.dataset["seq"] = String(l.seq);
    d.title = `${l.time} ${l.stream}`;
    d.textContent = l.line;
    if (needle && !l.line.toLowerCase().includes(needle)) d.classList.add("miss");
    return d;
  }

  function describe(): void {
    const shown = box.childElementCount;
    const hits = needle ? box.querySelectorAll(".ln:not(.miss)").length : null;
    info.textContent = `${shown} line(s) shown${hits !== null ? `, ${hits} match` : ""}${paused ? `, paused (${held.length} waiting)` : ""}${ended ? ", ended" : ""}`;
    earlier.hidden = !(first > 1 && Number.isFinite(first));
  }

  function append(lines: Line[]): void {
    const frag = document.createDocumentFragment();
    for (const l of lines) {
      frag.appendChild(row(l));
      if (l.seq < first) first = l.seq;
    }
    box.appendChild(frag);
    while (box.childElementCount > KEEP) {
      box.firstElementChild!.remove();
      first = Number((box.firstElementChild as HTMLElement | null)?.dataset["seq"] ?? first);
    }
    if (follow.checked) box.scrollTop = box.scrollHeight;
    describe();
  }

  function receive(l: Line): void {
    if (l.seq <= last) return; // a reconnect replays from where it started
    last = l.seq;
    if (paused) held.push(l);
    else append([l]);
  }

  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    if (!paused) append(held.splice(0));
    describe();
  });
  follow.addEventListener("change", () => {
    if (follow.checked) box.scrollTop = box.scrollHeight;
  });
  // scrolling up stops following; back at the bottom follows again
  box.addEventListener("scroll", () => {
    follow.checked = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  });
  search.addEventListener("input", () => {
    needle = search.value.trim().toLowerCase();
    for (const el of Array.from(box.children)) el.classList.toggle("miss", !!needle && !(el.textContent ?? "").toLowerCase().includes(needle));
    describe();
  });
  earlier.addEventListener("click", async () => {
    if (!Number.isFinite(first) || first <= 1) return;
    const after = Math.max(0, first - 1 - PAGE);
    earlier.disabled = true;
    try {
      const page = await getJson<{ lines: Line[] }>(`${api}/logs?after=${after}&limit=${first - 1 - after}`);
      const keepAt = box.scrollHeight - box.scrollTop;
      const frag = document.createDocumentFragment();
      for (const l of page.lines) if (l.seq < first) frag.appendChild(row(l));
      box.insertBefore(frag, box.firstChild);
      first = page.lines.length ? Math.min(first, page.lines[0]!.seq) : after + 1;
      if (page.lines.length === 0) first = 1;
      box.scrollTop = box.scrollHeight - keepAt;
    } catch (err) {
      info.textContent = `could not load earlier lines: ${(err as Error).message}`;
    } finally {
      earlier.disabled = false;
      describe();
    }
  });

  if (opts.deleted) {
    info.textContent = "deleted: the log is gone";
    return;
  }
  if (opts.logSeq > PAGE) first = last + 1;
  const source = new EventSource(`${api}/logs/stream?after=${last}`);
  source.onmessage = (ev) => receive(JSON.parse(ev.data) as Line);
  source.addEventListener("end", (ev) => {
    ended = true;
    source.close();
    describe();
    opts.onEnd((JSON.parse((ev as MessageEvent).data) as { status: string }).status);
  });
  source.onerror = () => {
    if (!ended) info.textContent = "reconnecting to the log stream…";
  };
  describe();
}
