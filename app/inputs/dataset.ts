/** `dataset://NAME/VERSION`, `dataset://NAME/latest` and `dataset://NAME` inputs: every file of the version (app/datasets/inputs.ts). */
import { resolveDatasetInput } from "../datasets/inputs.js";
import type { InputResolver } from "./types.js";

export const resolveDataset: InputResolver = (ctx, input, uri) => resolveDatasetInput(ctx.sql, ctx.project, input, uri);
