/** The metric a step's sweeps are judged by, when valohai.yaml declares one (a task's optimization-target-metric). */
import { readSnapshotFile } from "../snapshots/files.js";
import { loadValohaiYaml } from "../valohai/index.js";
import type { Store } from "../contracts/store.js";
import { goalOf, type MetricGoal, type SweepView } from "./view.js";

export async function declaredMetric(store: Store, codeSha256: string, step: string): Promise<MetricGoal | null> {
  let text: string | null;
  try {
    text = await readSnapshotFile(store, codeSha256, "valohai.yaml");
  } catch {
    return null;
  }
  if (text === null) return null;
  const config = loadValohaiYaml(text, { filename: "valohai.yaml" }).config;
  for (const t of config?.tasks.values() ?? []) {
    if (t.step === step && t.optimizationTargetMetric) return { name: t.optimizationTargetMetric, goal: goalOf(t.optimizationTargetMetric) };
  }
  return null;
}

export async function declaredMetrics(deps: { store: Store }, views: SweepView[]): Promise<Map<string, MetricGoal | null>> {
  const out = new Map<string, MetricGoal | null>();
  for (const v of views) out.set(v.id, await declaredMetric(deps.store, v.codeSha256, v.step));
  return out;
}
