#!/usr/bin/env node
// The `vh` executable: load TypeScript through tsx, run the CLI, exit with its code.
import { register } from "tsx/esm/api";

register();
const { main } = await import("./main.ts");
const code = await main(process.argv.slice(2));
process.exit(code);
