/**
 * The runtime fingerprint of an execution: what the host offered the step, recorded so a run can be
 * reproduced and two runs compared (issue 18). Pure functions of text; nothing here spawns.
 *
 * How it is taken (both runners, see local/runner.ts and ssh/runner.ts):
 * - plain process: `.vh/fingerprint.sh` (buildFingerprintScript) runs as the job's own user with the
 *   job's environment, in repository/, through the same chain as the step (setpriv, /valohai view,
 *   job.env), so the PATH, HOME and site-packages it sees are the step's. It prints OS, kernel,
 *   arch, `<program> --version` for each interpreter the command names (programsOfCommand),
 *   `python -m pip freeze --all` when one of them is a Python, and `npm ls --json --depth=0` when
 *   repository/ has a package.json: each with a timeout, each cut at 64 KiB.
 * - docker: the host side asks `docker image inspect` for the image's RepoDigests and id (pulling
 *   it first when missing, as `docker run` would), so the record names exactly what ran.
 * - Either way it runs in the job's session after the wrapper wrote the pid file (withFingerprint),
 *   before the step's command: launch does not wait for it, the step starts after it (bounded by a
 *   hard 10 s), and it sees the environment before the command changes it (a `pip install` in the
 *   command itself is not in it: the commit's requirements file says that). Root (the wrapper)
 *   writes its output to `.vh/fingerprint.out`, cut at 256 KiB, which the job cannot write.
 * - The control plane reads that file (`ReadsFingerprint`) and parses it (parseFingerprint) as
 *   untrusted text: the step's PATH chooses the programs that print it.
 *
 * User text (the command) only ever reaches a shell as single-quoted words (shellQuote).
 */
import type { Runner, RunnerHandle } from "../../../app/contracts/runner.js";
import { shellQuote as q } from "./protocol.js";

/** Cut applied to each of pip freeze and npm ls, and to a version line's output. */
export const FINGERPRINT_SECTION_BYTES = 64 * 1024;
/** Cut applied by the wrapper to the whole fingerprint output. */
export const FINGERPRINT_TOTAL_BYTES = 256 * 1024;
/** Hard limit on the whole fingerprint (the step starts after it). */
export const FINGERPRINT_TIMEOUT_S = 10;
/** Limit on one `--version`, and on pip freeze / npm ls. */
const VERSION_TIMEOUT_S = 3;
const PACKAGES_TIMEOUT_S = 6;
/** Programs looked at per command. */
const MAX_PROGRAMS = 8;

const VERSION = "vh-fingerprint/1";

/** Where the fingerprint's files are in a work dir (`.vh/` is the wrapper's: the job cannot write it). */
export function fingerprintPaths(workDir: string): { script: string; out: string } {
  const vh = `${workDir.replace(/\/+$/, "")}/.vh`;
  return { script: `${vh}/fingerprint.sh`, out: `${vh}/fingerprint.out` };
}

// ---------------------------------------------------------------------------------------------
// Which programs a command runs

/** An interpreter the command names: as written (`python3`, `./venv/bin/python`), and what it is. */
export interface CommandProgram {
  /** As written in the command: a name looked up on the step's PATH, or a path. */
  program: string;
  family: "python" | "node" | "other";
  /** `java` and `go` do not take `--version`. */
  versionArgs: string[];
  /** `python3 -m NAME`: the modules run with it. */
  modules: string[];
}

const INTERPRETER = /^(python(\d+(\.\d+)?)?|pypy(\d+(\.\d+)?)?|node|nodejs|deno|bun|R|Rscript|julia|java|ruby|perl|php|lua(\d(\.\d)?)?|go|dotnet|octave|scala)$/;
/** Tools that belong to an interpreter: `pip3 install` runs python3's pip. */
const BELONGS_TO: [RegExp, (m: RegExpExecArray) => string][] = [
  [/^pip(\d+(\.\d+)?)?$/, (m) => `python${m[1] ?? ""}`],
  [/^(npm|npx)$/, () => "node"],
];
/** Words in command position that run the next word. */
const PREFIXES = new Set(["exec", "command", "nohup", "time", "env", "nice", "stdbuf", "xargs", "then", "else", "elif", "do", "if", "while", "until", "!", "{", "}"]);
/** `X run [options] PROGRAM` launchers of an environment. */
const RUNNERS = new Set(["uv", "poetry", "pipenv", "pdm", "hatch", "conda", "mamba", "micromamba", "pixi", "rye"]);
/** Options of those that take a value (`conda run -n env python`). */
const VALUE_OPTIONS = new Set(["-n", "--name", "-p", "--prefix", "-e", "--env", "--python", "--with"]);
/** A path we are willing to run `--version` on: plain characters only. */
const PLAIN_PATH = /^[A-Za-z0-9_./+-]+$/;

interface Word {
  text: string;
  /** Contains an expansion ($…, `…`): what it is is known only when the shell runs it. */
  dynamic: boolean;
}

/**
 * The simple commands of a shell script as words, roughly as /bin/sh splits them: quotes, escapes,
 * comments, `;` `&` `|` `(` `)` and newlines as separators. Expansions are kept as text and mark the
 * word dynamic; nothing is evaluated.
 */
export function shellWords(script: string): Word[][] {
  const commands: Word[][] = [];
  let words: Word[] = [];
  let cur = "";
  let inWord = false;
  let dynamic = false;
  const endWord = () => {
    if (inWord) words.push({ text: cur, dynamic });
    cur = "";
    inWord = false;
    dynamic = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length) commands.push(words);
    words = [];
  };
  /** Index after the `)` matching the `(` at i (for `$(…)`), quotes inside skipped. */
  const skipParens = (i: number): number => {
    let depth = 0;
    for (; i < script.length; i++) {
      const c = script[i];
      if (c === "\\") i++;
      else if (c === "'") {
        const e = script.indexOf("'", i + 1);
        i = e === -1 ? script.length : e;
      } else if (c === "(") depth++;
      else if (c === ")" && --depth === 0) return i + 1;
    }
    return script.length;
  };
  for (let i = 0; i < script.length; ) {
    const c = script[i]!;
    if (c === " " || c === "\t") {
      endWord();
      i++;
    } else if (c === "\n" || c === ";" || c === "&" || c === "|" || c === "(" || c === ")") {
      endCommand();
      i++;
    } else if (c === "#" && !inWord) {
      const e = script.indexOf("\n", i);
      i = e === -1 ? script.length : e;
    } else if (c === "\\") {
      if (script[i + 1] === "\n") i += 2; // line continuation
      else {
        cur += script[i + 1] ?? "";
        inWord = true;
        i += 2;
      }
    } else if (c === "'") {
      const e = script.indexOf("'", i + 1);
      cur += script.slice(i + 1, e === -1 ? script.length : e);
      inWord = true;
      i = e === -1 ? script.length : e + 1;
    } else if (c === '"') {
      inWord = true;
      i++;
      while (i < script.length && script[i] !== '"') {
        const d = script[i]!;
        if (d === "\\" && i + 1 < script.length && '"\\$`\n'.includes(script[i + 1]!)) {
          if (script[i + 1] !== "\n") cur += script[i + 1];
          i += 2;
          continue;
        }
        if (d === "$" || d === "`") dynamic = true;
        if (d === "$" && script[i + 1] === "(") {
          const e = skipParens(i + 1);
          cur += script.slice(i, e);
          i = e;
          continue;
        }
        cur += d;
        i++;
      }
      i++;
    } else if (c === "$") {
      dynamic = true;
      inWord = true;
      if (script[i + 1] === "(") {
        const e = skipParens(i + 1);
        cur += script.slice(i, e);
        i = e;
      } else {
        cur += c;
        i++;
      }
    } else if (c === "`") {
      dynamic = true;
      inWord = true;
      const e = script.indexOf("`", i + 1);
      cur += script.slice(i, e === -1 ? script.length : e + 1);
      i = e === -1 ? script.length : e + 1;
    } else {
      cur += c;
      inWord = true;
      i++;
    }
  }
  endCommand();
  return commands;
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

/**
 * The interpreters a step's command runs (python, node, R, julia, java, …), in order of first use,
 * at most 8: the first word of each simple command after assignments and prefixes (`exec`, `env`,
 * `time`, `uv run`, `conda run -n X`, …); `pip3` counts as python3 and `npx` as node. A word with an
 * expansion in it is skipped (it is not known until the shell runs), and so is a path with
 * characters other than letters, digits and `_./+-`.
 */
export function programsOfCommand(script: string): CommandProgram[] {
  const found = new Map<string, CommandProgram>();
  for (const words of shellWords(script)) {
    let i = 0;
    // Assignments, prefixes and environment launchers before the program.
    for (;;) {
      const w = words[i];
      if (!w) break;
      if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(w.text)) {
        i++;
        continue;
      }
      if (PREFIXES.has(w.text)) {
        i++;
        // Options of a prefix (`env -i`, `nice -n 5`, `time -p`).
        while (words[i]?.text.startsWith("-")) i += words[i]!.text === "-n" || words[i]!.text === "-u" ? 2 : 1;
        continue;
      }
      if (RUNNERS.has(basename(w.text)) && words[i + 1]?.text === "run") {
        i += 2;
        while (words[i]?.text.startsWith("-")) i += VALUE_OPTIONS.has(words[i]!.text) ? 2 : 1;
        continue;
      }
      break;
    }
    const w = words[i];
    if (!w || w.dynamic || found.size >= MAX_PROGRAMS) continue;
    const base = basename(w.text);
    let program = w.text;
    let name = base;
    for (const [re, to] of BELONGS_TO) {
      const m = re.exec(base);
      if (m) {
        name = to(m);
        program = w.text.includes("/") ? `${w.text.slice(0, w.text.lastIndexOf("/") + 1)}${name}` : name;
      }
    }
    if (!INTERPRETER.test(name)) continue;
    if (program.includes("/") && !PLAIN_PATH.test(program)) continue;
    const family = /^(python|pypy)/.test(name) ? "python" : /^node/.test(name) ? "node" : "other";
    const entry = found.get(program) ?? { program, family, versionArgs: name === "java" ? ["-version"] : name === "go" ? ["version"] : ["--version"], modules: [] };
    found.set(program, entry);
    if (family === "python" && program === w.text) {
      const m = words.findIndex((x, j) => j > i && x.text === "-m");
      const mod = m === -1 ? undefined : words[m + 1];
      if (mod && !mod.dynamic && /^[A-Za-z_][A-Za-z0-9_.]*$/.test(mod.text) && !entry.modules.includes(mod.text)) entry.modules.push(mod.text);
    }
  }
  return [...found.values()];
}

// ---------------------------------------------------------------------------------------------
// The scripts

/** A fresh marker per launch, so a section header cannot appear by chance in a program's output. */
export function fingerprintMarker(nonce: string): string {
  if (!/^[0-9a-f]{8,64}$/.test(nonce)) throw new Error(`fingerprint nonce must be hex, not "${nonce}"`);
  return `==vh-fp-${nonce}==`;
}

/**
 * `.vh/fingerprint.sh`: run with /bin/sh as the job's user, with its environment, in repository/.
 * Prints `vh-fingerprint/1 MARKER` and then sections `MARKER NAME [INDEX]`.
 */
export function buildFingerprintScript(programs: CommandProgram[], nonce: string): string {
  const m = fingerprintMarker(nonce);
  const cut = FINGERPRINT_SECTION_BYTES + 1; // one byte more than kept: the parser sees the cut
  const lines = [
    "# Written by vh (worker/runners/shared/fingerprint.ts): what this host offers the step.",
    `M=${q(m)}`,
    // TERM at the limit (KILL a second later); the section `timeout` after a program's says it was cut off.
    `t() { s=$1; shift; command -v timeout >/dev/null 2>&1 || { "$@"; return; }; timeout -k 1 "$s" "$@"; r=$?; [ "$r" = 124 ] && printf '\\n%s timeout\\n' "$M"; return "$r"; }`,
    `sec() { printf '\\n%s %s\\n' "$M" "$*"; }`,
    `printf '%s %s\\n' ${q(VERSION)} "$M"`,
    `sec os; head -c 4096 /etc/os-release 2>/dev/null`,
    `sec kernel; uname -r 2>/dev/null`,
    `sec arch; uname -m 2>/dev/null`,
    `py=`,
  ];
  programs.slice(0, MAX_PROGRAMS).forEach((p, i) => {
    lines.push(
      `sec prog ${i}`,
      `if p=$(command -v ${q(p.program)} 2>/dev/null); then printf '%s\\n' "$p"; t ${VERSION_TIMEOUT_S} "$p" ${p.versionArgs.map(q).join(" ")} </dev/null 2>&1 | head -c 1024; fi`,
    );
    if (p.family === "python") lines.push(`[ -n "$py" ] || py=$p; p=`);
  });
  lines.push(
    `if [ -n "$py" ]; then`,
    `  sec pip "$py"`,
    `  PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 t ${PACKAGES_TIMEOUT_S} "$py" -m pip freeze --all </dev/null 2>/dev/null | head -c ${cut}`,
    `fi`,
    `if [ -f package.json ] && command -v npm >/dev/null 2>&1; then`,
    `  sec npm`,
    `  NO_UPDATE_NOTIFIER=1 npm_config_update_notifier=false npm_config_fund=false t ${PACKAGES_TIMEOUT_S} npm ls --json --depth=0 </dev/null 2>/dev/null | head -c ${cut}`,
    `fi`,
    `sec end`,
    "",
  );
  return lines.join("\n");
}

/** What the host side runs to take the fingerprint before the step's command. */
export type FingerprintProbe =
  /** A plain process: the same chain as the job's, with `/bin/sh .vh/fingerprint.sh` at its end. */
  | { kind: "process"; argv: string[] }
  /** Docker: inspect (pulling when missing) the image the step runs in. */
  | { kind: "docker"; image: string; nonce: string };

/**
 * `command` preceded by the fingerprint, for the wrapper (protocol.ts) to run as the job: a shell
 * that runs the probe with a hard time limit, writes what it printed (cut at 256 KiB) to `outFile`
 * atomically, and then execs `command`, whatever the probe did.
 */
export function withFingerprint(command: string[], probe: FingerprintProbe, outFile: string): string[] {
  const limit = `T=; command -v timeout >/dev/null 2>&1 && T='timeout -k 2 ${FINGERPRINT_TIMEOUT_S}'`;
  // In braces with stderr closed: a probe cut off by the limit must not leave "Killed" in the step's stderr.log.
  const write = `| head -c ${FINGERPRINT_TOTAL_BYTES} >"$0.tmp"; } 2>/dev/null; mv -f "$0.tmp" "$0"`;
  let body: string[];
  if (probe.kind === "process") {
    body = [limit, `{ $T ${probe.argv.map(q).join(" ")} </dev/null 2>/dev/null ${write}`];
  } else {
    const m = fingerprintMarker(probe.nonce);
    const img = q(probe.image);
    body = [
      // As `docker run` does: a missing image is pulled (its progress goes to the step's stderr.log).
      `docker image inspect -- ${img} >/dev/null 2>&1 || docker pull -- ${img} </dev/null >&2`,
      limit,
      // Each section header starts a line of its own after a newline (parseFingerprint splits on "\nMARKER ").
      `{ { printf '%s %s\\n\\n%s docker\\n' ${q(VERSION)} ${q(m)} ${q(m)}; $T docker image inspect --format '{{json .RepoDigests}} {{.Id}}' -- ${img} </dev/null 2>&1; } ${write}`,
    ];
  }
  return ["/bin/sh", "-c", [...body, `exec "$@"`].join("\n"), outFile, ...command];
}

// ---------------------------------------------------------------------------------------------
// Reading it back

export interface InterpreterFact {
  /** As the command names it. */
  program: string;
  /** Where the step's PATH found it; null: not found. */
  path: string | null;
  /** The first line `--version` printed; null when it printed nothing or was cut off. */
  version: string | null;
  /** `--version` did not end within its time limit. */
  timedOut?: true;
  modules?: string[];
}

/** The runtime fingerprint as recorded in `runtime.fingerprint`. */
export interface RuntimeFingerprint {
  /** /etc/os-release as the step sees it. */
  os: { name: string | null; id: string | null; versionId: string | null } | null;
  kernel: string | null;
  arch: string | null;
  interpreters: InterpreterFact[];
  /** `python -m pip freeze --all` of the first Python the command runs. */
  pip: { python: string; packages: string[]; truncated: boolean } | null;
  /** `npm ls --json --depth=0` in repository/ (it has a package.json). */
  npm: { packages: Record<string, string>; truncated: boolean; problems: string[] } | null;
  /** Docker mode: what `docker image inspect` said of the image. */
  docker?: { repoDigests: string[]; imageId: string | null; error?: string };
}

/** One line of program output as recorded: printable, at most 300 characters. */
function cleanLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]/g, " ").trim().slice(0, 300);
}

function osRelease(text: string): RuntimeFingerprint["os"] {
  const get = (k: string) => {
    const m = new RegExp(`^${k}=(.*)$`, "m").exec(text);
    return m?.[1] ? cleanLine(m[1].trim().replace(/^(["'])(.*)\1$/, "$2")) || null : null;
  };
  const os = { name: get("PRETTY_NAME"), id: get("ID"), versionId: get("VERSION_ID") };
  return os.name || os.id ? os : null;
}

/** Credentials in URLs (pip freeze prints `pkg @ git+https://TOKEN@host/…`) and the given secret values, masked. */
export function maskFingerprintText(text: string, secrets: readonly string[] = []): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, "$1***@");
  for (const s of secrets) if (s && out.includes(s)) out = out.split(s).join("***");
  return out;
}

/**
 * The fingerprint from `.vh/fingerprint.out`, or null when it is not one (empty, cut before its
 * first line). Untrusted text: every field is bounded and anything unreadable becomes null.
 */
export function parseFingerprint(raw: string, programs: CommandProgram[]): RuntimeFingerprint | null {
  const nl = raw.indexOf("\n");
  const first = (nl === -1 ? raw : raw.slice(0, nl)).trim().split(" ");
  if (first[0] !== VERSION || !first[1] || !/^==vh-fp-[0-9a-f]+==$/.test(first[1])) return null;
  const marker = first[1];
  const sections: { name: string; arg: string; body: string }[] = [];
  const parts = raw.slice(nl + 1).split(`\n${marker} `);
  // The text before the first header is "" (each header starts with a newline).
  for (const part of parts.slice(1)) {
    const e = part.indexOf("\n");
    const header = e === -1 ? part : part.slice(0, e);
    const [name = "", ...rest] = header.split(" ");
    sections.push({ name, arg: rest.join(" "), body: e === -1 ? "" : part.slice(e + 1) });
  }
  const get = (name: string) => sections.find((s) => s.name === name);
  /** The section was cut off by its time limit (a `timeout` section follows it). */
  const timedOut = (s: (typeof sections)[number] | undefined) => s !== undefined && sections[sections.indexOf(s) + 1]?.name === "timeout";
  const ended = get("end") !== undefined;
  const fp: RuntimeFingerprint = {
    os: get("os") ? osRelease(get("os")!.body) : null,
    kernel: cleanLine(get("kernel")?.body ?? "") || null,
    arch: cleanLine(get("arch")?.body ?? "") || null,
    interpreters: [],
    pip: null,
    npm: null,
  };
  programs.slice(0, MAX_PROGRAMS).forEach((p, i) => {
    const s = sections.find((x) => x.name === "prog" && x.arg === String(i));
    const lines = (s?.body ?? "").split("\n").map(cleanLine);
    const where = lines[0]?.startsWith("/") ? lines[0] : null;
    const version = where && !timedOut(s) ? (lines.slice(1).find((l) => l !== "") ?? null) : null;
    fp.interpreters.push({ program: p.program, path: where, version, ...(timedOut(s) ? { timedOut: true as const } : {}), ...(p.modules.length ? { modules: p.modules } : {}) });
  });
  const pip = get("pip");
  if (pip) {
    const cut = Buffer.byteLength(pip.body) > FINGERPRINT_SECTION_BYTES;
    let lines = pip.body.split("\n");
    if (cut) lines = lines.slice(0, -1); // the last line is a part of one
    const packages = lines.map((l) => cleanLine(l)).filter((l) => l !== "" && !l.startsWith("#"));
    fp.pip = { python: cleanLine(pip.arg), packages, truncated: cut || !ended || timedOut(pip) };
  }
  const npm = get("npm");
  if (npm) {
    const cut = Buffer.byteLength(npm.body) > FINGERPRINT_SECTION_BYTES;
    const packages: Record<string, string> = {};
    const problems: string[] = [];
    let parsed: unknown = null;
    try {
      parsed = cut || timedOut(npm) ? null : JSON.parse(npm.body);
    } catch {
      parsed = null;
    }
    if (parsed && typeof parsed === "object") {
      const deps = (parsed as { dependencies?: unknown }).dependencies;
      if (deps && typeof deps === "object") {
        for (const [name, d] of Object.entries(deps as Record<string, unknown>).slice(0, 5000)) {
          const v = d && typeof d === "object" ? (d as { version?: unknown; missing?: unknown }) : {};
          packages[cleanLine(name)] = typeof v.version === "string" ? cleanLine(v.version) : v.missing ? "(missing)" : "(unknown)";
        }
      }
      const probs = (parsed as { problems?: unknown }).problems;
      if (Array.isArray(probs)) for (const pr of probs.slice(0, 20)) if (typeof pr === "string") problems.push(cleanLine(pr));
    } else if (timedOut(npm)) {
      problems.push("npm ls was cut off by its time limit");
    } else if (!cut) {
      problems.push("npm ls printed no JSON");
    }
    fp.npm = { packages, truncated: cut || !ended || timedOut(npm), problems };
  }
  const docker = get("docker");
  if (docker) {
    const text = docker.body.trim();
    const sp = text.indexOf(" ");
    let repoDigests: string[] = [];
    let imageId: string | null = null;
    try {
      const arr = JSON.parse(sp === -1 ? text : text.slice(0, sp)) as unknown;
      if (Array.isArray(arr)) repoDigests = arr.filter((x): x is string => typeof x === "string").map(cleanLine).slice(0, 20);
      const id = sp === -1 ? "" : text.slice(sp + 1).trim();
      imageId = /^sha256:[0-9a-f]{64}$/.test(id) ? id : null;
    } catch {
      // not the inspect's format: docker said why
    }
    fp.docker = { repoDigests, imageId, ...(imageId === null && repoDigests.length === 0 ? { error: cleanLine(text) || "docker image inspect printed nothing" } : {}) };
  }
  return fp;
}

/**
 * The digest of the image that ran: `sha256:…` of the repo digest whose repository is the image's
 * own (else the first one), else the image id (an image built on the host has no repo digest).
 */
export function imageDigestOf(image: string, docker: RuntimeFingerprint["docker"]): string | null {
  if (!docker) return null;
  const repo = image.replace(/@sha256:[0-9a-f]+$/, "").replace(/:[^/:]+$/, "");
  // Docker Hub names: `python` is `docker.io/library/python`.
  const norm = (r: string) => r.replace(/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, "").replace(/^library\//, "");
  const repoOf = (d: string) => d.split("@")[0] ?? "";
  // The image's own repository first: the same image pushed to a mirror has a digest of its own there.
  const own =
    docker.repoDigests.find((d) => repoOf(d) === repo) ??
    docker.repoDigests.find((d) => norm(repoOf(d)) === norm(repo)) ??
    docker.repoDigests.find((d) => repoOf(d).endsWith(`/${repo}`)) ??
    docker.repoDigests[0];
  const digest = own?.split("@")[1];
  if (digest && /^sha256:[0-9a-f]{64}$/.test(digest)) return digest;
  return docker.imageId;
}

// ---------------------------------------------------------------------------------------------
// The capability

/**
 * A runner that can read the fingerprint the job's prologue wrote (found with `readsFingerprint`).
 * `fingerprint` waits up to `waitMs` for it: `text` once written (at most 256 KiB), `ended` when the
 * job ended without one (killed before it ran, say), `pending` when neither yet.
 */
export interface ReadsFingerprint {
  fingerprint(handle: RunnerHandle, waitMs: number): Promise<{ state: "written"; text: string } | { state: "ended" } | { state: "pending" }>;
}

export function readsFingerprint(runner: Runner): runner is Runner & ReadsFingerprint {
  return typeof (runner as Partial<ReadsFingerprint>).fingerprint === "function";
}
