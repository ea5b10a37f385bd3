/**
 * Least privilege, checked: app.yml asks for exactly the permissions of the calls and events in
 * app/forges/github/permissions.ts; that table names every REST call the forge's code makes and no
 * other; the events are the ones vh handles; and each event's permission is at least what GitHub's
 * own webhook descriptions (@octokit/openapi-webhooks-types, generated from GitHub's OpenAPI spec) say.
 */
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import YAML from "yaml";
import { describe, expect, it } from "vitest";
import { ALWAYS_DELIVERED, API_CALLS, EVENTS, requiredPermissions } from "../../app/forges/github/permissions.js";
import { GITHUB_HANDLED_EVENTS } from "../../app/forges/registry.js";
import { readAppManifest } from "../../app/forges/github/manifest.js";

const root = path.resolve(import.meta.dirname, "../..");
const manifest = readAppManifest(path.join(root, "app.yml"));

/** Every `req("METHOD /path"` in the forge's code: the REST calls it makes. */
function callsInForge(): string[] {
  const dir = path.join(root, "app/forges/github");
  const calls = new Set<string>();
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith(".ts"))) {
    const text = fs.readFileSync(path.join(dir, f), "utf8");
    for (const m of text.matchAll(/\breq\(\s*"((?:GET|POST|PATCH|PUT|DELETE) \/[^"]+)"/g)) calls.add(m[1]!);
  }
  return [...calls].sort();
}

describe("the App's permissions", () => {
  it("app.yml asks for exactly what the forge's calls and events need", () => {
    expect(manifest.default_permissions).toEqual(requiredPermissions());
    // the check that matters most: vh writes issue comments and check runs, never pull requests
    expect(manifest.default_permissions).toEqual({ checks: "write", contents: "read", issues: "write", pull_requests: "read", metadata: "read" });
  });

  it("the table names every REST call the forge makes, and only those", () => {
    const calls = callsInForge();
    expect(calls.length).toBeGreaterThan(8);
    expect(calls).toEqual(Object.keys(API_CALLS).sort());
  });

  it("app.yml subscribes to exactly the events vh handles (less the two every App gets) and the table lists them", () => {
    const handled = [...GITHUB_HANDLED_EVENTS].filter((e) => !(ALWAYS_DELIVERED as readonly string[]).includes(e)).sort();
    expect([...manifest.default_events].sort()).toEqual(handled);
    expect(Object.keys(EVENTS).sort()).toEqual(handled);
    for (const e of ALWAYS_DELIVERED) expect(GITHUB_HANDLED_EVENTS.has(e)).toBe(true);
  });

  it("each event's permission is at least what GitHub's webhook descriptions require", () => {
    const require = createRequire(import.meta.url);
    const types = fs.readFileSync(require.resolve("@octokit/openapi-webhooks-types/types.d.ts"), "utf8");
    const lines = types.slice(types.indexOf("export interface webhooks {")).split("\n");
    const needs = new Map<string, { permission: string; write: boolean }[]>();
    // each `post: operations["check-run/created"]` follows the doc comment of its event
    let doc = "";
    for (const line of lines) {
      const t = line.trim();
      if (t.startsWith("/**")) doc = "";
      else if (t.startsWith("*") && !t.startsWith("*/")) doc += " " + t.replace(/^\*\s?/, "");
      const m = /^post: operations\["([^"]+)"\];$/.exec(t);
      if (!m) continue;
      const event = m[1]!.split("/")[0]!.replace(/-/g, "_");
      const read = /must have at least read-level access for the "([^"]+)"/.exec(doc);
      if (!read) continue;
      const write = new RegExp(`at least write-level access for the "${read[1]}"`).test(doc);
      (needs.get(event) ?? needs.set(event, []).get(event)!).push({ permission: read[1]!, write });
    }
    const names: Record<string, string> = { checks: "Checks", contents: "Contents", issues: "Issues", pull_requests: "Pull requests", metadata: "Metadata" };
    for (const [event, need] of Object.entries(EVENTS)) {
      const github = needs.get(event);
      expect(github, `GitHub's description of ${event}`).toBeDefined();
      for (const g of github!) {
        expect(g.permission, event).toBe(names[need.permission]);
        // check_run's requested_action and rerequested, check_suite's re-runs: write, which vh uses
        if (g.write) expect(need.access, `${event} needs write for the actions vh handles`).toBe("write");
      }
    }
    for (const e of ALWAYS_DELIVERED) expect(needs.has(e), `${e} needs no permission`).toBe(false);
  });

  it("the manifest file is GitHub's shape: private, placeholder URLs only", () => {
    const raw = YAML.parse(fs.readFileSync(path.join(root, "app.yml"), "utf8")) as Record<string, unknown>;
    expect(raw["public"]).toBe(false);
    expect(manifest.hook_attributes.url.endsWith("/api/github/webhooks")).toBe(true);
  });
});
