/**
 * A shallow, named error hierarchy with stable codes. Messages of errors that users see are
 * written to be printed as they are: in the CLI, in an HTTP response, later in a PR comment.
 */
export type ErrorCode =
  | "bad_request"
  | "not_found"
  | "conflict"
  | "unauthorized"
  | "forbidden"
  | "invalid_config"
  | "invalid_parameter"
  | "invalid_input"
  | "unknown_step"
  | "too_large"
  | "illegal_transition"
  | "runner_error"
  | "store_error"
  | "forge_error"
  | "internal";

export class VhError extends Error {
  readonly code: ErrorCode;
  /** Extra structured detail (e.g. lint problems, candidate names) sent to API clients. */
  readonly details?: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = "VhError";
    this.code = code;
    this.details = details;
  }
}

/** HTTP status for each code, used by the one error handler of the HTTP server. */
export const httpStatusOf: Record<ErrorCode, number> = {
  bad_request: 400,
  invalid_config: 400,
  invalid_parameter: 400,
  invalid_input: 400,
  unknown_step: 400,
  not_found: 404,
  conflict: 409,
  illegal_transition: 409,
  unauthorized: 401,
  forbidden: 403,
  too_large: 413,
  runner_error: 502,
  store_error: 502,
  forge_error: 502,
  internal: 500,
};

/**
 * Who can fix a failure: `user` — the person who asked (a mistake in the command, the parameters or
 * valohai.yaml, or a refusal); `operator` — whoever runs vh (a host, the artifact store or the Git host
 * failed, or vh has a bug). A user's mistake is answered and never retried; an operator's failure is
 * retried by the queue and, once the attempts are spent, reported as vh's failure, never as the user's.
 */
export type Fixer = "user" | "operator";

const OPERATOR_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(["runner_error", "store_error", "forge_error", "internal"]);

export function whoCanFix(err: unknown): Fixer {
  return err instanceof VhError && !OPERATOR_CODES.has(err.code) ? "user" : "operator";
}

/** A mistake or a refusal that the person who asked can act on (see `whoCanFix`). */
export function isUsersMistake(err: unknown): err is VhError {
  return whoCanFix(err) === "user";
}

export class RunnerError extends VhError {
  constructor(message: string, details?: unknown) {
    super("runner_error", message, details);
    this.name = "RunnerError";
  }
}

/**
 * The host could not be reached, or the connection to it was lost mid-command: the host's (or the
 * network's) failure, never the step's. What was sent may have run there (a launch cut off after
 * its start), so the work is tried on that host again (a launch adopts a job it started) until the
 * host counts as lost (VH_LOST_AFTER_S), never moved elsewhere at once.
 */
export class HostUnreachable extends RunnerError {
  constructor(message: string) {
    super(message);
    this.name = "HostUnreachable";
  }
}

export class StoreError extends VhError {
  constructor(message: string, details?: unknown) {
    super("store_error", message, details);
    this.name = "StoreError";
  }
}

/**
 * The store could not be reached or failed to answer (S3 down, a 5xx, a timeout), as opposed to
 * answering that an object is missing: worth trying again later, never the step's error at once.
 */
export class StoreUnavailable extends StoreError {
  constructor(message: string, details?: unknown) {
    super(message, details);
    this.name = "StoreUnavailable";
  }
}

/** A store refused bytes that are not what their sender said they are (Store.put's `sha256`); nothing was stored. */
export class ChecksumMismatch extends StoreError {
  constructor(
    readonly key: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`The bytes for key "${key}" have sha256 ${actual}, not ${expected} as the sender said; nothing was stored.`, { key });
    this.name = "ChecksumMismatch";
  }
}

/**
 * A failure of the Git host (GitHub, later GitLab) or of its configuration: never reported as
 * our bug. `status` is the host's HTTP status when there was one.
 */
export class ForgeError extends VhError {
  readonly status: number | undefined;
  constructor(message: string, opts: { status?: number; details?: unknown } = {}) {
    super("forge_error", message, opts.details);
    this.name = "ForgeError";
    this.status = opts.status;
  }
}

/**
 * User text shown back in a reply, as a Markdown code span that it cannot break out of: the fence
 * is longer than any run of backticks inside, line breaks are flattened and the length is capped.
 * (Inside a code span GitHub renders no mentions, links or images.)
 */
export function codeSpan(text: string): string {
  const t = text.replace(/[\r\n]+/g, " ").slice(0, 200);
  const longest = Math.max(0, ...(t.match(/`+/g) ?? []).map((r) => r.length));
  const fence = "`".repeat(longest + 1);
  const pad = t.startsWith("`") || t.endsWith("`") ? " " : "";
  return `${fence}${pad}${t}${pad}${fence}`;
}
