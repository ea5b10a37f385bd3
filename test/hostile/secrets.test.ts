/**
 * Masking by value: secret values (by a wide name pattern, and passwords inside URLs) are hidden in
 * the API's view of the environment and taken out of the stored log — stdout, stderr and the
 * metadata parsed from it — so `echo $DB_PASS` does not publish DB_PASS to everyone who can read
 * the execution (or its check run on a pull request). At rest the row keeps only the masked view;
 * the real values are sealed (AES-256-GCM) under the server's key, and the job still gets them.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import { isSecretName, maskEnvironment, openSecrets, redact, secretValues } from "../../app/executions/secrets.js";
import { createTestDatabase } from "../helpers/db.js";
import { uploadSnapshot } from "../helpers/snapshot.js";
import { startStack, waitFor, type Stack } from "../helpers/stack.js";

const fixture = path.resolve(import.meta.dirname, "../fixtures/projects/hostile-secrets");
const env = {
  DB_PASS: "hunter2-db-pass",
  DATABASE_URL: "postgres://app:s3cr3t-in-url@db.internal:5432/prod",
  API_TOKEN: "tok_0123456789abcdef",
  PLAIN: "visible-value",
};

describe("secret names and values", () => {
  it.each(["DB_PASS", "PGPASSWORD", "MY_PWD", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "SESSION_COOKIE", "SENTRY_DSN", "SSH_KEY", "AUTH_HEADER", "private_key"])("%s is a secret name", (n) => {
    expect(isSecretName(n)).toBe(true);
  });
  it.each(["PATH", "EPOCHS", "PASSAGE_COUNT", "KEYBOARD", "MODE", "LEARNING_RATE"])("%s is not", (n) => {
    expect(isSecretName(n)).toBe(false);
  });
  it("masks by name and inside URLs, and lists values to take out of logs", () => {
    expect(maskEnvironment(env)).toEqual({ DB_PASS: "***", DATABASE_URL: "postgres://app:***@db.internal:5432/prod", API_TOKEN: "***", PLAIN: "visible-value" });
    expect(secretValues(env).sort()).toEqual(["hunter2-db-pass", "s3cr3t-in-url", "tok_0123456789abcdef"]);
    expect(redact("a hunter2-db-pass b hunter2-db-pass", ["hunter2-db-pass"])).toBe("a *** b ***");
  });
});

describe("a job that prints its secrets", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let stack: Stack;
  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack({ databaseUrl: db.connectionString });
  });
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
  });

  it("shows *** in the API and the stored log, never the values", async () => {
    await stack.api("POST", "/api/v1/projects", { name: "leaky" });
    const code = await uploadSnapshot(stack, fixture);
    const e = await stack.api<{ counter: number; environmentVariables: Record<string, string> }>("POST", "/api/v1/projects/leaky/executions", { step: "leak", code, environmentVariables: env });
    expect(e.environmentVariables).toMatchObject({ DB_PASS: "***", DATABASE_URL: "postgres://app:***@db.internal:5432/prod", API_TOKEN: "***", PLAIN: "visible-value" });
    await waitFor("the end", async () => {
      const x = await stack.api<{ status: string }>("GET", `/api/v1/projects/leaky/executions/${e.counter}`);
      return ["completed", "failed", "error"].includes(x.status) ? x : undefined;
    });
    const { lines } = await stack.api<{ lines: { stream: string; line: string }[] }>("GET", `/api/v1/projects/leaky/executions/${e.counter}/logs`);
    // Each stream in order (the two streams interleave as the reads fell).
    expect(lines.filter((l) => l.stream === "stdout").map((l) => l.line)).toEqual([
      "password is ***",
      "url is postgres://app:***@db.internal:5432/prod",
      '{"leaked": "***", "n": 1}',
      "plain is visible-value",
      // The job got the real values (15 and 50 characters), not the masked ones (3 and 40).
      "lengths 15 50",
    ]);
    expect(lines.filter((l) => l.stream === "stderr").map((l) => l.line)).toEqual(["token twice *** ***"]);
    const md = await stack.api<{ events: { data: Record<string, unknown> }[] }>("GET", `/api/v1/projects/leaky/executions/${e.counter}/metadata`);
    expect(md.events).toHaveLength(1);
    expect(md.events[0]!.data).toMatchObject({ leaked: "***", n: 1 });
    // Nowhere in the database: not in the log, the metadata, nor the execution row itself.
    for (const secret of secretValues(env)) {
      const [hits] = await db.sql<{ n: number }[]>`
        select (select count(*) from log_lines where line like ${"%" + secret + "%"})
          + (select count(*) from metadata_events where data::text like ${"%" + secret + "%"})
          + (select count(*) from executions where environment_variables::text like ${"%" + secret + "%"} or coalesce(environment_secrets, '') like ${"%" + secret + "%"}) as n`;
      expect(Number(hits!.n), secret).toBe(0);
    }
    const [row] = await db.sql<{ environment_variables: Record<string, string>; environment_secrets: string }[]>`select environment_variables, environment_secrets from executions`;
    expect(row!.environment_variables).toEqual({ DB_PASS: "***", DATABASE_URL: "postgres://app:***@db.internal:5432/prod", API_TOKEN: "***", PLAIN: "visible-value" });
    expect(row!.environment_secrets).toMatch(/^vh-sealed:v1:[A-Za-z0-9+/=]+$/);
    expect(openSecrets(row!.environment_secrets, stack.config.secretsKey!)).toEqual({ DB_PASS: env.DB_PASS, DATABASE_URL: env.DATABASE_URL, API_TOKEN: env.API_TOKEN });
    expect(fs.statSync(path.join(stack.dataDir, "secrets.key")).mode & 0o777).toBe(0o600);
    // Another key cannot open them, and says which setting to fix.
    expect(() => openSecrets(row!.environment_secrets, Buffer.alloc(32, 7))).toThrow(/same VH_SECRETS_KEY/);
  });
});
