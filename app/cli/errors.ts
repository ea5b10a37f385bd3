/**
 * Errors the CLI prints as they are (no stack) and exits with: 1 when the command failed or the
 * command line was wrong (as commander does), 2 when the requested mode is not supported.
 */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}
