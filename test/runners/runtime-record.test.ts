/**
 * What an execution's `runtime` record says ran (worker/launch-spec.ts): in docker mode the image;
 * as a plain process, the image named but marked not used with the reason, and what the step saw
 * at /valohai as the runner recorded it in the handle.
 */
import { describe, expect, it } from "vitest";
import { runtimeRecord } from "../../worker/launch-spec.js";
import type { HostInfo, LaunchResult } from "../../app/contracts/runner.js";

const host: HostInfo = {
  hostname: "gpu-1", os: "Debian", kernel: "6.1", arch: "x86_64", cpuModel: "x", cpuCount: 8, memoryBytes: 1, gpus: [], cudaVersion: null, dockerAvailable: false,
};
const launched = (mode: "docker" | "process", valohai?: unknown): LaunchResult => ({
  handle: { runner: "local", host: "gpu-1", workDir: "/w/e", ...(valohai ? { valohai } : {}) },
  mode,
  inputs: [],
});

describe("the runtime record", () => {
  it("a plain process: the image is named and marked not used, with why; /valohai as the runner says", () => {
    const view = { provided: true, how: "mount-namespace" };
    expect(runtimeRecord({ result: launched("process", view), runner: "local", host, hostName: "gpu-1", image: "python:3.12", docker: "auto" })).toEqual({
      mode: "process",
      runner: "local",
      host,
      imageDigest: null,
      image: { name: "python:3.12", used: false, note: "not used: Docker is not available on gpu-1, so the step ran as a plain process with gpu-1's own programs" },
      valohai: view,
      fingerprint: { status: "pending", since: expect.any(String) },
      seed: null,
    });
    const never = runtimeRecord({ result: launched("process", { provided: false, reason: "r" }), runner: "local", host: { ...host, dockerAvailable: true }, hostName: "gpu-1", image: "img", docker: "never" });
    expect(never.image).toEqual({ name: "img", used: false, note: "not used: VH_DOCKER=never, so the step ran as a plain process with gpu-1's own programs" });
    expect(never.valohai).toEqual({ provided: false, reason: "r" });
  });

  it("docker: the image used, /valohai from the container's mounts; a handle that says nothing gives null", () => {
    const d = runtimeRecord({ result: { ...launched("docker"), imageDigest: "sha256:abc" }, runner: "ssh", host: { ...host, dockerAvailable: true }, hostName: "gpu-1", image: "img", docker: "auto" });
    expect(d).toMatchObject({ mode: "docker", imageDigest: "sha256:abc", image: { name: "img", used: true }, valohai: { provided: true, how: "docker" } });
    expect(runtimeRecord({ result: launched("process"), runner: "ec2", host, hostName: "h", image: "img", docker: "auto" }).valohai).toBeNull();
  });
});
