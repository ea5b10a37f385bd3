/**
 * GitLab test kit: settings, the documented webhook payloads (test/fixtures/gitlab), a strict nock
 * scope on a fake GitLab that records every request (method, path, parsed body) and checks the
 * token on each, and GitLab's archive.tar.gz of a set of files.
 */
import fs from "node:fs";
import path from "node:path";
import nock from "nock";
import { wrappedTarball } from "../helpers/snapshot.js";
import type { GitLabConfig } from "../../app/config.js";
import type { RepoRef } from "../../app/contracts/forge.js";

export const GITLAB = "https://gitlab.example.com";
export const API = "/api/v4";
export const TOKEN = "glpat-test-token";
export const SECRET = "hook-secret-token";
/** A signing token as GitLab makes them: `whsec_` and 32 bytes in base64. */
export const SIGNING_TOKEN = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
export const PROJECT_ID = 5;
export const SHA = "a1".repeat(20);

export const repo: RepoRef = { forge: "gitlab", id: PROJECT_ID, fullName: "gitlab-org/gitlab-test", owner: "gitlab-org", name: "gitlab-test", installationId: 0 };
/** Paths under the project, as GitLab's API spells them. */
export const projectPath = `${API}/projects/${PROJECT_ID}`;

export function gitlabConfig(extra: Partial<GitLabConfig> = {}): GitLabConfig {
  return { url: GITLAB, token: TOKEN, webhookSecret: SECRET, signingToken: null, requestTimeoutMs: 2_000, reportIntervalMs: 200, ...extra };
}

const fixtures = path.resolve(import.meta.dirname, "../fixtures/gitlab");

/** A documented payload (test/fixtures/gitlab/<name>.json), copied. */
export function fixture(name: string): Record<string, any> {
  return JSON.parse(fs.readFileSync(path.join(fixtures, `${name}.json`), "utf8")) as Record<string, any>;
}

/** A comment on merge request !`iid` by `username`. */
export function notePayload(body: string, opts: { username?: string; userId?: number; iid?: number; noteId?: number; action?: string } = {}) {
  const p = fixture("note-merge-request");
  p["object_attributes"]["note"] = body;
  p["object_attributes"]["id"] = opts.noteId ?? 1244;
  if (opts.action !== undefined) p["object_attributes"]["action"] = opts.action;
  p["merge_request"]["iid"] = opts.iid ?? 1;
  p["user"]["username"] = opts.username ?? "root";
  p["user"]["id"] = opts.userId ?? 1;
  return p;
}

export interface Recorded {
  method: string;
  path: string;
  body: any;
}

/**
 * nock on the fake GitLab: `scope` answers each interceptor once and requires the token on every
 * request. `done()` fails unless every interceptor was used and no request to GitLab went
 * unmatched (the forge may turn nock's error into a ForgeError a test expects), then removes them.
 */
export function gitlabApi() {
  const requests: Recorded[] = [];
  const unmatched: string[] = [];
  const scope = nock(GITLAB, { reqheaders: { "private-token": TOKEN } });
  scope.on("request", (req: { method: string; path: string }, _i: unknown, body: string) => {
    let parsed: unknown = body;
    try {
      parsed = body ? JSON.parse(body) : undefined;
    } catch {
      // not JSON
    }
    requests.push({ method: req.method, path: req.path, body: parsed });
  });
  const onNoMatch = (req: { method?: string; path?: string; host?: string; hostname?: string }) => {
    unmatched.push(`${req.method} ${req.hostname ?? req.host ?? ""}${req.path ?? ""}`);
  };
  nock.emitter.on("no match", onNoMatch);
  return {
    scope,
    requests,
    done() {
      nock.emitter.removeListener("no match", onNoMatch);
      try {
        if (unmatched.length) throw new Error(`requests nothing matched: ${unmatched.join(", ")}`);
        scope.done();
      } finally {
        nock.cleanAll();
      }
    },
  };
}

/** Network off, but for loopback (the database, local servers). */
export function strictNet(): void {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
}

/** GitLab's archive.tar.gz: `files` under one `<project>-<sha>-<sha>/` folder. */
export function archiveOf(files: Record<string, string>, sha = SHA, project = "gitlab-test"): Promise<Buffer> {
  return wrappedTarball(files, `${project}-${sha}-${sha}`);
}
