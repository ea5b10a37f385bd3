/** The forge used when no Git host is configured: every call fails with what to set. */
import { ForgeError } from "../../errors.js";
import type { ForgeProvider } from "../../contracts/forge.js";

export const NOT_CONFIGURED_MESSAGE =
  "No Git host is configured: set APP_ID, PRIVATE_KEY (or PRIVATE_KEY_PATH) and WEBHOOK_SECRET for the GitHub App (see docs/github-app.md).";

export function createNotConfiguredProvider(): ForgeProvider {
  return {
    kind: "not-configured",
    async forInstallation() {
      throw new ForgeError(NOT_CONFIGURED_MESSAGE);
    },
  };
}
