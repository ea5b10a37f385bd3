/** Line charts with uPlot (built for 100k+ points; drag to zoom, double-click to zoom out). */
import uPlot from "uplot";

export interface SeriesJson {
  key: string;
  x: string;
  xs: number[];
  ys: number[];
  total: number;
  downsampled: boolean;
}

const COLORS = ["#0969da", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4", "#6e7781"];

export function color(i: number): string {
  return COLORS[i % COLORS.length]!;
}

function width(el: HTMLElement): number {
  return Math.max(320, Math.min(el.clientWidth || 800, 1100));
}

/** A line chart of one or more series over a shared x (`data[0]`), in `el`. */
export function lineChart(el: HTMLElement, opts: { xLabel: string; time: boolean; names: string[]; data: uPlot.AlignedData }): uPlot {
  el.textContent = "";
  return new uPlot(
    {
      width: width(el),
      height: 260,
      scales: { x: { time: opts.time } },
      axes: [{ label: opts.xLabel }, {}],
      cursor: { drag: { x: true, y: false } },
      series: [{ label: opts.xLabel }, ...opts.names.map((n, i) => ({ label: n, stroke: color(i), width: 1.5, spanGaps: true }))],
    },
    opts.data,
    el,
  );
}

/** Points only (a scatter): x must be sorted ascending. */
export function scatterChart(el: HTMLElement, opts: { xLabel: string; yLabel: string; xs: number[]; ys: (number | null)[]; labels?: string[] }): uPlot {
  el.textContent = "";
  return new uPlot(
    {
      width: width(el),
      height: 300,
      scales: { x: { time: false } },
      axes: [{ label: opts.xLabel }, { label: opts.yLabel }],
      series: [{ label: opts.xLabel }, { label: opts.yLabel, stroke: color(0), fill: color(0), paths: () => null, points: { show: true, size: 9 } }],
    },
    [opts.xs, opts.ys],
    el,
  );
}

export function joinSeries(list: SeriesJson[]): uPlot.AlignedData {
  return uPlot.join(list.map((s) => [s.xs, s.ys] as uPlot.AlignedData));
}
