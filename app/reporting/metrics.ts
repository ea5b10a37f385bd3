/** The metric a step's sweeps are judged by, when valohai.yaml declares one (a task's optimization-target-metric). */
import { loadSnapshotConfig, YAML_PATH } from "../snapshots/config.js";
import type { Store } from "../contracts/store.js";
import { goalOf, type MetricGoal, type SweepView } from "./view.js";

/** From the snapshot's valohai.yaml, parsed once per snapshot (app/snapshots/config.ts); none when it cannot be read. */
export async function declaredMetric(store: Store, codeSha256: string, step: string): Promise<MetricGoal | null> {
  let config;
  try {
    ({ config } = await loadSnapshotConfig(store, { code: codeSha256, yamlPath: YAML_PATH }));
  } catch {
    return null;
  }
  for (const t of config.tasks.values()) {
    if (t.step === step && t.optimizationTargetMetric) return { name: t.optimizationTargetMetric, goal: goalOf(t.optimizationTargetMetric) };
  }
  return null;
}

export async function declaredMetrics(deps: { store: Store }, views: SweepView[]): Promise<Map<string, MetricGoal | null>> {
  const out = new Map<string, MetricGoal | null>();
  for (const v of views) out.set(v.id, await declaredMetric(deps.store, v.codeSha256, v.step));
  return out;
}
