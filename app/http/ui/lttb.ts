/**
 * Largest-Triangle-Three-Buckets downsampling (Steinarsson, "Downsampling Time Series for Visual
 * Representation", 2013): keeps the first and last point and, from each of `threshold - 2` equal
 * buckets in between, the point that makes the largest triangle with the point kept before it and
 * the mean of the next bucket. Peaks and dips survive, which an average or a stride would lose.
 *
 * Pure: arrays in, arrays out. `xs` must be sorted ascending (ties allowed); NaN values are not
 * expected (callers keep finite numbers only).
 */

export interface Series {
  xs: number[];
  ys: number[];
}

/** At most `threshold` points of the series; the series itself (copied) when it is no longer. */
export function lttb(xs: readonly number[], ys: readonly number[], threshold: number): Series {
  const n = Math.min(xs.length, ys.length);
  if (!Number.isInteger(threshold) || threshold < 0) throw new RangeError(`threshold must be a non-negative integer, not ${threshold}`);
  if (threshold >= n || n <= 2) return { xs: xs.slice(0, n), ys: ys.slice(0, n) };
  if (threshold === 0) return { xs: [], ys: [] };
  if (threshold === 1) return { xs: [xs[0]!], ys: [ys[0]!] };
  if (threshold === 2) return { xs: [xs[0]!, xs[n - 1]!], ys: [ys[0]!, ys[n - 1]!] };

  const outX = new Array<number>(threshold);
  const outY = new Array<number>(threshold);
  // the buckets between the first and last point
  const every = (n - 2) / (threshold - 2);
  let a = 0;
  outX[0] = xs[0]!;
  outY[0] = ys[0]!;
  for (let i = 0; i < threshold - 2; i++) {
    // the next bucket's mean (the last bucket's "next" is the last point)
    const nextStart = Math.floor((i + 1) * every) + 1;
    const nextEnd = Math.min(Math.floor((i + 2) * every) + 1, n);
    let avgX = 0;
    let avgY = 0;
    const count = Math.max(nextEnd - nextStart, 0);
    if (count === 0) {
      avgX = xs[n - 1]!;
      avgY = ys[n - 1]!;
    } else {
      for (let j = nextStart; j < nextEnd; j++) {
        avgX += xs[j]!;
        avgY += ys[j]!;
      }
      avgX /= count;
      avgY /= count;
    }
    const start = Math.floor(i * every) + 1;
    const end = Math.floor((i + 1) * every) + 1;
    const ax = xs[a]!;
    const ay = ys[a]!;
    let best = -1;
    let pick = start;
    for (let j = start; j < end; j++) {
      const area = Math.abs((ax - avgX) * (ys[j]! - ay) - (ax - xs[j]!) * (avgY - ay));
      if (area > best) {
        best = area;
        pick = j;
      }
    }
    outX[i + 1] = xs[pick]!;
    outY[i + 1] = ys[pick]!;
    a = pick;
  }
  outX[threshold - 1] = xs[n - 1]!;
  outY[threshold - 1] = ys[n - 1]!;
  return { xs: outX, ys: outY };
}
