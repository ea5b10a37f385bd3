import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { lstatSync, writeFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { list as tarList, extract, PackSync } from "tar";
import { afterEach, describe, expect, it } from "vitest";
import { VhError } from "../../app/errors.js";
import {
  adhocCommitId,
  disposePackage,
  packageDirectory,
  progressBar,
  selectFiles,
  type CodePackage,
} from "../../app/cli/packaging/index.js";

const temps: string[] = [];
afterEach(async () => {
  await Promise.all(temps.splice(0).map((d) => fs.rm(d, { recursive: true, force: true })));
});

async function tree(files: Record<string, string | Buffer>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "vh-pkg-test-"));
  temps.push(dir);
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    await fs.mkdir(path.dirname(p), { recursive: true });
    await fs.writeFile(p, content);
  }
  return dir;
}

async function archiveBytes(pkg: CodePackage): Promise<Buffer> {
  return typeof pkg.archive === "string" ? fs.readFile(pkg.archive) : pkg.archive;
}

async function selected(files: Record<string, string>): Promise<string[]> {
  return (await selectFiles(await tree(files))).files;
}

describe("file selection", () => {
  it("uses .gitignore and .dockerignore when there is no .vhignore or .gridignore", async () => {
    expect(
      await selected({
        ".gitignore": "*.log\n",
        ".dockerignore": "secret.txt\n",
        "a.py": "",
        "run.log": "",
        "secret.txt": "",
        ".env": "dot-files are packaged unless ignored",
        "node_modules/x/index.js": "",
      }),
    ).toEqual([".dockerignore", ".env", ".gitignore", "a.py", "node_modules/x/index.js"]);
  });

  it(".gridignore beats .gitignore and .dockerignore", async () => {
    expect(
      await selected({
        ".gridignore": "*.csv\n",
        ".gitignore": "*.log\n",
        ".dockerignore": "*.txt\n",
        "a.csv": "",
        "a.log": "",
        "a.txt": "",
        "sub/.gitignore": "*\n",
        "sub/b.csv": "",
        "sub/b.py": "",
      }),
    ).toEqual([".dockerignore", ".gitignore", ".gridignore", "a.log", "a.txt", "sub/.gitignore", "sub/b.py"]);
  });

  it(".vhignore beats .gridignore and .gitignore", async () => {
    expect(
      await selected({
        ".vhignore": "data/\n.gridignore\n",
        ".gridignore": "*.py\n",
        ".gitignore": "*.py\n",
        "train.py": "",
        "data/big.bin": "",
        "sub/.gridignore": "*\n",
        "sub/keep.py": "",
      }),
    ).toEqual([".gitignore", ".vhignore", "sub/keep.py", "train.py"]);
  });

  it("applies nested ignore files relative to their folder", async () => {
    expect(
      await selected({
        ".gitignore": "/out\n",
        "out/x": "",
        "a/out/y": "", // root rule is anchored: a/out is kept
        "a/.gitignore": "*.tmp\n/local-only\n",
        "a/b.tmp": "",
        "a/c.py": "",
        "a/local-only/z": "",
        "a/deeper/local-only/w": "", // anchored to a/, so a/deeper/local-only is kept
        "a/deeper/d.tmp": "",
        "other/e.tmp": "", // a/.gitignore does not reach sibling folders
      }),
    ).toEqual([".gitignore", "a/.gitignore", "a/c.py", "a/deeper/local-only/w", "a/out/y", "other/e.tmp"]);
  });

  it("supports ! negation, also from a deeper ignore file", async () => {
    expect(
      await selected({
        ".gitignore": "*.log\n!keep.log\nbuild/\n!build/\n",
        "a.log": "",
        "keep.log": "",
        "sub/b.log": "",
        "sub/keep.log": "",
        "sub/.gitignore": "!b.log\n",
        "build/out.js": "",
      }),
    ).toEqual([".gitignore", "build/out.js", "keep.log", "sub/.gitignore", "sub/b.log", "sub/keep.log"]);
  });

  it("cannot re-include a file inside an excluded folder, as in git", async () => {
    expect(await selected({ ".gitignore": "data/\n!data/keep.txt\n", "data/keep.txt": "", "x": "" })).toEqual([
      ".gitignore",
      "x",
    ]);
  });

  it("is case-sensitive, as git on Linux", async () => {
    expect(await selected({ ".gitignore": "*.LOG\n", "a.log": "", "b.LOG": "" })).toEqual([".gitignore", "a.log"]);
  });

  it("always skips .git and .vh, and skips symlinks with a warning", async () => {
    const dir = await tree({ ".git/HEAD": "ref", ".vh/store/x": "", "sub/.git": "gitdir: ..", "a.py": "print(1)" });
    await fs.symlink(path.join(dir, "a.py"), path.join(dir, "link.py"));
    await fs.symlink("/etc", path.join(dir, "escape"));
    const sel = await selectFiles(dir);
    expect(sel.files).toEqual(["a.py"]);
    expect(sel.warnings).toHaveLength(2);
    expect(sel.warnings.join("\n")).toMatch(/symlink escape/);
    expect(sel.warnings.join("\n")).toMatch(/symlink link\.py/);
  });

  it("gives no warning for an ignored symlink", async () => {
    const dir = await tree({ ".gitignore": "link\n", "a": "" });
    await fs.symlink("a", path.join(dir, "link"));
    expect((await selectFiles(dir)).warnings).toEqual([]);
  });
});

describe("limits", () => {
  it("refuses more files than maxFiles, saying how many and suggesting a .vhignore", async () => {
    const files: Record<string, string> = { "top.py": "" };
    for (let i = 0; i < 8; i++) files[`data/${i}.csv`] = "";
    for (let i = 0; i < 3; i++) files[`src/${i}.py`] = "";
    const dir = await tree(files);
    const err = await packageDirectory(dir, { maxFiles: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VhError);
    expect((err as VhError).code).toBe("too_large");
    expect((err as VhError).message).toContain("12 files");
    expect((err as VhError).message).toContain("limit is 10");
    expect((err as VhError).message).toContain(".vhignore");
    expect((err as VhError).message).toContain("data/ (8)");
    await expect(packageDirectory(dir, { maxFiles: 12 })).resolves.toMatchObject({ files: expect.any(Array) });
  });

  it("refuses a total size at or over maxBytes", async () => {
    const dir = await tree({ "a.bin": Buffer.alloc(600), "b.bin": Buffer.alloc(400) });
    const err = await packageDirectory(dir, { maxBytes: 1000 }).catch((e: unknown) => e);
    expect((err as VhError).code).toBe("too_large");
    expect((await packageDirectory(dir, { maxBytes: 1001 })).totalBytes).toBe(1000);
  });

  it("warns about files of 50 MiB or more and totals of 150 MiB or more", async () => {
    const dir = await tree({ "small.txt": "x" });
    const big = Buffer.alloc(50 * 1024 * 1024);
    for (const name of ["a.bin", "b.bin", "c.bin"]) await fs.writeFile(path.join(dir, name), big);
    const pkg = await packageDirectory(dir);
    try {
      expect(pkg.warnings.filter((w) => w.startsWith("Large file"))).toHaveLength(3);
      expect(pkg.warnings.some((w) => w.includes("150 MiB or more"))).toBe(true);
    } finally {
      await disposePackage(pkg);
    }
  });
});

describe("archive", () => {
  const files = {
    ".gitignore": "*.pyc\n",
    "train.py": "print('hi')\n",
    "cache.pyc": "junk",
    "lib/util.py": "X = 1\n",
    "lib/deep/er/data.json": '{"a": 1}',
    "scripts/run.sh": "#!/bin/sh\necho run\n",
    "bin.dat": Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
    [`long/${"d".repeat(120)}/${"f".repeat(120)}.txt`]: "long path",
    "@at-sign.txt": "not an archive reference",
  };

  it("extracts to exactly the selected files, with contents and executable bits", async () => {
    const dir = await tree(files);
    await fs.chmod(path.join(dir, "scripts/run.sh"), 0o775);
    const pkg = await packageDirectory(dir);
    const wanted = Object.keys(files).filter((f) => f !== "cache.pyc").sort();
    expect(pkg.files).toEqual(wanted);
    expect(pkg.totalBytes).toBe(
      wanted.reduce((n, f) => n + Buffer.byteLength(files[f as keyof typeof files] as string | Buffer), 0),
    );
    const bytes = await archiveBytes(pkg);
    expect(pkg.size).toBe(bytes.length);
    expect(pkg.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    expect(adhocCommitId(pkg)).toBe(`~${pkg.sha256}`);

    const out = await fs.mkdtemp(path.join(os.tmpdir(), "vh-pkg-out-"));
    temps.push(out);
    await fs.writeFile(path.join(out, "code.tgz"), bytes);
    const dest = path.join(out, "x");
    await fs.mkdir(dest);
    await extract({ file: path.join(out, "code.tgz"), cwd: dest });
    const extracted = (await fs.readdir(dest, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => path.relative(dest, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
      .sort();
    expect(extracted).toEqual(wanted);
    for (const f of wanted) {
      expect(await fs.readFile(path.join(dest, f))).toEqual(Buffer.from(files[f as keyof typeof files] as string | Buffer));
    }
    const entries: { path: string; mode: number; mtime: number; uid: number | undefined }[] = [];
    await tarList({
      file: path.join(out, "code.tgz"),
      onReadEntry: (e) => entries.push({ path: e.path, mode: e.mode ?? -1, mtime: e.mtime?.getTime() ?? -1, uid: e.uid }),
    });
    expect(entries.map((e) => e.path)).toEqual(wanted);
    for (const e of entries) {
      expect(e.mode).toBe(e.path === "scripts/run.sh" ? 0o755 : 0o644);
      expect(e.mtime).toBe(0);
    }
    // gzip header: mtime 0
    expect(bytes.readUInt32LE(4)).toBe(0);
  });

  it("is deterministic: timestamps, umask and hard links do not change the sha256; content does", async () => {
    const dir = await tree(files);
    const first = await packageDirectory(dir);
    // touch every file, change group/other permission bits, hard-link one file
    const later = new Date("2030-01-01T00:00:00Z");
    for (const f of first.files) {
      await fs.utimes(path.join(dir, f), later, later);
      await fs.chmod(path.join(dir, f), 0o664);
    }
    await fs.link(path.join(dir, "train.py"), path.join(dir, "cache.pyc.hardlink.pyc"));
    const second = await packageDirectory(dir);
    expect(second.sha256).toBe(first.sha256);
    expect(await archiveBytes(second)).toEqual(await archiveBytes(first));

    // the same files in a fresh directory created in another order
    const reversed = Object.fromEntries(Object.entries(files).reverse());
    expect((await packageDirectory(await tree(reversed))).sha256).toBe(first.sha256);

    await fs.writeFile(path.join(dir, "lib/util.py"), "X = 2\n");
    expect((await packageDirectory(dir)).sha256).not.toBe(first.sha256);
    await fs.writeFile(path.join(dir, "lib/util.py"), "X = 1\n");
    expect((await packageDirectory(dir)).sha256).toBe(first.sha256);
    await fs.chmod(path.join(dir, "lib/util.py"), 0o755);
    expect((await packageDirectory(dir)).sha256).not.toBe(first.sha256);
  });

  it("writes exactly the bytes node-tar's portable writer does (long and non-ASCII paths, empty, block-sized and multi-MiB files)", async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 77);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i * 2654435761 >>> 0, i);
    const dir = await tree({
      ...files,
      "empty.txt": "",
      "block.bin": Buffer.alloc(512, 7),
      "big/weights.bin": big,
      "ünïcödé/名前.txt": "unicode",
      [`${"p".repeat(99)}/${"q".repeat(99)}/${"r".repeat(60)}`]: "prefix split",
    });
    await fs.chmod(path.join(dir, "scripts/run.sh"), 0o700);
    const pkg = await packageDirectory(dir);
    // the reference: node-tar's PackSync over the same list, modes and mtime normalised the same way
    const statCache = new Map<string, import("node:fs").Stats>();
    for (const rel of pkg.files) {
      const st = lstatSync(path.join(dir, rel));
      st.mode = (st.mode & 0o170000) | (st.mode & 0o111 ? 0o755 : 0o644);
      st.nlink = 1;
      statCache.set(path.resolve(dir, rel), st);
    }
    const chunks: Buffer[] = [];
    const ref = new PackSync({ cwd: dir, portable: true, gzip: { level: 6 }, mtime: new Date(0), statCache });
    ref.on("data", (c: Buffer) => chunks.push(c));
    for (const rel of pkg.files) ref.add(rel);
    ref.end();
    // compared by where they first differ (a diff of megabytes would say nothing useful)
    const firstDifference = (a: Buffer, b: Buffer) => {
      for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return { at: i, block: Math.floor(i / 512), mine: a.subarray(i - (i % 512), i - (i % 512) + 100).toString("latin1"), nodeTar: b.subarray(i - (i % 512), i - (i % 512) + 100).toString("latin1") };
      return null;
    };
    expect(firstDifference(gunzipSync(await archiveBytes(pkg)), gunzipSync(Buffer.concat(chunks)))).toBeNull();
    expect(firstDifference(await archiveBytes(pkg), Buffer.concat(chunks))).toBeNull();
  });

  it("refuses a file that grew or shrank between listing and reading, saying which", async () => {
    const dir = await tree(files);
    const pkg = packageDirectory(dir, {
      onProgress: (done) => {
        if (done === 1) writeFileSync(path.join(dir, "train.py"), "print('a much longer file now')\n");
      },
    });
    await expect(pkg).rejects.toThrow(/train\.py was 12 bytes when listed and is longer now/);
  });

  it("writes large archives to a temp file with the same bytes", async () => {
    const dir = await tree(files);
    const inMemory = await packageDirectory(dir);
    const onDisk = await packageDirectory(dir, { inMemoryMaxBytes: 100 });
    expect(typeof onDisk.archive).toBe("string");
    expect(onDisk.sha256).toBe(inMemory.sha256);
    expect(await archiveBytes(onDisk)).toEqual(inMemory.archive);
    await disposePackage(onDisk);
    await expect(fs.stat(onDisk.archive as string)).rejects.toThrow();
  });

  it("reports progress for every file", async () => {
    const dir = await tree(files);
    const calls: [number, number][] = [];
    const pkg = await packageDirectory(dir, { onProgress: (done, total) => calls.push([done, total]) });
    expect(calls).toHaveLength(pkg.files.length);
    expect(calls.at(-1)).toEqual([pkg.files.length, pkg.files.length]);
  });

  it("packages an empty directory as a valid empty archive", async () => {
    const pkg = await packageDirectory(await tree({}));
    expect(pkg.files).toEqual([]);
    expect(pkg.size).toBeGreaterThan(0);
  });

  it("refuses a path that is not a directory", async () => {
    const dir = await tree({ "f": "" });
    await expect(packageDirectory(path.join(dir, "f"))).rejects.toThrow(/not a directory/);
  });
});

describe("progressBar", () => {
  it("is a no-op when the stream is not a terminal", () => {
    const writes: string[] = [];
    const fake = { isTTY: false, write: (s: string) => writes.push(s) } as unknown as NodeJS.WriteStream;
    const bar = progressBar(10, fake);
    bar.update(5);
    bar.stop();
    expect(writes).toEqual([]);
  });
});
