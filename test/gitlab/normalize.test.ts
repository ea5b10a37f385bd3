/** GitLab payloads (docs.gitlab.com's examples, test/fixtures/gitlab) → forge-neutral events. */
import { describe, expect, it } from "vitest";
import { isBotUsername, normalizeGitLab } from "../../app/forges/gitlab/normalize.js";
import { fixture, notePayload } from "./helpers.js";

const repo = { forge: "gitlab", id: 5, fullName: "gitlab-org/gitlab-test", owner: "gitlab-org", name: "gitlab-test", installationId: 0 };

describe("normalizeGitLab", () => {
  it("a note on a merge request is a comment on its iid", () => {
    expect(normalizeGitLab("Note Hook", fixture("note-merge-request"))).toEqual({
      kind: "comment",
      action: "created",
      repo,
      pr: 1,
      issue: 1,
      comment: {
        id: 1244,
        body: "This MR needs work.",
        url: "http://example.com/gitlab-org/gitlab-test/merge_requests/1#note_1244",
        author: { login: "root", id: 1, isBot: false },
      },
      // GitLab's own time format (`2015-05-17 18:21:36 UTC`), and the merge request's head as the note saw it.
      commentedAt: new Date("2015-05-17T18:21:36Z"),
      headSha: "562e173be03b8ff2efb05345d12df18815438a4b",
    });
  });

  it("an edited note is an edited comment; a note from before GitLab 16.11 (no action, no user id) is a new one", () => {
    const edited = normalizeGitLab("Note Hook", notePayload("/vh run train", { action: "update" }));
    expect(edited).toMatchObject({ kind: "comment", action: "edited", comment: { body: "/vh run train" } });
    const old = notePayload("/vh run train");
    delete old["object_attributes"]["action"];
    delete old["user"]["id"];
    old["object_attributes"]["author_id"] = 42;
    expect(normalizeGitLab("Note Hook", old)).toMatchObject({ kind: "comment", action: "created", comment: { author: { login: "root", id: 42 } } });
  });

  it("a repository in a subgroup: owner is the namespace's full path", () => {
    const p = fixture("note-merge-request");
    p["project"]["path_with_namespace"] = "acme/ml/vision/detector";
    p["project"]["id"] = 77;
    const ev = normalizeGitLab("Note Hook", p);
    expect(ev).toMatchObject({ repo: { forge: "gitlab", id: 77, fullName: "acme/ml/vision/detector", owner: "acme/ml/vision", name: "detector", installationId: 0 } });
  });

  it.each([
    ["note-issue", "Issue"],
    ["note-commit", "Commit"],
    ["note-snippet", "Snippet"],
  ])("a note on an issue, a commit or a snippet is ignored (%s)", (name, type) => {
    expect(normalizeGitLab("Note Hook", fixture(name))).toEqual({ kind: "ignore", reason: `Note Hook: a note on a ${type}, not a merge request` });
  });

  it("system notes are ignored", () => {
    const p = fixture("note-merge-request");
    p["object_attributes"]["system"] = true;
    expect(normalizeGitLab("Note Hook", p)).toEqual({ kind: "ignore", reason: "Note Hook: a system note" });
  });

  it("access-token bots, service accounts and the bot itself are bots", () => {
    for (const u of ["project_123_bot_0a1b2c3d4e5f", "project_7_bot", "project_7_bot2", "group_42_bot_ffee", "service_account_group_9_abc"]) {
      expect(isBotUsername(u), u).toBe(true);
    }
    expect(isBotUsername("vh-bot", "VH-Bot")).toBe(true);
    for (const u of ["root", "bot", "project_bot", "my_project_1_bot", "projectx_1_bot"]) expect(isBotUsername(u, "vh-bot"), u).toBe(false);
    const ev = normalizeGitLab("Note Hook", notePayload("<!-- vh:sticky -->", { username: "vh-bot" }), { botUsername: "vh-bot" });
    expect(ev).toMatchObject({ kind: "comment", comment: { author: { login: "vh-bot", isBot: true } } });
    const tokenBot = normalizeGitLab("Note Hook", notePayload("/vh run train", { username: "project_5_bot_1f2e" }));
    expect(tokenBot).toMatchObject({ comment: { author: { isBot: true } } });
  });

  it("a push: the head commit's message (the one checkout_sha names), the pusher", () => {
    expect(normalizeGitLab("Push Hook", fixture("push"))).toEqual({
      kind: "push",
      repo: { forge: "gitlab", id: 15, fullName: "mike/diaspora", owner: "mike", name: "diaspora", installationId: 0 },
      ref: "refs/heads/master",
      headSha: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      message: "fixed readme",
      pusher: { login: "jsmith", id: 4, isBot: false },
    });
    // checkout_sha names the first commit listed: its message, not the last one's
    const p = fixture("push");
    p["checkout_sha"] = p["after"] = "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327";
    expect(normalizeGitLab("Push Hook", p)).toMatchObject({ message: expect.stringMatching(/^Update Catalan translation/) });
    // the head commit left out of `commits` (more than 20 pushed): the last one listed
    const q = fixture("push");
    q["checkout_sha"] = q["after"] = "c".repeat(40);
    expect(normalizeGitLab("Push Hook", q)).toMatchObject({ headSha: "c".repeat(40), message: "fixed readme" });
  });

  it("a deleted branch is a push without a head", () => {
    const p = fixture("push");
    p["after"] = "0".repeat(40);
    p["checkout_sha"] = null;
    p["commits"] = [];
    p["total_commits_count"] = 0;
    expect(normalizeGitLab("Push Hook", p)).toMatchObject({ kind: "push", headSha: null, message: "" });
  });

  it("an approval is a submitted approved review of the last commit; its withdrawal a dismissal", () => {
    const approved = normalizeGitLab("Merge Request Hook", fixture("merge-request-approved"));
    expect(approved).toEqual({
      kind: "review",
      action: "submitted",
      repo: { forge: "gitlab", id: 1, fullName: "gitlabhq/gitlab-test", owner: "gitlabhq", name: "gitlab-test", installationId: 0 },
      pr: 1,
      state: "approved",
      commitSha: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      reviewer: { login: "root", id: 1, isBot: false },
      url: "http://example.com/diaspora/merge_requests/1",
    });
    expect(normalizeGitLab("Merge Request Hook", fixture("merge-request-unapproved"))).toMatchObject({ kind: "review", action: "dismissed", state: "dismissed" });
    for (const [action, kind] of [["approval", "submitted"], ["unapproval", "dismissed"]] as const) {
      const p = fixture("merge-request-approved");
      p["object_attributes"]["action"] = action;
      expect(normalizeGitLab("Merge Request Hook", p)).toMatchObject({ kind: "review", action: kind });
    }
  });

  it("other merge request actions are ignored", () => {
    expect(normalizeGitLab("Merge Request Hook", fixture("merge-request-open"))).toEqual({ kind: "ignore", reason: "Merge Request Hook: action open is not used" });
  });

  it("payloads that lack what vh reads are ignored with the reason, never thrown", () => {
    const noProject = fixture("note-merge-request");
    delete noProject["project"];
    expect(normalizeGitLab("Note Hook", noProject)).toEqual({ kind: "ignore", reason: expect.stringMatching(/^Note Hook: unexpected payload \(project: /) });
    const noCommit = fixture("merge-request-approved");
    delete noCommit["object_attributes"]["last_commit"];
    expect(normalizeGitLab("Merge Request Hook", noCommit)).toMatchObject({ kind: "ignore", reason: expect.stringContaining("last commit") });
    const noMr = fixture("note-merge-request");
    delete noMr["merge_request"];
    expect(normalizeGitLab("Note Hook", noMr)).toMatchObject({ kind: "ignore" });
    for (const junk of [null, 3, "x", [], {}, { object_kind: "push" }]) {
      for (const event of ["Note Hook", "Push Hook", "Merge Request Hook"]) expect(normalizeGitLab(event, junk).kind).toBe("ignore");
    }
    expect(normalizeGitLab("Pipeline Hook", {})).toEqual({ kind: "ignore", reason: "event Pipeline Hook is not used" });
  });
});
