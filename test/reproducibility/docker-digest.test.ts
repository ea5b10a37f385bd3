/**
 * The image digest of a step run by Docker (worker/runners/shared/fingerprint.ts, docker probe):
 * the job's prologue, as a real /bin/sh runs it, asks `docker image inspect` for the image's
 * RepoDigests and id (pulling a missing image first, as `docker run` would), then runs the step;
 * the record (worker/launch-spec.ts fingerprintPatch) names the digest, and a reproduction runs
 * `repository@digest` (app/executions/reproduce.ts pinnedImage). There is no Docker daemon on
 * these machines, so `docker` is a program of the test's own on PATH that answers as the CLI does
 * and logs each call: everything on our side of that boundary is real.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fingerprintPatch } from "../../worker/launch-spec.js";
import { imageDigestOf, withFingerprint } from "../../worker/runners/shared/fingerprint.js";
import { pinnedImage } from "../../app/executions/reproduce.js";
import { fakeBin } from "./helpers.js";

const OWN = "a".repeat(64);
const MIRROR = "b".repeat(64);
const ID = "c".repeat(64);

describe("the image digest of a Docker step", () => {
  let root: string;
  let bin: string;
  const calls = () => fs.readFileSync(path.join(root, "calls"), "utf8").trim().split("\n");

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "vh-docker-digest-"));
    // `docker image inspect -- IMG` fails until `docker pull -- IMG` ran; with --format it prints
    // what the real CLI prints for '{{json .RepoDigests}} {{.Id}}'. Each call is logged, one per line.
    bin = await fakeBin(path.join(root, "bin"), {
      docker: `
printf '%s\\n' "$*" >> ${JSON.stringify(path.join(root, "calls"))}
img=""; for a in "$@"; do img="$a"; done
state=${JSON.stringify(path.join(root, "pulled"))}
case "$1 $2" in
  "image inspect")
    if [ "$img" = "broken:1" ]; then echo "Error response from daemon: no such image: broken:1" >&2; exit 1; fi
    [ -f "$state" ] || { echo "Error: No such image: $img" >&2; exit 1; }
    case "$*" in *--format*) printf '%s\\n' '["registry.example.com/team/python@sha256:${MIRROR}","python@sha256:${OWN}"] sha256:${ID}';; *) echo '[{}]';; esac ;;
  "pull --") echo "Pulling from library/python"; touch "$state" ;;
  *) echo "unexpected docker call: $*" >&2; exit 2 ;;
esac`,
    });
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  function runJob(image: string, step: string[]) {
    const out = path.join(root, `fp-${Math.random().toString(36).slice(2)}.out`);
    const argv = withFingerprint(step, { kind: "docker", image, nonce: "0123456789abcdef" }, out);
    const r = spawnSync(argv[0]!, argv.slice(1), { env: { ...process.env, PATH: `${bin}:${process.env["PATH"]}` }, encoding: "utf8", timeout: 30_000 });
    return { ...r, fingerprint: fs.readFileSync(out, "utf8") };
  }

  it("pulls a missing image, records its own repository's digest and id, then runs the step", () => {
    const r = runJob("python:3.12", ["/bin/sh", "-c", "echo step ran"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe("step ran\n");
    // the pull's progress goes to the step's stderr, as `docker run`'s would
    expect(r.stderr).toContain("Pulling from library/python");
    expect(calls()).toEqual(["image inspect -- python:3.12", "pull -- python:3.12", "image inspect --format {{json .RepoDigests}} {{.Id}} -- python:3.12"]);
    const patch = fingerprintPatch(r.fingerprint, { command: "echo step ran", image: "python:3.12", mode: "docker", env: {} });
    expect(patch.imageDigest).toBe(`sha256:${OWN}`);
    expect(patch.image).toEqual({
      name: "python:3.12",
      used: true,
      id: `sha256:${ID}`,
      repoDigests: [`registry.example.com/team/python@sha256:${MIRROR}`, `python@sha256:${OWN}`],
    });
    // a reproduction runs exactly that image, whatever the tag points at by then
    expect(pinnedImage("python:3.12", { imageDigest: patch.imageDigest })).toBe(`python@sha256:${OWN}`);
  });

  it("an image already present is not pulled again", () => {
    fs.writeFileSync(path.join(root, "calls"), "");
    const r = runJob("python:3.12", ["/bin/sh", "-c", "true"]);
    expect(r.status, r.stderr).toBe(0);
    expect(calls().filter((c) => c.startsWith("pull"))).toEqual([]);
  });

  it("when docker cannot say, the record says why and has no digest; the step still runs", () => {
    const r = runJob("broken:1", ["/bin/sh", "-c", "echo still ran"]);
    expect(r.stdout).toBe("still ran\n");
    const patch = fingerprintPatch(r.fingerprint, { command: "echo still ran", image: "broken:1", mode: "docker", env: {} });
    expect(patch.imageDigest).toBeNull();
    expect(patch.fingerprint).toMatchObject({ status: "recorded", docker: { repoDigests: [], imageId: null, error: expect.stringContaining("no such image: broken:1") } });
    expect(pinnedImage("broken:1", { imageDigest: patch.imageDigest })).toBe("broken:1");
  });

  it("an image name is one word to docker, never shell text", () => {
    const marker = path.join(root, "pwned");
    const image = `python:3.12;touch ${marker};$(touch ${marker})`;
    fs.writeFileSync(path.join(root, "calls"), "");
    runJob(image, ["/bin/sh", "-c", "true"]);
    expect(fs.existsSync(marker)).toBe(false);
    expect(calls()[0]).toBe(`image inspect -- ${image}`);
  });

  it("picks the digest of the image's own repository: exact, then Docker Hub's long name, then a registry path ending in it", () => {
    const d = (repoDigests: string[], imageId: string | null = null) => ({ repoDigests, imageId });
    expect(imageDigestOf("python:3.12", d([`docker.io/library/python@sha256:${OWN}`, `mirror.example.com/python@sha256:${MIRROR}`]))).toBe(`sha256:${OWN}`);
    expect(imageDigestOf("ghcr.io/acme/train:1", d([`acme/train@sha256:${MIRROR}`, `ghcr.io/acme/train@sha256:${OWN}`]))).toBe(`sha256:${OWN}`);
    expect(imageDigestOf("train:1", d([`ghcr.io/acme/train@sha256:${OWN}`]))).toBe(`sha256:${OWN}`);
    // built here, never pushed: no repo digest, so the image id is what names it
    expect(imageDigestOf("local-build:dev", d([], `sha256:${ID}`))).toBe(`sha256:${ID}`);
    expect(imageDigestOf("python:3.12", undefined)).toBeNull();
  });
});
