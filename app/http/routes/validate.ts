/**
 * `POST /projects/:project/executions/validate`: would `POST /projects/:project/executions` accept
 * this execution? Asked by `vh exec run --adhoc` before it uploads the code, so a large snapshot
 * is never sent for a run the server would refuse.
 *
 * The body is the creation body without `code`, plus `yaml`: the text of the valohai.yaml the
 * client is about to upload (at `yamlPath`). The answer is 200 `{ ok: true, step, image, command }`
 * or the very refusal the creation would give (400 unknown step, bad parameter, unknown or
 * unreachable input, environment, GPUs; 404 project), because it runs the creation's own checks
 * on that text (`prepareExecutionFromYaml`, app/executions/create.ts). Nothing is written. The creation itself still reads valohai.yaml from
 * the uploaded snapshot: this answer is advice to the client, not a promise.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { VhError } from "../../errors.js";
import { prepareExecutionFromYaml, type CreateDeps } from "../../executions/create.js";
import { parseJsonExact } from "../../valohai/index.js";
import { findProject } from "./projects.js";

/** A request larger than this is refused before it is read (valohai.yaml is read up to 5 MB from a snapshot). */
export const MAX_VALIDATE_BODY_BYTES = 8 * 1024 * 1024;

const Yaml = z.looseObject({ yaml: z.string({ error: "yaml must be the text of the valohai.yaml the run will use" }) });

/** Mounted at /projects/:project/executions/validate. */
export function validateRoutes(deps: CreateDeps) {
  const app = new Hono();
  app.post(
    "/",
    bodyLimit({
      maxSize: MAX_VALIDATE_BODY_BYTES,
      onError: () => {
        throw new VhError("too_large", `A validation request is at most ${MAX_VALIDATE_BODY_BYTES / 1048576} MiB (valohai.yaml and the run's values).`);
      },
    }),
    async (c) => {
      const project = await findProject(deps.sql, c.req.param("project")!);
      // Parameter values read as the creation reads them: exact big integers, 1.0 stays a float.
      const raw: unknown = await c.req.text().then((t) => parseJsonExact(t, { pyFloatsUnder: ["parameters"] })).catch(() => null);
      const parsed = Yaml.safeParse(raw);
      if (!parsed.success) {
        throw new VhError("bad_request", `Send the execution as for POST /projects/${project.name}/executions, without "code" and with "yaml": the valohai.yaml text (${parsed.error.issues.map((i) => i.message).join("; ")}).`);
      }
      const { yaml, ...body } = parsed.data;
      const yamlPath = typeof body["yamlPath"] === "string" && body["yamlPath"] !== "" ? body["yamlPath"] : "valohai.yaml";
      // No snapshot has a file outside itself: the creation's own "there is no …" answers such a path.
      const inside = !yamlPath.startsWith("/") && !yamlPath.split("/").includes("..");
      const prepared = await prepareExecutionFromYaml(deps, project, body, inside ? yaml : null);
      return c.json({ ok: true, step: prepared.step.name, image: prepared.req.image ?? prepared.step.image, command: prepared.command });
    },
  );
  return app;
}
