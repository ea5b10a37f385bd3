/**
 * Key rules shared by every store, so that a key one backend accepts is accepted by all of them.
 */
import { StoreError } from "../errors.js";

/**
 * Throws a StoreError unless `key` is a relative, slash-separated name of at most 1024 bytes with
 * no empty, `.` or `..` segments, no backslashes and no NUL bytes. A trailing slash is an empty
 * segment, so rejected.
 */
export function assertValidKey(key: string): void {
  const problem = keyProblem(key, false);
  if (problem) throw new StoreError(`Invalid store key "${key}": ${problem}.`);
}

/** Like assertValidKey, for a `list` prefix: may be empty and may end with a slash. */
export function assertValidPrefix(prefix: string): void {
  const problem = keyProblem(prefix, true);
  if (problem) throw new StoreError(`Invalid store prefix "${prefix}": ${problem}.`);
}

/** Longest key in UTF-8 bytes: S3's limit, so a key the local store takes fits every store. */
export const MAX_KEY_BYTES = 1024;

/** Why `key` (or a `list` prefix) breaks the rules above, or null. */
export function keyProblem(key: string, isPrefix: boolean): string | null {
  if (key === "") return isPrefix ? null : "a key cannot be empty";
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `keys are at most ${MAX_KEY_BYTES} bytes (UTF-8)`;
  if (key.startsWith("/")) return "keys are relative and cannot start with /";
  if (key.includes("\\")) return "keys use / as separator and cannot contain backslashes";
  if (key.includes("\0")) return "keys cannot contain NUL bytes";
  const segments = key.split("/");
  if (isPrefix && segments[segments.length - 1] === "") segments.pop();
  for (const segment of segments) {
    if (segment === "..") return "keys cannot contain .. segments";
    if (segment === ".") return "keys cannot contain . segments";
    if (segment === "") return "keys cannot contain empty segments (// or a trailing /)";
  }
  return null;
}

/** Byte order of the UTF-8 encoding: the order S3 lists keys in, used by every store. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** Where a code snapshot (a gzipped tarball, content-addressed by its sha256) lives in the store. */
export function snapshotKey(sha256: string): string {
  return `code/${sha256}.tgz`;
}
