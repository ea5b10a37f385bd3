/**
 * Ad-hoc code packaging for the `vh` CLI: file selection, deterministic tarball, progress bar.
 * Uploading the package is app/cli/snapshot-upload.ts (`uploadIfMissing`, `fromPackage`).
 */
export {
  LIMITS,
  adhocCommitId,
  disposePackage,
  packageDirectory,
  type CodePackage,
  type PackageOptions,
} from "./package-directory.js";
export { IGNORE_FILES, selectFiles, type IgnoreMode, type Selection } from "./select.js";
export { PROGRESS_BAR_MIN_FILES, progressBar, type ProgressBar } from "./progress.js";
