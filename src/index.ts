// extmount's library API: the pipeline's pure core, and the commands the CLI runs (same functions).

// The pipeline: mountinfo text → mounts → classification → plan → CRIU options, manifest.
export { parseMountinfo, type MountInfo } from './core/mounts/mountinfo.js';
export {
  classifyMounts,
  type Classification,
  type ClassifiedMount,
  type ClassifyContext,
  type ExternalKind,
  type MountClass,
} from './core/mounts/classify.js';
export {
  planExternalMounts,
  deriveKey,
  validateKey,
  type ExternalMount,
  type MountPlan,
  type PlanOptions,
} from './core/mounts/plan.js';
export {
  parseCriuVersion,
  planCriuOptions,
  toArgv,
  toConfigFile,
  type CriuOptions,
  type CriuVersion,
} from './core/mounts/render.js';
export { buildDetectReport, formatDetectReport, type DetectReport } from './core/mounts/detect-report.js';
export {
  manifestFromPlan,
  renderManifest,
  MANIFEST_FILE,
  type Manifest,
  type ManifestMount,
} from './core/checkpoint/manifest.js';
export { parseManifest } from './core/checkpoint/manifest-read.js';
export { resolveRestoreTargets, refusalOf, applyRemap, type RestoreTarget } from './core/checkpoint/restore-targets.js';
export { checkManifestAgainstImages } from './core/checkpoint/image-check.js';
export { decodeCriuImage, type CriuImage, type MountEntry, type InventoryEntry } from './core/images/criu-image.js';
export { analyzeCriuLog, criuFailureError } from './core/checkpoint/criu-log.js';
export { parseConfig, DEFAULT_CONFIG, type Config } from './core/config.js';
export type { ContainerInfo, ContainerMount } from './core/mounts/container.js';
export { ExtmountError, formatError, type ErrorCode, type ExitCode } from './core/errors.js';

// Commands, as the CLI runs them (a CommandContext carries config, output and logging).
export type { CommandContext } from './commands/context.js';
export type { CommandIO } from './commands/io.js';
export { loadConfig } from './adapters/config-file.js';
export { createLogger } from './adapters/log.js';
export { detect, analyzeTask, type DetectOptions, type DetectSource } from './commands/detect.js';
export { runCheckpoint, type CheckpointOptions } from './commands/checkpoint.js';
export { runRestore, type RestoreOptions } from './commands/restore.js';
export { runContainerCheckpoint, runContainerRestore } from './commands/container-checkpoint.js';
export { runMigrate } from './commands/migrate.js';
export { runShow } from './commands/show.js';
