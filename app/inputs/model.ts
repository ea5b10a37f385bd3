/** `model://NAME/vN` and `model://NAME/latest` inputs: the version's files (app/models/inputs.ts). */
import { resolveModelInput } from "../models/inputs.js";
import type { InputResolver } from "./types.js";

export const resolveModel: InputResolver = (ctx, input, uri) => resolveModelInput(ctx.sql, input, uri);
