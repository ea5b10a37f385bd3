/**
 * Pipelines (valohai-spec §1.8): nodes, edges resolved once into typed sockets, pipeline
 * parameters, node overrides merged by name, and the pipeline lint rules.
 */
import { listify, parseEnvironmentVariable, parseInput, parseMount, parseParameter, str, withPos } from "./elements.js";
import { suggest } from "./names.js";
import type {
  DeploymentNode,
  Edge,
  ExecutionNode,
  NodeAction,
  ParamValue,
  Pipeline,
  PipelineNode,
  PipelineParameter,
  SocketType,
  Step,
  StepOverride,
  TaskNode,
  ValohaiConfig,
} from "./objects.js";
import type { PathSeg, Reporter } from "./problems.js";
import { pythonRepr } from "./python-format.js";
import { isPlainObject } from "./yaml11.js";

type Raw = Record<string, unknown>;

export const SOCKET_TYPES: readonly SocketType[] = ["dependency", "deployment", "environment-variable", "file", "input", "metadata", "output", "parameter"];
const KNOWN_WHEN = ["node-starting", "node-complete", "node-error"];
const KNOWN_THEN = ["noop", "stop-pipeline", "error-pipeline"];

/** Splits `node.type.key` on the first two dots only (Python `split(".", 2)`). */
export function splitSocket(spec: string): string[] {
  const first = spec.indexOf(".");
  if (first < 0) return [spec];
  const second = spec.indexOf(".", first + 1);
  if (second < 0) return [spec.slice(0, first), spec.slice(first + 1)];
  return [spec.slice(0, first), spec.slice(first + 1, second), spec.slice(second + 1)];
}

function parseOverride(raw: Raw, r: Reporter, path: PathSeg[]): StepOverride {
  const o: StepOverride = {};
  const image = str(raw["image"]);
  if (image !== undefined) o.image = image;
  if (raw["command"] !== undefined) o.command = listify(raw["command"]).map((c) => String(c));
  if (Array.isArray(raw["parameters"])) {
    o.parameters = raw["parameters"].filter(isPlainObject).map((p, i) => parseParameter(p, r, [...path, "parameters", i], undefined));
  }
  if (Array.isArray(raw["inputs"])) o.inputs = raw["inputs"].filter(isPlainObject).map((p, i) => parseInput(p, r, [...path, "inputs", i]));
  if (Array.isArray(raw["mounts"])) o.mounts = raw["mounts"].map(parseMount);
  const environment = str(raw["environment"]);
  const preset = str(raw["runtime-config-preset"]);
  if (environment !== undefined) o.environment = environment;
  if (preset !== undefined) o.runtimeConfigPreset = preset;
  if (Array.isArray(raw["environment-variables"])) o.environmentVariables = raw["environment-variables"].filter(isPlainObject).map(parseEnvironmentVariable);
  return o;
}

function parseActions(v: unknown): NodeAction[] {
  return listify(v)
    .filter(isPlainObject)
    .map((a) => ({ when: listify(a["when"]).map(String), if: listify(a["if"]).map(String), then: listify(a["then"]).map(String) }));
}

function parseNode(raw: Raw, r: Reporter, path: PathSeg[]): PipelineNode {
  const p = r.locate(path);
  const base = {
    name: str(raw["name"]) ?? "",
    actions: parseActions(raw["actions"]),
    onError: (str(raw["on-error"]) ?? "stop-all") as PipelineNode["onError"],
    ...(p ? { line: p.line, column: p.column } : {}),
  };
  if (raw["type"] === "deployment") {
    const node: DeploymentNode = {
      ...base,
      type: "deployment",
      deployment: str(raw["deployment"]) ?? "",
      endpoints: listify(raw["endpoints"]).map(String),
      aliases: listify(raw["aliases"]).map(String),
    };
    return node;
  }
  const common = {
    edgeMergeMode: (str(raw["edge-merge-mode"]) ?? "replace") as ExecutionNode["edgeMergeMode"],
    ...(str(raw["commit"]) !== undefined ? { commit: str(raw["commit"]) as string } : {}),
    ...(isPlainObject(raw["override"]) ? { override: parseOverride(raw["override"], r, [...path, "override"]) } : {}),
  };
  if (raw["type"] === "task") {
    const node: TaskNode = { ...base, ...common, type: "task" };
    const step = str(raw["step"]);
    const task = str(raw["task"]);
    if (step !== undefined) node.step = step;
    if (task !== undefined) node.task = task;
    return node;
  }
  const node: ExecutionNode = { ...base, ...common, type: "execution", step: str(raw["step"]) ?? "" };
  return node;
}

function parseEdge(raw: unknown, r: Reporter, path: PathSeg[], pipelineName: string): Edge | undefined {
  let source: string;
  let target: string;
  let configuration: Record<string, unknown> = {};
  if (Array.isArray(raw)) {
    if (raw.length !== 2 || !raw.every((s) => typeof s === "string")) {
      r.error(
        "edge-shorthand",
        `Pipeline "${pipelineName}": malformed edge shorthand ${pythonRepr(raw)}; a shorthand edge is a list of exactly two sockets, [SOURCE, TARGET], e.g. [prep.output.*.csv, train.input.data].`,
        path,
      );
      return undefined;
    }
    source = raw[0] as string;
    target = raw[1] as string;
  } else if (isPlainObject(raw)) {
    source = str(raw["source"]) ?? "";
    target = str(raw["target"]) ?? "";
    if (isPlainObject(raw["configuration"])) configuration = raw["configuration"];
  } else {
    return undefined;
  }
  const s = splitSocket(source);
  const t = splitSocket(target);
  let ok = true;
  for (const [label, spec, parts, sub] of [
    ["Source", source, s, Array.isArray(raw) ? 0 : "source"],
    ["Target", target, t, Array.isArray(raw) ? 1 : "target"],
  ] as const) {
    if (parts.length < 3) {
      r.error(
        "edge-specifier",
        `Pipeline "${pipelineName}": ${label.toLowerCase()} specifier '${spec}' must have 3 parts (it has ${parts.length}); write NODE.TYPE.KEY, e.g. train.input.dataset.`,
        [...path, sub],
      );
      ok = false;
    }
  }
  if (!ok) return undefined;
  const edge: Edge = {
    sourceNode: s[0] ?? "",
    sourceType: s[1] ?? "",
    sourceKey: s[2] ?? "",
    targetNode: t[0] ?? "",
    targetType: t[1] ?? "",
    targetKey: t[2] ?? "",
    configuration,
  };
  const p = r.locate(path);
  if (p) Object.assign(edge, { line: p.line, column: p.column });
  return edge;
}

/** The step a node runs, with its `override` merged (by name, wholesale per entry). */
export function applyOverride(step: Step, override: StepOverride | undefined): Step {
  if (!override) return step;
  const merged: Step = { ...step };
  if (override.image !== undefined) merged.image = override.image;
  if (override.command !== undefined) merged.command = override.command;
  if (override.environment !== undefined) merged.environment = override.environment;
  if (override.runtimeConfigPreset !== undefined) merged.runtimeConfigPreset = override.runtimeConfigPreset;
  if (override.mounts !== undefined) merged.mounts = override.mounts;
  if (override.parameters) {
    merged.parameters = new Map(step.parameters);
    for (const p of override.parameters) merged.parameters.set(p.name, p);
  }
  if (override.inputs) {
    merged.inputs = new Map(step.inputs);
    for (const i of override.inputs) merged.inputs.set(i.name, i);
  }
  if (override.environmentVariables) {
    merged.environmentVariables = new Map(step.environmentVariables);
    for (const v of override.environmentVariables) merged.environmentVariables.set(v.name, v);
  }
  return merged;
}

/**
 * The effective step of an execution or task node: its step (or its task blueprint's step) with
 * the node's override applied. Undefined for deployment nodes, nodes whose step is taken from
 * another commit, and dangling references.
 */
export function nodeStep(config: ValohaiConfig, node: PipelineNode): Step | undefined {
  if (node.type === "deployment" || node.commit !== undefined) return undefined;
  const stepName = node.type === "task" && node.task !== undefined ? config.tasks.get(node.task)?.step : node.step;
  const step = stepName !== undefined ? config.steps.get(stepName) : undefined;
  return step ? applyOverride(step, node.override) : undefined;
}

function didYouMean(name: string, candidates: Iterable<string>): string {
  const hint = suggest(name, [...candidates]);
  return hint ? ` Did you mean "${hint}"?` : "";
}

export function parsePipeline(raw: Raw, r: Reporter, path: PathSeg[], config: ValohaiConfig): Pipeline {
  const name = str(raw["name"]) ?? "";
  const P = `Pipeline "${name}"`;
  const rawNodes = listify(raw["nodes"]);
  const nodes: PipelineNode[] = [];
  const nodePaths = new Map<PipelineNode, PathSeg[]>();
  rawNodes.forEach((n, i) => {
    if (!isPlainObject(n)) return;
    const node = parseNode(n, r, [...path, "nodes", i]);
    nodes.push(node);
    nodePaths.set(node, [...path, "nodes", i]);
  });
  const edges: Edge[] = [];
  const edgePaths = new Map<Edge, PathSeg[]>();
  listify(raw["edges"]).forEach((e, i) => {
    const edge = parseEdge(e, r, [...path, "edges", i], name);
    if (!edge) return;
    edges.push(edge);
    edgePaths.set(edge, [...path, "edges", i]);
  });
  const parameters = new Map<string, PipelineParameter>();
  const paramPaths = new Map<string, PathSeg[]>();
  listify(raw["parameters"]).forEach((p, i) => {
    if (!isPlainObject(p)) return;
    const param: PipelineParameter = {
      name: str(p["name"]) ?? "",
      targets: listify(p["targets"] ?? p["target"]).map(String),
    };
    if ("default" in p) param.default = p["default"] as ParamValue;
    const description = str(p["description"]);
    const category = str(p["category"]);
    if (description !== undefined) param.description = description;
    if (category !== undefined) param.category = category;
    const pos = r.locate([...path, "parameters", i]);
    if (pos) Object.assign(param, { line: pos.line, column: pos.column });
    parameters.set(param.name, param);
    paramPaths.set(param.name, [...path, "parameters", i]);
  });
  const pipeline = withPos<Pipeline>({ name, nodes, edges, parameters, reuseExecutions: raw["reuse-executions"] === true }, r, path);

  // ---- lint
  const byName = new Map<string, PipelineNode[]>();
  for (const n of nodes) byName.set(n.name, [...(byName.get(n.name) ?? []), n]);
  for (const [nodeName, same] of byName) {
    if (same.length > 1) {
      const second = same[1];
      r.error("duplicate-node", `Pipeline ${name} has ${same.length} nodes with the same name of ${nodeName}; node names must be unique within a pipeline.`, second ? nodePaths.get(second) : path);
    }
  }
  const nodeNames = [...byName.keys()];
  for (const edge of edges) {
    const ep = edgePaths.get(edge) ?? path;
    for (const side of ["source", "target"] as const) {
      const nodeName = side === "source" ? edge.sourceNode : edge.targetNode;
      const type = side === "source" ? edge.sourceType : edge.targetType;
      if (!byName.has(nodeName)) {
        r.error("unknown-edge-node", `${P} edge ${side} node "${nodeName}" does not exist.${didYouMean(nodeName, nodeNames)} Nodes: ${nodeNames.join(", ") || "(none)"}.`, ep);
      }
      if (!(SOCKET_TYPES as readonly string[]).includes(type)) {
        const hint = suggest(type, [...SOCKET_TYPES]);
        r.error(
          "edge-type",
          `${P} ${side} type "${type}" (between ${edge.sourceNode} and ${edge.targetNode}) is not valid; use one of ${SOCKET_TYPES.join(", ")}.${hint ? ` Did you mean "${hint}"?` : ""}`,
          ep,
        );
      }
    }
  }

  for (const node of nodes) {
    const np = nodePaths.get(node) ?? path;
    const N = `${P} node "${node.name}"`;
    for (const [ai, action] of node.actions.entries()) {
      for (const w of action.when) {
        if (!KNOWN_WHEN.includes(w)) {
          const hint = suggest(w, KNOWN_WHEN);
          r.warn("unknown-action-when", `${N}: action \`when: ${w}\` is not one of ${KNOWN_WHEN.join(", ")}; the action never runs${hint ? ` (did you mean "${hint}"?)` : ""}.`, [...np, "actions", ai, "when"]);
        }
      }
      for (const t of action.then) {
        if (KNOWN_THEN.includes(t)) continue;
        const advice =
          t === "require-approval"
            ? "the reference linter does not know it, though the platform documents it; keep it if approval gates work for you"
            : `check the spelling${suggest(t, KNOWN_THEN) ? ` (did you mean "${suggest(t, KNOWN_THEN)}"?)` : ""}`;
        r.warn("unknown-action-then", `${N}: action \`then: ${t}\` is not one of ${KNOWN_THEN.join(", ")}; ${advice}.`, [...np, "actions", ai, "then"]);
      }
    }
    if (node.type === "deployment" || node.commit !== undefined) continue;
    let step: Step | undefined;
    if (node.type === "task" && node.task !== undefined) {
      const task = config.tasks.get(node.task);
      if (!task) {
        r.error("unknown-node-task", `${N} task "${node.task}" does not exist.${didYouMean(node.task, config.tasks.keys())} Task blueprints: ${[...config.tasks.keys()].join(", ") || "(none)"}.`, [...np, "task"]);
        continue;
      }
      step = config.steps.get(task.step);
      if (!step) {
        r.error("unknown-node-step", `${N}: task's step "${task.step}" does not exist.${didYouMean(task.step, config.steps.keys())}`, [...np, "task"]);
        continue;
      }
    } else {
      const stepName = node.step ?? "";
      step = config.steps.get(stepName);
      if (!step) {
        r.error("unknown-node-step", `${N} step "${stepName}" does not exist.${didYouMean(stepName, config.steps.keys())} Steps: ${[...config.steps.keys()].join(", ") || "(none)"}.`, [...np, "step"]);
        continue;
      }
    }
    const o = node.override;
    if (!o) continue;
    o.inputs?.forEach((input, i) => {
      if (!step.inputs.has(input.name)) {
        r.error("override-unknown-input", `${N}: input ${input.name} does not exist in step "${step.name}".${didYouMean(input.name, step.inputs.keys())} Inputs: ${[...step.inputs.keys()].join(", ") || "(none)"}.`, [...np, "override", "inputs", i]);
      }
    });
    o.parameters?.forEach((param, i) => {
      if (!step.parameters.has(param.name)) {
        r.error("override-unknown-parameter", `${N}: parameter ${param.name} does not exist in step "${step.name}".${didYouMean(param.name, step.parameters.keys())} Parameters: ${[...step.parameters.keys()].join(", ") || "(none)"}.`, [...np, "override", "parameters", i]);
      }
    });
    if (o.runtimeConfigPreset !== undefined && o.environment === undefined) {
      r.error(
        "preset-without-environment",
        `${N}: missing "environment". When specifying a runtime config preset, you must also specify an environment (add \`environment:\` to the override).`,
        [...np, "override", "runtime-config-preset"],
      );
    }
  }

  for (const param of parameters.values()) {
    const pp = paramPaths.get(param.name) ?? path;
    if (param.targets.length === 0) {
      r.warn("pipeline-parameter-no-targets", `${P} parameter "${param.name}": no targets. Add \`targets: [NODE.parameter.NAME]\` so the value reaches a node.`, pp);
      continue;
    }
    for (const target of param.targets) {
      const [nodeName = "", type = "", key = ""] = splitSocket(target);
      if (!type.startsWith("parameter")) {
        r.error("pipeline-parameter-target", `${P} parameter "${param.name}": target "${target}" must point at a node parameter (NODE.parameter.NAME), not "${type}".`, pp);
        continue;
      }
      const nodesNamed = byName.get(nodeName);
      const node = nodesNamed?.[0];
      if (!node) {
        r.error("pipeline-parameter-target", `${P} parameter "${param.name}": target node "${nodeName}" does not exist.${didYouMean(nodeName, nodeNames)}`, pp);
        continue;
      }
      if (node.type === "execution" && node.commit === undefined) {
        const step = nodeStep(config, node);
        if (step && !step.parameters.has(key)) {
          r.error(
            "pipeline-parameter-target",
            `${P} parameter "${param.name}": target "${target}": step "${step.name}" has no parameter "${key}".${didYouMean(key, step.parameters.keys())}`,
            pp,
          );
        }
      }
    }
  }
  return pipeline;
}
