/**
 * The packaging progress bar. Drawn on stderr, and only when stderr is a terminal, so piped
 * output and CI logs stay clean.
 */
import cliProgress from "cli-progress";

/** Trees with more files than this get a progress bar in the CLI; smaller ones pack too fast to need one. */
export const PROGRESS_BAR_MIN_FILES = 1000;

export interface ProgressBar {
  update(n: number): void;
  stop(): void;
}

export function progressBar(total: number, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  if (!stream.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { stream, format: "Packaging code {bar} {value}/{total} files", hideCursor: true, etaBuffer: 100 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  let stopped = false;
  return {
    update(n: number) {
      if (!stopped) bar.update(n);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
