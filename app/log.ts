/** A tiny leveled logger writing one line per event to stderr. Never pass secrets to it. */
export type Level = "debug" | "info" | "warn" | "error" | "silent";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(level: Level, write: (line: string) => void = (l) => process.stderr.write(l + "\n")): Logger {
  function at(l: Exclude<Level, "silent">) {
    return (msg: string, fields?: Record<string, unknown>) => {
      if (ORDER[l] < ORDER[level]) return;
      const extra = fields ? " " + JSON.stringify(fields, (_k, v: unknown) => (v instanceof Error ? v.message : v)) : "";
      write(`${new Date().toISOString()} ${l.padEnd(5)} ${msg}${extra}`);
    };
  }
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
