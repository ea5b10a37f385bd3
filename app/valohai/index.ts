/** The one valohai.yaml module: parse, lint, validate parameter values, build commands. */
export * from "./objects.js";
export { loadValohaiYaml, lintValohaiYaml, SERVER_MAX_YAML_BYTES } from "./load.js";
export { validateParameterValue, validateParameterValues, findParameter, parseFlag, pythonInt, pythonFloat, type ValidateResult } from "./parameters.js";
export { buildCommandList, buildScript, joinCommand, formatCli, CommandBuildError } from "./command.js";
export { shlexQuote } from "./shlex.js";
export { pythonStr, pythonRepr, formatValue, formatMap, PythonFormatError } from "./python-format.js";
export { parseDuration, parseDurationDetailed } from "./duration.js";
export { suggest, sanitizeOptionName } from "./names.js";
export { applyOverride, nodeStep, splitSocket, SOCKET_TYPES } from "./pipelines.js";
export { checkExpression } from "./expression.js";
export { parseYaml11, resolvePlainScalar } from "./yaml11.js";
export { parseJsonExact, stringifyJson, toJsonValue, JsonSyntaxError } from "./json.js";
