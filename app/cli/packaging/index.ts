/** Ad-hoc code packaging for the `vh` CLI: file selection, deterministic tarball, upload. */
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
export { uploadIfMissing, type CodeUploader } from "./upload.js";
