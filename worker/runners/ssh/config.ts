/** SSH runner settings: the ssh:// URL form and the defaults (worker/runners/ssh/readme.md). */
export { parseSshUrl } from "./client.js";

/** Work root on a host when the ssh:// URL has no path: `$HOME/.vh`. */
export const DEFAULT_REMOTE_ROOT = "$HOME/.vh";
/** Default SSH port. */
export const DEFAULT_PORT = 22;
