/**
 * The HostShell (shared/host-shell.ts) of an SSH host: each call one shell script or one SFTP
 * request over the host's SSH connection (ssh/client.ts). Nothing here needs the connection to
 * stay up between calls; a call on a dropped connection reconnects.
 */
import type { OutputFileInfo } from "../../../app/contracts/runner.js";
import { LOST_EXIT_CODE, type DetachedHandle } from "../shared/detached.js";
import type { FingerprintRead, HostShell, JobState } from "../shared/host-shell.js";
import { shellQuote as q, type WorkPaths } from "../shared/protocol.js";
import type { SshClient } from "./client.js";

/** A whole number printed by a script (trimmed), else null. */
export function intOrNull(v: string | undefined): number | null {
  return v !== undefined && /^\d+$/.test(v.trim()) ? Number(v.trim()) : null;
}

/** Shell function `alive`: the wrapper or a live (non-zombie) member of the job's group exists (on the boot it was launched on). */
export function aliveSh(p: WorkPaths, h: Pick<DetachedHandle, "wrapperPid" | "pgid" | "bootId">): string {
  return [
    `alive() {`,
    h.bootId ? `  [ "$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)" = ${q(h.bootId)} ] || return 1` : "",
    `  W=${h.wrapperPid ?? ""}; [ -n "$W" ] || W=$(cat ${q(p.wrapperPidFile)} 2>/dev/null)`,
    `  if [ -n "$W" ] && [ -r /proc/$W/cmdline ] && tr '\\0' ' ' < /proc/$W/cmdline 2>/dev/null | grep -qF ${q(p.wrapper)}; then`,
    `    s=$(sed 's/.*) //' /proc/$W/stat 2>/dev/null | cut -d' ' -f1); [ -n "$s" ] && [ "$s" != Z ] && return 0`,
    `  fi`,
    `  PG=${h.pgid ?? ""}; [ -n "$PG" ] || PG=$(cat ${q(p.pidFile)} 2>/dev/null); [ -n "$PG" ] || return 1`,
    `  kill -0 -- "-$PG" 2>/dev/null || return 1`,
    `  for f in /proc/[0-9]*/stat; do`,
    `    set -- $(sed 's/.*) //' "$f" 2>/dev/null); [ "\${3:-}" = "$PG" ] && [ "$1" != Z ] && return 0`,
    `  done`,
    `  return 1`,
    `}`,
  ].join("\n");
}

export function createSshShell(client: SshClient, hostName: string): HostShell {
  const sftpCall = async <T>(f: (s: Awaited<ReturnType<SshClient["sftp"]>>, cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T | null> => {
    const sftp = await client.sftp();
    return new Promise<T | null>((resolve) => f(sftp, (err, v) => resolve(err ? null : (v as T))));
  };

  return {
    where: ` on ${hostName}`,

    run: (script, what, timeoutMs) => client.run(script, what, timeoutMs === undefined ? {} : { timeoutMs }),

    async probe(p, h): Promise<JobState> {
      const script = [
        aliveSh(p, h),
        `V=${q(p.vh)}`,
        `[ -d "$V" ] || { echo gone; exit 0; }`,
        `code=$(cat "$V/exit_code" 2>/dev/null)`,
        `if [ -z "$code" ]; then`,
        `  if alive; then code=running; else`,
        `    code=$(cat "$V/exit_code" 2>/dev/null)`,
        `    if [ -z "$code" ]; then`,
        `      echo "The wrapper ended without recording an exit code (killed, or the host rebooted)." > "$V/exit_note"`,
        `      echo ${LOST_EXIT_CODE} > "$V/exit_code.tmp" && mv -f "$V/exit_code.tmp" "$V/exit_code"; code=${LOST_EXIT_CODE}`,
        `    fi`,
        `  fi`,
        `fi`,
        `echo "$code $(stat -c %s "$V/stdout.log" 2>/dev/null || echo 0) $(stat -c %s "$V/stderr.log" 2>/dev/null || echo 0)"`,
      ].join("\n");
      const out = (await client.run(script, "Polling the job")).trim();
      if (out === "gone") return { state: "gone", exitCode: null, sizes: { stdout: 0, stderr: 0 } };
      const [code, so, se] = out.split(" ");
      const exitCode = code === "running" ? null : intOrNull(code);
      return { state: exitCode === null ? "running" : "ended", exitCode, sizes: { stdout: Number(so) || 0, stderr: Number(se) || 0 } };
    },

    async readRange(file, offset, length) {
      if (length <= 0) return Buffer.alloc(0);
      const sftp = await client.sftp();
      const parts: Buffer[] = [];
      await new Promise<void>((resolve, reject) => {
        const rs = sftp.createReadStream(file, { start: offset, end: offset + length - 1 });
        rs.on("data", (d: Buffer) => parts.push(d));
        rs.on("error", (err: Error & { code?: unknown }) => (err.code === 2 /* no such file */ ? resolve() : reject(err)));
        rs.on("end", () => resolve());
        rs.on("close", () => resolve());
      });
      return Buffer.concat(parts).subarray(0, length);
    },

    async signalJob(p, h, signal) {
      const V = q(p.vh);
      const out = await client.run(
        [
          `[ -f ${V}/exit_code ] && { echo ended; exit 0; }`,
          h.mode === "docker" && h.container ? `docker kill --signal ${signal} ${q(h.container)} >/dev/null 2>&1` : ":",
          `PG=${h.pgid ?? ""}; [ -n "$PG" ] || PG=$(cat ${V}/pid 2>/dev/null)`,
          `[ -n "$PG" ] && kill -s ${signal} -- "-$PG" 2>/dev/null`,
          `echo sent`,
        ].join("\n"),
        "Stopping the job",
      );
      return out.trim() !== "ended";
    },

    async waitEnded(p, h, ms) {
      const V = q(p.vh);
      const out = await client.run(
        [
          aliveSh(p, h),
          `i=0; while [ $i -lt ${Math.max(1, Math.ceil(ms / 50))} ]; do [ -f ${V}/exit_code ] && break; alive || break; sleep 0.05; i=$((i+1)); done`,
          `[ -f ${V}/exit_code ] && echo ended || echo open`,
        ].join("\n"),
        "Waiting for the job to end",
        { timeoutMs: ms + 30_000 },
      );
      return out.trim() === "ended";
    },

    async listFiles(dir) {
      const r = await client.exec(`cd ${q(dir)} 2>/dev/null || exit 0; find . -type f -printf '%P\\0%s\\0%m\\0'`);
      const fields = r.stdout.toString().split("\0");
      const files: OutputFileInfo[] = [];
      for (let i = 0; i + 2 < fields.length; i += 3) {
        const mode = parseInt(fields[i + 2] as string, 8);
        files.push({ path: fields[i] as string, size: Number(fields[i + 1]), readOnly: (mode & 0o222) === 0 });
      }
      return files;
    },

    realpath: (file) => client.realpath(file),

    async openFile(file) {
      // lstat: a link (to anywhere) is not a file of outputs/.
      const st = await sftpCall<{ isFile(): boolean }>((s, cb) => s.lstat(file, cb));
      if (!st?.isFile()) return null;
      return (await client.sftp()).createReadStream(file);
    },

    async removeFileIn(dir, name, root) {
      // In the folder itself (cd -P), re-checked there, so a link swapped in meanwhile is not
      // followed; only a file or link is removed, never a folder (no rm -r).
      await client.run(
        [
          `cd -P -- ${q(dir)} 2>/dev/null || exit 0`,
          `case "$(pwd -P)/" in ${q(root === "/" ? "/" : `${root}/`)}*) ;; *) exit 0 ;; esac`,
          `f=${q(`./${name}`)}`,
          `if [ -L "$f" ] || [ ! -d "$f" ]; then rm -f -- "$f"; fi`,
        ].join("\n"),
        "Removing an output",
      );
    },

    async removeTree(dir) {
      await client.run(`chmod -R u+w ${q(dir)} 2>/dev/null; rm -rf ${q(dir)}`, "Removing the work dir");
    },

    async readFingerprint(p, file, waitMs, maxBytes): Promise<FingerprintRead> {
      // The prologue writes its file before the step runs, so before the exit code: asked in that order.
      const r = await client.exec(
        [
          `n=${Math.max(0, Math.ceil(waitMs / 50))}; i=0`,
          `while :; do`,
          `  e=0; { [ -f ${q(p.exitCodeFile)} ] || [ ! -d ${q(p.vh)} ]; } && e=1`,
          `  if [ -f ${q(file)} ]; then echo written; head -c ${maxBytes} ${q(file)}; exit 0; fi`,
          `  [ "$e" = 1 ] && { echo ended; exit 0; }`,
          `  [ "$i" -ge "$n" ] && { echo pending; exit 0; }`,
          `  sleep 0.05; i=$((i+1))`,
          `done`,
        ].join("\n"),
        { timeoutMs: waitMs + 30_000 },
      );
      const out = r.stdout.toString("utf8");
      const nl = out.indexOf("\n");
      const state = nl === -1 ? out.trim() : out.slice(0, nl);
      if (state === "written") return { state: "written", text: out.slice(nl + 1) };
      if (state === "ended") return { state: "ended" };
      return { state: "pending" };
    },

    async mtime(file) {
      // In seconds with fractions (GNU date), else whole seconds (stat).
      const r = await client.exec(`f=${q(file)}; [ -e "$f" ] || exit 0; date -r "$f" +%s.%N 2>/dev/null || stat -c %Y "$f"`);
      const t = Number(r.stdout.toString().trim().replace(/\.N$/, ""));
      return r.code === 0 && Number.isFinite(t) && t > 0 ? new Date(Math.round(t * 1000)) : null;
    },

    async exists(file) {
      return (await client.exec(`[ -e ${q(file)} ] || [ -L ${q(file)} ]`)).code === 0;
    },
  };
}
