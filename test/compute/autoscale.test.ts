/** The autoscaler's rules (worker/compute/autoscale.ts): launches for demand and the warm pool, never past max; idle shutdown keeps min. */
import { describe, expect, it } from "vitest";
import { idleToTerminate, launchesFor } from "../../worker/compute/autoscale.js";

const env = (over: Partial<{ minInstances: number; maxInstances: number; idleShutdownSeconds: number }> = {}) => ({ name: "gpu", minInstances: 0, maxInstances: 4, idleShutdownSeconds: 900, ...over });

describe("launchesFor", () => {
  it("launches one instance per queued execution that no idle or starting instance will take", () => {
    expect(launchesFor({ env: env(), queued: 3, idleReady: 0, starting: 0, live: 0 })).toBe(3);
    expect(launchesFor({ env: env(), queued: 3, idleReady: 1, starting: 1, live: 2 })).toBe(1);
    expect(launchesFor({ env: env(), queued: 2, idleReady: 0, starting: 2, live: 2 })).toBe(0);
  });
  it("never goes past max-instances, counting every live instance (draining and terminating ones too)", () => {
    expect(launchesFor({ env: env({ maxInstances: 4 }), queued: 10, idleReady: 0, starting: 0, live: 3 })).toBe(1);
    expect(launchesFor({ env: env({ maxInstances: 4 }), queued: 10, idleReady: 0, starting: 0, live: 4 })).toBe(0);
    expect(launchesFor({ env: env({ maxInstances: 2 }), queued: 10, idleReady: 0, starting: 0, live: 5 })).toBe(0);
  });
  it("keeps a warm pool of min-instances with nothing queued", () => {
    expect(launchesFor({ env: env({ minInstances: 2 }), queued: 0, idleReady: 0, starting: 0, live: 0 })).toBe(2);
    expect(launchesFor({ env: env({ minInstances: 2 }), queued: 0, idleReady: 1, starting: 0, live: 1 })).toBe(1);
    expect(launchesFor({ env: env({ minInstances: 2 }), queued: 0, idleReady: 2, starting: 0, live: 2 })).toBe(0);
  });
});

describe("idleToTerminate", () => {
  const now = 10_000_000;
  it("ends instances idle past idle-shutdown, longest idle first, keeping min-instances", () => {
    const idle = [
      { id: "a", idleSinceMs: now - 100_000 },
      { id: "b", idleSinceMs: now - 2_000_000 },
      { id: "c", idleSinceMs: now - 1_000_000 },
    ];
    expect(idleToTerminate({ env: env({ idleShutdownSeconds: 900 }), live: 3 }, idle, now)).toEqual(["b", "c"]);
    expect(idleToTerminate({ env: env({ idleShutdownSeconds: 900, minInstances: 2 }), live: 3 }, idle, now)).toEqual(["b"]);
    expect(idleToTerminate({ env: env({ idleShutdownSeconds: 900, minInstances: 3 }), live: 3 }, idle, now)).toEqual([]);
  });
  it("leaves an instance idle for less than the grace", () => {
    expect(idleToTerminate({ env: env({ idleShutdownSeconds: 60 }), live: 1 }, [{ id: "a", idleSinceMs: now - 59_000 }], now)).toEqual([]);
    expect(idleToTerminate({ env: env({ idleShutdownSeconds: 60 }), live: 1 }, [{ id: "a", idleSinceMs: now - 60_000 }], now)).toEqual(["a"]);
  });
});
