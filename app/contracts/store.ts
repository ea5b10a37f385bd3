/**
 * Artifact store: where code snapshots, output files (datums) and their sidecars live.
 *
 * Terminology:
 * - key: a relative, slash-separated object name (`code/<sha256>.tgz`, `data/<datum-id>/<path>`).
 *   Keys never start with `/` and never contain `..` segments; implementations reject such keys.
 * - object: the bytes stored under a key, with its size and sha256 (hex), computed by the store
 *   while writing, never trusted from the caller.
 *
 * Contract for every implementation (checked by test/contracts/store-contract.ts):
 * - `put` streams the body (never buffers it whole), returns size and sha256 of what was stored;
 *   writing an existing key replaces it atomically (readers see old or new bytes, never a mix).
 * - `get` of a missing key throws a StoreError whose message names the key.
 * - `head` returns null for a missing key.
 * - `delete` is idempotent.
 * - `list(prefix)` returns every key under the prefix (no paging left to the caller), sorted.
 */
import type { Readable } from "node:stream";

export interface StoredObject {
  key: string;
  size: number;
  /** Hex sha256 of the stored bytes; may be null in `head`/`list` when the backend does not keep it. */
  sha256: string | null;
}

export interface PutResult {
  key: string;
  size: number;
  sha256: string;
}

export interface Store {
  readonly kind: "local" | "s3";
  /**
   * `sha256`: what the caller says the bytes are (a client that hashed them first). The store still
   * hashes what it receives, and when the two differ it throws a StoreError and keeps nothing (an
   * existing object at the key stays as it was). A store may use it to stream without spooling.
   */
  put(key: string, body: Readable | Buffer, opts?: { contentType?: string; sha256?: string }): Promise<PutResult>;
  get(key: string): Promise<Readable>;
  head(key: string): Promise<StoredObject | null>;
  delete(key: string): Promise<void>;
  list(prefix: string): Promise<StoredObject[]>;
  /**
   * A URL a remote host can download the object from without credentials, valid for `seconds`,
   * or null when the store cannot make one (the local store): the caller then streams via `get`.
   */
  presignGet(key: string, seconds: number): Promise<string | null>;
}
