/**
 * `/valohai` for plain processes. The runtime contract's paths are fixed (valohai-spec §3.1), and
 * scripts written for Valohai hard-code them (`open("/valohai/outputs/model.bin", "wb")`). Docker
 * mounts the work dir there; a plain process gets the same view when vh can make it:
 *
 * - As root, the job runs in a private mount namespace (`unshare --mount --propagation private`,
 *   util-linux) in which its work dir is bind-mounted at `/valohai` (`inputs/` and `config/`
 *   read-only), so each execution sees its own `/valohai`, and nothing of it is visible on the
 *   host or to another execution. It is the same folder as the work dir: `/valohai` also holds the
 *   job's `home/` and vh's `.vh/` (which the job can neither list nor write), and
 *   `$VH_REPOSITORY_DIR/..` is the work dir as it is on the host. On the host vh only makes the
 *   empty mount point `/valohai` (mode 755) when it is missing.
 * - Where that cannot be done (vh is not root, util-linux's unshare is missing, the kernel refuses
 *   the mount: a container without CAP_SYS_ADMIN), the job gets only the VH_*_DIR variables, the
 *   execution record says why (`runtime.valohai`), and a step whose command names `/valohai/…`
 *   fails at start with a message that names the fix.
 *
 * The mounts are made as root before privileges are dropped, so they run with vh's environment,
 * never the job's (a PATH or LD_PRELOAD from valohai.yaml must not pick what root runs).
 *
 * Pure builders and parsers: nothing here spawns or touches the file system.
 */
import { shellQuote as q, workPaths } from "./protocol.js";

/** Where the job sees its work dir, as on Valohai. */
export const VALOHAI_ROOT = "/valohai";

/** What the job sees at /valohai (recorded in the handle and in the execution's runtime record). */
export type ValohaiView =
  /** `docker`: the container's volume mounts; `mount-namespace`: a plain process's private mounts. */
  | { provided: true; how: "docker" | "mount-namespace" }
  /** Only the VH_*_DIR variables point at the work dir; `reason` says why and is shown to users. */
  | { provided: false; reason: string };

/**
 * A shell script that checks, on the host that will run the job, whether a private /valohai can
 * be made there: as root, with unshare and mount, the mount point a folder (made when missing),
 * and a bind mount and its read-only remount accepted in a private mount namespace. It prints `ok`,
 * or `no <why> <detail>` (see parseValohaiProbe). Run with the runner's own environment.
 */
export function buildValohaiProbeScript(root: string = VALOHAI_ROOT): string {
  const R = q(root);
  return [
    `R=${R}`,
    `u=$(id -u 2>/dev/null)`,
    `[ "$u" = 0 ] || { echo "no not-root $(id -un 2>/dev/null || echo "$u")"; exit 0; }`,
    `for t in unshare mount; do command -v "$t" >/dev/null 2>&1 || { echo "no missing $t"; exit 0; }; done`,
    `if [ ! -e "$R" ] && [ ! -L "$R" ]; then`,
    // (another vh may make it at the same moment)
    `  err=$(mkdir -m 755 "$R" 2>&1) || [ -d "$R" ] || { echo "no mkdir $err" | tr '\\n' ' '; exit 0; }`,
    `fi`,
    `{ [ -d "$R" ] && [ ! -L "$R" ]; } || { echo "no not-a-folder"; exit 0; }`,
    `err=$(unshare --mount --propagation private -- /bin/sh -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1"' vh-probe "$R" 2>&1) \\`,
    `  || { echo "no refused $err" | tr '\\n' ' '; exit 0; }`,
    `echo ok`,
    "",
  ].join("\n");
}

/** The view a probe's output stands for, with a reason a user can act on. */
export function parseValohaiProbe(output: string, root: string = VALOHAI_ROOT): ValohaiView {
  const text = output.trim();
  if (text === "ok") return { provided: true, how: "mount-namespace" };
  const [, why = "", ...rest] = text.split(" ");
  const detail = rest.join(" ").trim();
  const reasons: Record<string, string> = {
    "not-root": `vh runs jobs here as the OS user "${detail}", not root, and only root can give a plain process a private ${root}`,
    missing: `${detail} (util-linux) is not installed on this host, so vh cannot give a plain process a private ${root}`,
    mkdir: `${root} does not exist and could not be made (${detail})`,
    "not-a-folder": `${root} exists on this host and is not a folder`,
    refused: `the kernel refused a private mount namespace (${detail || "no detail"}); in a container this needs CAP_SYS_ADMIN`,
  };
  return { provided: false, reason: reasons[why] ?? `checking for a private ${root} failed: ${text || "no output"}` };
}

/**
 * The job's argv wrapped so that it runs with its own /valohai: `unshare` makes a private mount
 * namespace, a root shell bind-mounts the work dir at `root` (inputs/ and config/ then read-only)
 * and changes into `root/repository`, then execs `command` (which drops privileges itself). A
 * mount that fails ends the job at once with mount's own message on stderr. `unshare` is the
 * absolute path the runner found, so the job's PATH never chooses it.
 */
export function buildValohaiViewArgv(unshare: string, workDir: string, command: string[], root: string = VALOHAI_ROOT): string[] {
  const p = workPaths(workDir);
  const at = (d: string) => q(`${root}/${d}`);
  const script = [
    "set -e",
    `mount --bind ${q(p.root)} ${q(root)}`,
    `mount --bind ${at("inputs")} ${at("inputs")}`,
    `mount -o remount,bind,ro ${at("inputs")}`,
    `mount --bind ${at("config")} ${at("config")}`,
    `mount -o remount,bind,ro ${at("config")}`,
    `cd ${at("repository")}`,
    "unset OLDPWD",
    `exec "$@"`,
  ].join("\n");
  return [unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "vh-valohai", ...command];
}

/**
 * Whether a step's script names a /valohai path itself (and would fail without the view). The
 * portable forms `${VH_OUTPUTS_DIR:-/valohai/outputs}` (and `-`, `=`, `:=`) do not count: they
 * work either way.
 */
export function usesValohaiPaths(script: string, root: string = VALOHAI_ROOT): boolean {
  const esc = root.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const portable = new RegExp(`\\$\\{VH_[A-Z_]+:?[-=]${esc}(?:/[^}]*)?\\}`, "g");
  return new RegExp(`${esc}(?:/|$|[\\s"'\`;)])`).test(script.replace(portable, ""));
}

/** The error for a step that names /valohai paths where the view could not be made. */
export function valohaiUnavailableMessage(reason: string, root: string = VALOHAI_ROOT): string {
  return (
    `This step's command uses ${root}/… paths, which vh cannot provide for a plain process here: ${reason}. ` +
    `Run vh as root (each job then sees its own ${root}), run the step in Docker (a Docker daemon on the host, VH_DOCKER=auto or always), ` +
    `or use the variables VH_REPOSITORY_DIR, VH_INPUTS_DIR, VH_OUTPUTS_DIR and VH_CONFIG_DIR instead of ${root}/… in the step.`
  );
}

/** Added to a failed step's reason when its errors name /valohai paths that the job did not have. */
export function valohaiMissingHint(reason: string, root: string = VALOHAI_ROOT): string {
  return (
    `Its errors name ${root}/… paths, which vh could not provide for this plain process: ${reason}. ` +
    `Run vh as root (each job then sees its own ${root}), run the step in Docker, or read VH_REPOSITORY_DIR, VH_INPUTS_DIR, ` +
    `VH_OUTPUTS_DIR and VH_CONFIG_DIR in the step instead of ${root}/… (they point at the same folders either way).`
  );
}
