/**
 * The Store contract (app/contracts/store.ts), run against every implementation.
 * `make` returns a fresh, empty store and a cleanup for it.
 */
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StoreError } from "../../app/errors.js";
import type { Store } from "../../app/contracts/store.js";

export interface StoreFixture {
  store: Store;
  cleanup(): Promise<void>;
  /** Whether `list` reports each object's sha256 (else null: S3 keeps it in metadata only `head` reads). */
  listsSha256: boolean;
  /** Whether `presignGet` makes URLs (else it answers null and callers stream through `get`). */
  presigns: boolean;
}

export function sha256(buf: Buffer): string {
  return createHash("sha256").update(buf).digest("hex");
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A stream of `total` random bytes in 1 MiB chunks, and the sha256 of them. */
export function bigStream(total: number): { stream: Readable; sha256: string } {
  const chunks: Buffer[] = [];
  for (let off = 0; off < total; off += 1024 * 1024) chunks.push(randomBytes(Math.min(1024 * 1024, total - off)));
  const hash = createHash("sha256");
  for (const c of chunks) hash.update(c);
  return { stream: Readable.from(chunks), sha256: hash.digest("hex") };
}

export function storeContract(name: string, make: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let fx: StoreFixture;
    let store: Store;
    beforeAll(async () => {
      fx = await make();
      store = fx.store;
    });
    afterAll(async () => {
      await fx?.cleanup();
    });

    it("round-trips a Buffer and reports its size and sha256", async () => {
      const body = Buffer.from("hello, store\n");
      const put = await store.put("rt/buffer.txt", body, { contentType: "text/plain" });
      expect(put).toEqual({ key: "rt/buffer.txt", size: body.length, sha256: sha256(body) });
      expect(await readAll(await store.get("rt/buffer.txt"))).toEqual(body);
    });

    it("round-trips a 20 MB stream", async () => {
      const total = 20 * 1000 * 1000;
      const { stream, sha256: want } = bigStream(total);
      const put = await store.put("rt/big.bin", stream);
      expect(put.size).toBe(total);
      expect(put.sha256).toBe(want);
      const got = await readAll(await store.get("rt/big.bin"));
      expect(got.length).toBe(total);
      expect(sha256(got)).toBe(want);
      const head = await store.head("rt/big.bin");
      expect(head).toEqual({ key: "rt/big.bin", size: total, sha256: want });
    });

    it("put with the sender's sha256: stored when the bytes match it, refused with nothing kept when they do not", async () => {
      // 20 MB: several parts where the store uploads in parts; and a small body in one request.
      for (const total of [20 * 1000 * 1000, 1000]) {
        const good = bigStream(total);
        const put = await store.put(`known/${total}.bin`, good.stream, { sha256: good.sha256 });
        expect(put).toEqual({ key: `known/${total}.bin`, size: total, sha256: good.sha256 });
        expect(await store.head(`known/${total}.bin`)).toEqual({ key: `known/${total}.bin`, size: total, sha256: good.sha256 });
        expect(sha256(await readAll(await store.get(`known/${total}.bin`)))).toBe(good.sha256);

        const bad = bigStream(total);
        const claimed = "0".repeat(64);
        await expect(store.put(`known/bad-${total}.bin`, bad.stream, { sha256: claimed })).rejects.toThrow(
          new RegExp(`sha256 ${bad.sha256}, not ${claimed} as the sender said; nothing was stored`),
        );
        expect(await store.head(`known/bad-${total}.bin`)).toBeNull();
        // over an existing object: it stays as it was
        const other = bigStream(total);
        await expect(store.put(`known/${total}.bin`, other.stream, { sha256: claimed })).rejects.toThrow(/nothing was stored/);
        expect(sha256(await readAll(await store.get(`known/${total}.bin`)))).toBe(good.sha256);
      }
      // a Buffer with a wrong claim is refused too
      await expect(store.put("known/buf.bin", Buffer.from("abc"), { sha256: "1".repeat(64) })).rejects.toThrow(/nothing was stored/);
      expect(await store.head("known/buf.bin")).toBeNull();
    });

    it("round-trips an empty object", async () => {
      const put = await store.put("rt/empty", Buffer.alloc(0));
      expect(put.size).toBe(0);
      expect(put.sha256).toBe(sha256(Buffer.alloc(0)));
      expect((await readAll(await store.get("rt/empty"))).length).toBe(0);
    });

    it("is binary-safe", async () => {
      const body = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(4096)]);
      const put = await store.put("rt/binary.bin", Readable.from([body.subarray(0, 100), body.subarray(100)]));
      expect(put.sha256).toBe(sha256(body));
      expect(await readAll(await store.get("rt/binary.bin"))).toEqual(body);
    });

    it("overwrites an existing key", async () => {
      await store.put("ow/key", Buffer.from("first version"));
      const second = Buffer.from("second");
      const put = await store.put("ow/key", second);
      expect(put.size).toBe(second.length);
      expect(await readAll(await store.get("ow/key"))).toEqual(second);
      expect(await store.head("ow/key")).toEqual({ key: "ow/key", size: second.length, sha256: sha256(second) });
      expect((await store.list("ow/")).map((o) => o.key)).toEqual(["ow/key"]);
    });

    it("head returns null for a missing key", async () => {
      expect(await store.head("missing/nothing-here")).toBeNull();
    });

    it("get of a missing key throws a StoreError naming the key", async () => {
      const err = await store.get("missing/some-key.txt").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as Error).message).toContain("missing/some-key.txt");
    });

    it("delete removes the object and is idempotent", async () => {
      await store.put("del/a", Buffer.from("a"));
      await store.delete("del/a");
      expect(await store.head("del/a")).toBeNull();
      await expect(store.get("del/a")).rejects.toBeInstanceOf(StoreError);
      await store.delete("del/a");
      await store.delete("del/never-existed");
      expect(await store.list("del/")).toEqual([]);
    });

    it("lists every key under a prefix, nested, sorted, with sizes", async () => {
      const keys = ["ls/b/2.txt", "ls/a.txt", "ls/b/1.txt", "ls/b/c/deep/x", "ls/ab", "lsx/other", "ls/Z"];
      for (const k of keys) await store.put(k, Buffer.from(k));
      const all = await store.list("ls/");
      expect(all.map((o) => o.key)).toEqual(["ls/Z", "ls/a.txt", "ls/ab", "ls/b/1.txt", "ls/b/2.txt", "ls/b/c/deep/x"]);
      for (const o of all) {
        expect(o.size).toBe(Buffer.byteLength(o.key));
        expect(o.sha256).toBe(fx.listsSha256 ? sha256(Buffer.from(o.key)) : null);
      }
      expect((await store.list("ls/b/")).map((o) => o.key)).toEqual(["ls/b/1.txt", "ls/b/2.txt", "ls/b/c/deep/x"]);
      expect((await store.list("ls/a")).map((o) => o.key)).toEqual(["ls/a.txt", "ls/ab"]);
      expect((await store.list("ls")).map((o) => o.key)).toContain("lsx/other");
      expect(await store.list("ls/nothing/")).toEqual([]);
      const everything = (await store.list("")).map((o) => o.key);
      expect(everything).toEqual([...everything].sort());
      expect(everything).toEqual(expect.arrayContaining(keys));
    });

    it("lists more than one page of keys", async () => {
      const keys = Array.from({ length: 30 }, (_, i) => `many/${String(i).padStart(3, "0")}`);
      await Promise.all(keys.map((k) => store.put(k, Buffer.from(k))));
      expect((await store.list("many/")).map((o) => o.key)).toEqual(keys);
    });

    it("keeps the sha256 for head", async () => {
      const body = randomBytes(1000);
      await store.put("meta/x.bin", body);
      expect(await store.head("meta/x.bin")).toEqual({ key: "meta/x.bin", size: 1000, sha256: sha256(body) });
    });

    it.each(["", "/abs/key", "../up", "a/../b", "a/..", "..", "a\\b", "a//b", "a/", "./a", "a/./b"])(
      "rejects the bad key %j",
      async (key) => {
        await expect(store.put(key, Buffer.from("x"))).rejects.toBeInstanceOf(StoreError);
        await expect(store.get(key)).rejects.toBeInstanceOf(StoreError);
        await expect(store.head(key)).rejects.toBeInstanceOf(StoreError);
        await expect(store.delete(key)).rejects.toBeInstanceOf(StoreError);
      },
    );

    it("rejects bad list prefixes", async () => {
      await expect(store.list("/abs")).rejects.toBeInstanceOf(StoreError);
      await expect(store.list("a/../b")).rejects.toBeInstanceOf(StoreError);
      await expect(store.list("a\\b")).rejects.toBeInstanceOf(StoreError);
    });

    it("accepts unusual but valid key characters", async () => {
      const key = "odd/with space/ümlaut + plus=eq&amp;@at~tilde.txt";
      await store.put(key, Buffer.from("odd"));
      expect((await readAll(await store.get(key))).toString()).toBe("odd");
      expect((await store.list("odd/")).map((o) => o.key)).toEqual([key]);
    });

    it("presignGet returns a URL that downloads the object, or null where the store cannot make one", async () => {
      await store.put("pre/x", Buffer.from("presigned"));
      const url = await store.presignGet("pre/x", 60);
      if (!fx.presigns) {
        expect(url).toBeNull();
        return;
      }
      expect(url).toMatch(/^https?:\/\//);
      const res = await fetch(url!);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("presigned");
    });
  });
}
