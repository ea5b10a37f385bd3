import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { StoreError } from "../../app/errors.js";
import { createLocalStore } from "../../worker/stores/local.js";
import { createStore } from "../../worker/stores/index.js";
import { readAll, storeContract } from "../contracts/store-contract.js";

async function tempRoot(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), "vh-local-store-"));
}

storeContract("local", async () => {
  const root = await tempRoot();
  return { store: createLocalStore(root), listsSha256: true, presigns: false, cleanup: () => fs.rm(root, { recursive: true, force: true }) };
});

describe("local store specifics", () => {
  it("keeps objects as plain files under the root and hides its own files from list", async () => {
    const root = await tempRoot();
    try {
      const store = createStore({ kind: "local", root });
      expect(store.kind).toBe("local");
      await store.put("code/abc.tgz", Buffer.from("tgz"));
      expect(await fs.readFile(path.join(root, "code", "abc.tgz"), "utf8")).toBe("tgz");
      expect((await store.list("")).map((o) => o.key)).toEqual(["code/abc.tgz"]);
      expect(await fs.readdir(path.join(root, ".vhstore", "tmp"))).toEqual([]);
      await expect(store.put(".vhstore/meta/x", Buffer.from("x"))).rejects.toBeInstanceOf(StoreError);
      expect(await store.presignGet("code/abc.tgz", 60)).toBeNull();
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  it("reports sha256 null, not a stale hash, when the file changed behind the store's back", async () => {
    const root = await tempRoot();
    try {
      const store = createLocalStore(root);
      await store.put("x", Buffer.from("original"));
      await fs.writeFile(path.join(root, "x.new"), "replaced by hand");
      await fs.rename(path.join(root, "x.new"), path.join(root, "x"));
      expect(await store.head("x")).toEqual({ key: "x", size: 16, sha256: null });
      expect((await readAll(await store.get("x"))).toString()).toBe("replaced by hand");
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  it("leaves the old object in place when the body stream fails", async () => {
    const root = await tempRoot();
    try {
      const store = createLocalStore(root);
      await store.put("k", Buffer.from("old"));
      async function* failing() {
        yield Buffer.from("partial");
        throw new Error("source broke");
      }
      const { Readable } = await import("node:stream");
      await expect(store.put("k", Readable.from(failing()))).rejects.toThrow(/source broke/);
      expect((await readAll(await store.get("k"))).toString()).toBe("old");
      expect(await fs.readdir(path.join(root, ".vhstore", "tmp"))).toEqual([]);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  it("a key that is a directory of other keys is missing, not an object", async () => {
    const root = await tempRoot();
    try {
      const store = createLocalStore(root);
      await store.put("dir/file", Buffer.from("x"));
      expect(await store.head("dir")).toBeNull();
      await expect(store.get("dir")).rejects.toThrow(/"dir"/);
      await store.delete("dir");
      expect(await store.head("dir/file")).not.toBeNull();
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});
