/**
 * The control plane's SSH key for rented hosts: made once (ed25519, mode 0600) at
 * VH_COMPUTE_SSH_KEY, default `<VH_DATA_DIR>/compute_ed25519`. Its public half goes into every
 * instance's user data; the private half never leaves this machine.
 */
import fs from "node:fs";
import path from "node:path";
import ssh2 from "ssh2";

export interface ComputeKey {
  path: string;
  publicKey: string;
}

export function ensureComputeKey(file: string): ComputeKey {
  const pub = `${file}.pub`;
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const pair = ssh2.utils.generateKeyPairSync("ed25519", { comment: "vh-control-plane" });
    // `wx`: a second process making the key at the same moment does not overwrite the first one's.
    try {
      fs.writeFileSync(file, pair.private, { mode: 0o600, flag: "wx" });
      fs.writeFileSync(pub, `${pair.public}\n`, { mode: 0o644 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  if (!fs.existsSync(pub)) {
    const parsed = ssh2.utils.parseKey(fs.readFileSync(file));
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (!key || key instanceof Error) throw new Error(`VH_COMPUTE_SSH_KEY ${file}: not a private key${key instanceof Error ? `: ${key.message}` : ""}`);
    fs.writeFileSync(pub, `${key.type} ${key.getPublicSSH().toString("base64")} vh-control-plane\n`, { mode: 0o644 });
  }
  return { path: file, publicKey: fs.readFileSync(pub, "utf8").trim() };
}
