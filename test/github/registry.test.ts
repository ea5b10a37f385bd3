import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { forges } from "../../app/forges/registry.js";
import { loadConfig } from "../../app/config.js";
import { createLogger } from "../../app/log.js";
import { NOT_CONFIGURED_MESSAGE } from "../../app/forges/not-configured/index.js";

const dir = path.resolve(import.meta.dirname, "../../app/forges");

describe("forge registry", () => {
  it("has one key per forge folder, and every folder has an entry (index.ts) and a contract note (readme.md)", () => {
    const folders = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    expect(Object.keys(forges).sort()).toEqual(folders);
    for (const f of folders) expect(fs.readdirSync(path.join(dir, f))).toEqual(expect.arrayContaining(["index.ts", "readme.md"]));
  });

  it("the not-configured forge fails with the settings to set", async () => {
    const config = loadConfig({ VH_DATA_DIR: "/tmp/x" });
    expect(config.github).toBeNull();
    const provider = forges.github({ config, log: createLogger("silent") });
    expect(provider.kind).toBe("not-configured");
    await expect(provider.forInstallation(1)).rejects.toThrow(NOT_CONFIGURED_MESSAGE);
  });
});
