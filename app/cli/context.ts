/** What every command receives: the injected io, the global flags, and lazily the server and client. */
import path from "node:path";
import { ApiClient } from "./api.js";
import { findLink, resolveServer, type FoundLink, type Link, type Server, type ServerFlags } from "./config.js";
import { CliError } from "./errors.js";
import { println, type Io } from "./io.js";

export class Context {
  readonly io: Io;
  readonly flags: ServerFlags;
  private cachedClient?: ApiClient;

  constructor(io: Io, flags: ServerFlags) {
    this.io = io;
    this.flags = flags;
  }

  server(): Server {
    return this.client().server;
  }

  client(): ApiClient {
    this.cachedClient ??= new ApiClient(resolveServer(this.flags, this.io.env, this.io.cwd), this.io.fetch);
    return this.cachedClient;
  }

  link(): FoundLink | undefined {
    return findLink(this.io.env, this.io.cwd);
  }

  /** The project root: the linked directory, else the working directory. */
  rootDir(): string {
    return this.link()?.dir ?? path.resolve(this.io.cwd);
  }

  /** What a link made now records: the server's URL, and its data dir when it is a local server. */
  linkTo(project: string, server: Server = this.server()): Link {
    const { url, dataDir } = server;
    return { url, project, ...(dataDir ? { dataDir } : {}) };
  }

  /** The project to act on: `--project`, else the directory link; warns when the link is for another server. */
  projectName(explicit?: string): string {
    if (explicit) return explicit;
    const link = this.link();
    if (!link) {
      throw new CliError(
        `${path.resolve(this.io.cwd)} is not linked to a vh project: run \`vh project link NAME\` or \`vh project create NAME\` here, or pass --project NAME.`,
      );
    }
    this.warnIfOtherServer(link);
    return link.project;
  }

  warnIfOtherServer(link: FoundLink): void {
    const { url, dataDir } = this.server();
    // The same local server on another port (its data dir) is not another server.
    if (link.dataDir && dataDir && path.resolve(link.dataDir) === path.resolve(dataDir)) return;
    if (link.url !== url) {
      this.warn(`${link.dir} was linked to project "${link.project}" on ${link.url}; using that project name on ${url}.`);
    }
  }

  warn(message: string): void {
    println(this.io.stderr, `warning: ${message}`);
  }

  info(message: string): void {
    println(this.io.stderr, message);
  }
}
