/** The forge used when no Git host is configured: every call fails with what to set. */
import { ForgeError } from "../../errors.js";
import type { ForgeProvider } from "../../contracts/forge.js";

export const NOT_CONFIGURED_MESSAGE =
  "No Git host is configured: create the GitHub App on the set-up page (/setup/github on this server), or set APP_ID, PRIVATE_KEY (or PRIVATE_KEY_PATH) and WEBHOOK_SECRET (see docs/github-app.md).";

export function createNotConfiguredProvider(): ForgeProvider {
  return {
    kind: "not-configured",
    async forInstallation() {
      throw new ForgeError(NOT_CONFIGURED_MESSAGE);
    },
  };
}
