/**
 * The script an EC2 instance runs at boot (its user data; cloud-init runs it as root). It holds no
 * secret: the control plane's PUBLIC key and a few settings. It
 * 1. authorises the control plane's key for the SSH user (so the SSH runner can log in);
 * 2. prints the instance's SSH host key fingerprints to the console (`vh-host-key: SHA256:…`), which
 *    the control plane reads with GetConsoleOutput and pins before its first connection: no
 *    trust-on-first-use over the network;
 * 3. starts a watcher that polls the instance metadata service (IMDSv2) for a spot interruption
 *    notice (`spot/instance-action`) and a rebalance recommendation, and writes what it saw to
 *    `~/.vh/interruption` and `~/.vh/rebalance`, which the control plane reads over SSH
 *    (worker/compute/spot.ts).
 *
 * `VH_IMDS_ENDPOINT` and `VH_SSH_HOST_KEY_DIR` default to EC2's own (169.254.169.254, /etc/ssh); a
 * test's twin of EC2 sets them for its instances.
 */
import { quote } from "shell-quote";
import type { BootstrapSpec } from "../../../app/contracts/compute.js";

/** The marker the instance prints before each host key fingerprint. */
export const HOST_KEY_MARKER = "vh-host-key:";
/** Printed once the bootstrap is done (the key is authorised and the watcher runs). */
export const READY_MARKER = "vh-bootstrap: ready";

export function buildUserData(o: BootstrapSpec): string {
  if (!/^ssh-(ed25519|rsa) [A-Za-z0-9+/=]+( [^\n'"\\]*)?$/.test(o.publicKey)) throw new Error("the control plane's public key is not one line of OpenSSH public key");
  if (!/^[a-z_][a-z0-9_-]*$/.test(o.sshUser)) throw new Error(`"${o.sshUser}" is not a user name`);
  const poll = Math.max(0.05, o.spotPollSeconds);
  return [
    "#!/bin/sh",
    `# vh bootstrap for cluster ${quote([o.cluster])}, host ${quote([o.hostId])} (worker/compute/ec2/user-data.ts). No secrets here.`,
    "set -u",
    `U=${quote([o.sshUser])}`,
    // As root (EC2), the SSH user's home; run as that user (a twin), its own.
    `if [ "$(id -un)" = "$U" ]; then H=$HOME; else H=$(getent passwd "$U" | cut -d: -f6); fi`,
    `[ -n "$H" ] || { echo "vh-bootstrap: no user $U on this image" >&2; exit 1; }`,
    `mkdir -p "$H/.ssh" "$H/.vh"`,
    `chmod 700 "$H/.ssh"`,
    `K=${quote([o.publicKey])}`,
    `grep -qxF "$K" "$H/.ssh/authorized_keys" 2>/dev/null || printf '%s\\n' "$K" >> "$H/.ssh/authorized_keys"`,
    `chmod 600 "$H/.ssh/authorized_keys"`,
    `if [ "$(id -u)" = 0 ] && [ "$(id -un)" != "$U" ]; then chown -R "$U" "$H/.ssh" "$H/.vh"; fi`,
    `for f in "\${VH_SSH_HOST_KEY_DIR:-/etc/ssh}"/ssh_host_*_key.pub; do`,
    `  [ -f "$f" ] && printf '${HOST_KEY_MARKER} %s\\n' "$(ssh-keygen -l -E sha256 -f "$f" | awk '{print $2, $NF}')"`,
    "done",
    `cat > "$H/.vh/spot-watch.sh" <<'VH_WATCH'`,
    "#!/bin/sh",
    "# Polls the instance metadata for a spot interruption notice and a rebalance recommendation.",
    'D=$1; M=${VH_IMDS_ENDPOINT:-http://169.254.169.254}',
    "while :; do",
    `  T=$(curl -s -m 2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$M/latest/api/token" 2>/dev/null)`,
    '  if [ -n "$T" ]; then',
    '    A=$(curl -sf -m 2 -H "X-aws-ec2-metadata-token: $T" "$M/latest/meta-data/spot/instance-action" 2>/dev/null) && [ -n "$A" ] && printf \'%s\\n\' "$A" > "$D/interruption.tmp" && mv "$D/interruption.tmp" "$D/interruption"',
    '    R=$(curl -sf -m 2 -H "X-aws-ec2-metadata-token: $T" "$M/latest/meta-data/events/recommendations/rebalance" 2>/dev/null) && [ -n "$R" ] && printf \'%s\\n\' "$R" > "$D/rebalance.tmp" && mv "$D/rebalance.tmp" "$D/rebalance"',
    "  fi",
    `  sleep ${poll}`,
    "done",
    "VH_WATCH",
    `chmod 755 "$H/.vh/spot-watch.sh"`,
    `if [ "$(id -u)" = 0 ] && [ "$(id -un)" != "$U" ]; then chown "$U" "$H/.vh/spot-watch.sh"; fi`,
    `nohup sh "$H/.vh/spot-watch.sh" "$H/.vh" >/dev/null 2>&1 &`,
    `echo ${quote([READY_MARKER])}`,
    "",
  ].join("\n");
}

/**
 * The host key fingerprints in an instance's console output, the ED25519 one first (the key type
 * the SSH client asks for first): vh's own marker lines (`vh-host-key: SHA256:… (ED25519)`), else
 * the block cloud-init prints (`-----BEGIN SSH HOST KEY FINGERPRINTS-----`).
 */
export function hostKeysInConsole(output: string): string[] {
  const found: { fp: string; type: string }[] = [];
  const add = (fp: string, type: string) => {
    if (!found.some((f) => f.fp === fp)) found.push({ fp, type: type.toUpperCase() });
  };
  for (const m of output.matchAll(/^vh-host-key: (SHA256:[A-Za-z0-9+/]+)(?: \((\w+)\))?\s*$/gm)) add(m[1]!, m[2] ?? "");
  if (found.length === 0) {
    const block = /-----BEGIN SSH HOST KEY FINGERPRINTS-----([\s\S]*?)-----END SSH HOST KEY FINGERPRINTS-----/.exec(output);
    for (const m of block?.[1]?.matchAll(/\b(SHA256:[A-Za-z0-9+/]+)[^\n]*?(?:\((\w+)\))?$/gm) ?? []) add(m[1]!, m[2] ?? "");
  }
  const rank = (t: string) => (t === "ED25519" ? 0 : t.startsWith("ECDSA") ? 1 : 2);
  return found.sort((a, b) => rank(a.type) - rank(b.type)).map((f) => f.fp);
}
