/** The Action's entry (action.yml `main:` and `post:`, bundled as dist/index.js): no logic here. */
import { run } from "./runner.js";

await run();
