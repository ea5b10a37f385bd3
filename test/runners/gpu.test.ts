import { describe, expect, it } from "vitest";
import { parseCudaVersion, parseGpuQuery } from "../../worker/runners/shared/gpu.js";

describe("parseGpuQuery", () => {
  it("parses one row per GPU", () => {
    const text = "0, GPU-5b0c6d5e-1111, NVIDIA A100-SXM4-80GB, 81920, 535.104.05\n1, GPU-5b0c6d5e-2222, NVIDIA A100-SXM4-80GB, 81920, 535.104.05\n";
    expect(parseGpuQuery(text)).toEqual([
      { index: 0, uuid: "GPU-5b0c6d5e-1111", name: "NVIDIA A100-SXM4-80GB", memoryMiB: 81920, driverVersion: "535.104.05" },
      { index: 1, uuid: "GPU-5b0c6d5e-2222", name: "NVIDIA A100-SXM4-80GB", memoryMiB: 81920, driverVersion: "535.104.05" },
    ]);
  });

  it("normalises [N/A], N/A and [Not Supported] fields", () => {
    expect(parseGpuQuery("0, [N/A], NVIDIA GeForce RTX 3060, [N/A], [Not Supported]\n1, GPU-x, N/A, 12288, N/A")).toEqual([
      { index: 0, uuid: "", name: "NVIDIA GeForce RTX 3060", memoryMiB: 0, driverVersion: "" },
      { index: 1, uuid: "GPU-x", name: "", memoryMiB: 12288, driverVersion: "" },
    ]);
  });

  it("skips malformed lines and keeps the good ones, sorted by index", () => {
    const text = [
      "",
      "garbage",
      "1, GPU-b, Tesla T4, 15360, 470.82.01\r",
      "x, GPU-c, Tesla T4, 15360, 470.82.01",
      "2, GPU-d, Tesla T4",
      "3, GPU-e, Tesla T4, lots, 470.82.01",
      "0, GPU-a, Tesla T4, 15360, 470.82.01",
    ].join("\n");
    expect(parseGpuQuery(text).map((g) => g.uuid)).toEqual(["GPU-a", "GPU-b"]);
  });

  it("keeps a name with a comma whole", () => {
    expect(parseGpuQuery("0, GPU-a, Weird, Name, 1024, 1.0")[0]?.name).toBe("Weird, Name");
  });

  it("returns no GPUs for error text or an empty answer", () => {
    expect(
      parseGpuQuery(
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n",
      ),
    ).toEqual([]);
    expect(parseGpuQuery("No devices were found\n")).toEqual([]);
    expect(parseGpuQuery("")).toEqual([]);
  });
});

describe("parseCudaVersion", () => {
  it("reads the banner", () => {
    const banner = [
      "+-----------------------------------------------------------------------------------------+",
      "| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |",
      "|-----------------------------------------+------------------------+----------------------+",
    ].join("\n");
    expect(parseCudaVersion(banner)).toBe("12.4");
  });

  it("returns null without a version", () => {
    expect(parseCudaVersion("| NVIDIA-SMI 550.54.15  Driver Version: 550.54.15  CUDA Version: N/A |")).toBeNull();
    expect(parseCudaVersion("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.")).toBeNull();
    expect(parseCudaVersion("")).toBeNull();
  });
});
