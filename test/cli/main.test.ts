import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram, resolveVerbs } from "../../app/cli/main.js";
import { CliError } from "../../app/cli/errors.js";
import { runCli, tempDir } from "./helpers.js";

function program(): Command {
  return buildProgram(
    () => {
      throw new Error("not used");
    },
    () => {},
  );
}

describe("verb resolution", () => {
  it("expands unique prefixes and aliases", () => {
    const p = program();
    expect(resolveVerbs(p, ["ex", "r", "train", "--lr=1"])).toEqual(["exec", "run", "train", "--lr=1"]);
    expect(resolveVerbs(p, ["execution", "start", "train"])).toEqual(["exec", "run", "train"]);
    expect(resolveVerbs(p, ["EXEC", "OUT", "3"])).toEqual(["exec", "outputs", "3"]);
    expect(resolveVerbs(p, ["--url", "http://x", "proj", "cr", "demo"])).toEqual(["--url", "http://x", "project", "create", "demo"]);
    expect(resolveVerbs(p, ["project", "new", "demo"])).toEqual(["project", "create", "demo"]);
    expect(() => resolveVerbs(p, ["lo"])).toThrow(/"lo" is ambiguous: login, logout/);
  });

  it("finds a group from a bare leaf name", () => {
    expect(resolveVerbs(program(), ["link", "demo"])).toEqual(["project", "link", "demo"]);
  });

  it("stops at the step name: step words are never rewritten", () => {
    expect(resolveVerbs(program(), ["exec", "run", "list"])).toEqual(["exec", "run", "list"]);
  });
});

describe("main", () => {
  it("reports ambiguous verbs", async () => {
    const r = await runCli(["lo"], { cwd: tempDir() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('"lo" is ambiguous');
  });

  it("prints help and version without exiting the process", async () => {
    const help = await runCli(["--help"], { cwd: tempDir() });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: vh");
    expect(help.stdout).toContain("exec");
    const execHelp = await runCli(["exec", "--help"], { cwd: tempDir() });
    expect(execHelp.stdout).toContain("outputs");
    const version = await runCli(["--version"], { cwd: tempDir() });
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    const runHelp = await runCli(["exec", "run", "--help"], { cwd: tempDir() });
    expect(runHelp.code).toBe(0);
    expect(runHelp.stdout).toContain("--dry-run");
  });

  it("reports unknown commands and options through stderr with exit 1", async () => {
    const r = await runCli(["frobnicate"], { cwd: tempDir() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unknown command");
    const o = await runCli(["exec", "list", "--bogus"], { cwd: tempDir() });
    expect(o.code).toBe(1);
    expect(o.stderr).toContain("unknown option");
  });

  it("keeps CliError exit codes", () => {
    expect(new CliError("x", 2).exitCode).toBe(2);
  });
});
