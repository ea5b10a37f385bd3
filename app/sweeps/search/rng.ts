/**
 * Seeded randomness for the search algorithms: a small, fast, reproducible PRNG (sfc32, seeded
 * through splitmix32 so that nearby seeds give unrelated streams) and a standard normal draw.
 * The same seed always gives the same sequence, on every platform (32-bit integer arithmetic only).
 */
export interface Rng {
  /** A uniform number in [0, 1). */
  next(): number;
}

/** One step of splitmix32: a well-mixed 32-bit value from a counter, used to expand the seed. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 128-bit state) seeded from `seed`.
 * Any number is accepted: it is reduced to 32 bits (fractions and the sign folded in), so
 * `seededRng(1)` and `seededRng(1.5)` differ.
 */
export function seededRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new Error(`seededRng: the seed must be a finite number (got ${seed})`);
  const hi = Math.floor(seed / 0x100000000);
  const frac = Math.round((seed - Math.floor(seed)) * 0x100000000);
  const st = { s: (seed >>> 0) ^ Math.imul(hi | 0, 0x27d4eb2d) ^ Math.imul(frac | 0, 0x165667b1) };
  let a = splitmix32(st);
  let b = splitmix32(st);
  let c = splitmix32(st);
  let d = splitmix32(st);
  const step = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) step(); // warm-up: the first outputs of sfc32 are weakly mixed
  return { next: () => step() / 0x100000000 };
}

/** A standard normal draw (Box–Muller; one uniform pair per call, so calls stay independent of parity). */
export function normal(rng: Rng): number {
  let u = rng.next();
  while (u === 0) u = rng.next(); // log(0) is -Infinity
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
