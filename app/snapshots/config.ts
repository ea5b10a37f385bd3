/**
 * valohai.yaml of a code snapshot: read from the stored snapshot and parsed once per (snapshot,
 * path), whatever asks (a `/vh run` comment, a commit message, a button, the HTTP API), and the one
 * set of messages that refuse it: no file, an invalid file (each error as file:line:column), an
 * unknown step (did-you-mean and the steps), a bad parameter value.
 *
 * A snapshot is content-addressed and never changes, so neither does its parse: a sweep of 100
 * points, a second command on the same commit and the API all share one parse. The parsed result
 * is shared and must be treated as read-only.
 */
import type { Store } from "../contracts/store.js";
import { codeSpan, VhError } from "../errors.js";
import { loadValohaiYaml, SERVER_MAX_YAML_BYTES, suggest, type Problem, type Step, type ValohaiConfig } from "../valohai/index.js";
import { readSnapshotFile } from "./files.js";

export const YAML_PATH = "valohai.yaml";

/** Which valohai.yaml is meant: the snapshot, the file in it, and the commit it was made from when there is one. */
export interface ConfigPlace {
  code: string;
  yamlPath: string;
  /** The forge commit the snapshot was made from: named in the messages instead of "the code snapshot". */
  commitSha?: string | null;
}

/** A valohai.yaml that loaded: the steps, and the problems (warnings only) the lint found. */
export interface SnapshotConfig {
  config: ValohaiConfig;
  problems: Problem[];
}

type Parsed = { kind: "missing" } | { kind: "loaded"; config: ValohaiConfig | null; problems: Problem[] };

/** How many parsed files are kept (least recently used goes first): a parse is at most a few MB. */
export const CONFIG_CACHE_SIZE = 64;
const cache = new Map<string, Promise<Parsed>>();
let parses = 0;

/** How many times a valohai.yaml was parsed in this process (the cache is observable in tests). */
export function configParseCount(): number {
  return parses;
}

function parseOnce(store: Store, code: string, yamlPath: string): Promise<Parsed> {
  const key = `${code}\u0000${yamlPath}`;
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const p = (async (): Promise<Parsed> => {
    const text = await readSnapshotFile(store, code, yamlPath);
    if (text === null) return { kind: "missing" };
    parses++;
    const loaded = loadValohaiYaml(text, { filename: yamlPath, maxBytes: SERVER_MAX_YAML_BYTES });
    return { kind: "loaded", config: loaded.config, problems: loaded.problems };
  })();
  cache.set(key, p);
  while (cache.size > CONFIG_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  // A snapshot that is not stored, or a store that failed, is asked again next time.
  p.catch(() => {
    if (cache.get(key) === p) cache.delete(key);
  });
  return p;
}

/** "at 5f1c2a0" for a commit's snapshot, "in the code snapshot" for an uploaded one. */
function placeWords(place: ConfigPlace): string {
  return place.commitSha ? `at ${place.commitSha.slice(0, 7)}` : "in the code snapshot";
}

/** `file:line:column: message`, the way every problem is said (`file: message` when it has no place). */
export function problemLine(p: Problem, yamlPath: string): string {
  const file = p.file ?? yamlPath;
  return p.line !== undefined ? `${file}:${p.line}:${p.column ?? 1}: ${p.message}` : `${file}: ${p.message}`;
}

const MAX_LISTED = 10;

/**
 * The snapshot's valohai.yaml, loaded and linted. Throws VhError `invalid_config` when the snapshot
 * has no such file, or when it has errors (then `details.problems` holds every problem, located);
 * `not_found` when the snapshot is not stored.
 */
export async function loadSnapshotConfig(store: Store, place: ConfigPlace): Promise<SnapshotConfig> {
  return loadedOrThrow(await parseOnce(store, place.code, place.yamlPath), place);
}

/**
 * The same, for valohai.yaml text that is not in a stored snapshot yet (a client asking whether
 * its run would be accepted before uploading it): parsed now, not cached; null means the snapshot
 * would have no such file. Same limits, same messages.
 */
export function loadConfigText(text: string | null, place: ConfigPlace): SnapshotConfig {
  if (text === null) return loadedOrThrow({ kind: "missing" }, place);
  const loaded = loadValohaiYaml(text, { filename: place.yamlPath, maxBytes: SERVER_MAX_YAML_BYTES });
  return loadedOrThrow({ kind: "loaded", config: loaded.config, problems: loaded.problems }, place);
}

function loadedOrThrow(parsed: Parsed, place: ConfigPlace): SnapshotConfig {
  const file = codeSpan(place.yamlPath);
  if (parsed.kind === "missing") {
    throw new VhError("invalid_config", `There is no ${file} ${placeWords(place)}: vh reads the steps from it.`);
  }
  if (!parsed.config) {
    const errors = parsed.problems.filter((p) => p.severity === "error");
    const lines = errors.slice(0, MAX_LISTED).map((p) => problemLine(p, place.yamlPath));
    if (errors.length > MAX_LISTED) lines.push(`… and ${errors.length - MAX_LISTED} more.`);
    throw new VhError("invalid_config", `${file} ${placeWords(place)} is invalid:\n${lines.join("\n")}`, { problems: parsed.problems });
  }
  return { config: parsed.config, problems: parsed.problems };
}

/** The lint problems of a refused valohai.yaml (from `loadSnapshotConfig`), or null for any other error. */
export function configProblemsOf(err: unknown): Problem[] | null {
  if (!(err instanceof VhError) || err.code !== "invalid_config") return null;
  const problems = (err.details as { problems?: unknown } | undefined)?.problems;
  return Array.isArray(problems) ? (problems as Problem[]) : null;
}

/** The step named `name`, or VhError `unknown_step` with a did-you-mean and the steps there are. */
export function stepOf(loaded: SnapshotConfig, name: string, place: ConfigPlace): Step {
  const step = loaded.config.steps.get(name);
  if (step) return step;
  const names = [...loaded.config.steps.keys()];
  const hint = suggest(name, names);
  throw new VhError(
    "unknown_step",
    `${codeSpan(place.yamlPath)} ${placeWords(place)} has no step ${codeSpan(name)}.${hint ? ` Did you mean ${codeSpan(hint)}?` : ""} Steps: ${names.length ? names.map(codeSpan).join(", ") : "(none)"}.`,
    { steps: names },
  );
}

/** One parameter's refusal, as every caller says it. */
export function parameterMessage(e: { parameter: string; message: string }): string {
  return `Parameter ${codeSpan(e.parameter)}: ${e.message}`;
}

/** VhError `invalid_parameter` for these refusals (the same refusal said once, at most ten listed). */
export function invalidParameters(errors: { parameter: string; message: string }[]): VhError {
  const lines = [...new Set(errors.map(parameterMessage))];
  const shown = lines.slice(0, MAX_LISTED);
  if (lines.length > MAX_LISTED) shown.push(`… and ${lines.length - MAX_LISTED} more.`);
  return new VhError("invalid_parameter", shown.join("\n"), { errors });
}

/** The step names of the snapshot's valohai.yaml (from the same parse): null when it has none, empty when it is invalid. */
export async function stepNames(store: Store, place: ConfigPlace): Promise<string[] | null> {
  const parsed = await parseOnce(store, place.code, place.yamlPath);
  if (parsed.kind === "missing") return null;
  return [...(parsed.config?.steps.keys() ?? [])];
}
