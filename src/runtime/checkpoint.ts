// `runc checkpoint` through the wrapper: map the external mounts runc does not, keep the manifest with the
// images, and make a failure say what is wrong instead of "criu failed: type NOTIFY errno 0".
import { mkdir, readFile, rm } from 'node:fs/promises';
import { writeFileAtomic } from '../adapters/atomic-write.js';
import { READ_LIMITS, readBoundedText, readBoundedTextIfExists } from '../adapters/untrusted-file.js';
import { join } from 'node:path';
import { classifyMounts } from '../core/classify.js';
import { criuFailureError } from '../core/criu-log.js';
import { ExtmountError, formatError } from '../core/errors.js';
import { MANIFEST_FILE, manifestFromPlan, renderManifest, type Manifest } from '../core/manifest.js';
import { containerInfoFromBundle, dockerContainerDir, parseDockerConfigV2, parseOciSpec } from '../core/oci-bundle.js';
import { planExternalMounts } from '../core/plan.js';
import { planCriuOptions, toConfigFile } from '../core/render.js';
import type { RuncInvocation } from '../core/runc-argv.js';
import { CHECKPOINT_RESULT_FILE, type RuntimeMountResult, type RuntimeResult } from '../core/runtime-files.js';
import { dumpPropagationNote, dumpPropagationNoteOnHost, dumpWarnings, splitDumpPlan } from '../core/runtime-plan.js';
import { criuVersion } from '../adapters/criu.js';
import { fileTypesOf } from '../adapters/procfs.js';
import { runcResume, runcState, runRunc } from '../adapters/runc.js';
import { appendRuncLog, writeStderr } from './report.js';
import { requireId, runcEnv, withInheritedCriuConfig, type RuntimeContext } from './context.js';
import { hostMountTable, processMountTable } from '../adapters/mount-table.js';
import { ContainerStateDir } from './state-dir.js';

const DUMP_CONFIG = 'criu-dump.conf';

export async function handleCheckpoint(invocation: RuncInvocation, argv: readonly string[], ctx: RuntimeContext): Promise<number> {
  const id = requireId(invocation);
  const images = invocation.options.get('image-path');
  if (!images) throw new ExtmountError('usage', 'runc checkpoint without --image-path: extmount needs the images dir for its manifest');
  const state = await ContainerStateDir.open(ctx.config.stateDir, id);
  const before = await runcState(ctx.runc, invocation, id);
  const prepared = await prepareDump(invocation, id, before.pid, before.bundle, ctx);
  const configPath = prepared.criuConfig === undefined ? undefined : await state.writeFile(DUMP_CONFIG, await withInheritedCriuConfig(prepared.criuConfig, ctx.env));
  // Written before the dump: a checkpoint that succeeds (and may end the container) always has its manifest.
  const manifestPath = join(images, MANIFEST_FILE);
  await writeManifest(images, manifestPath, renderManifest(prepared.manifest));
  await state.log(`checkpoint: ${prepared.mounts.filter((m) => m.mappedBy === 'extmount').length} mount(s) mapped by extmount${configPath ? ` (${configPath})` : ''}`);

  const started = Date.now();
  const run = await runRunc(ctx.runc, argv, { env: runcEnv(ctx.env, configPath), captureStderr: true });
  const result: RuntimeResult = {
    verb: 'checkpoint', containerId: id, ok: run.exitCode === 0, at: new Date().toISOString(), mounts: prepared.mounts, notes: prepared.notes,
  };
  if (run.exitCode === 0) {
    writeStderr(run.stderr ? [run.stderr.replace(/\n$/, '')] : []);
    await state.writeResult(CHECKPOINT_RESULT_FILE, result);
    return 0;
  }

  await rm(manifestPath, { force: true });
  const workDir = invocation.options.get('work-path') ?? images;
  const kept = await state.keepLog(join(workDir, 'dump.log'), 'dump', started);
  const logText = kept ? await readFile(kept, 'utf8').catch(() => '') : '';
  const error = logText
    ? criuFailureError('checkpoint', logText, kept)
    : new ExtmountError('criu-failed', `checkpoint failed: ${lastLine(run.stderr) || `runc exited with ${run.exitCode}`}`);
  const lines = formatError(error);
  writeStderr([...lines, ...(run.stderr ? [run.stderr.replace(/\n$/, '')] : [])]);
  await appendRuncLog(invocation, 'error', lines[0]!);
  result.error = lines[0]!.replace(/^extmount: /, '');
  if (kept) result.criuLog = kept;
  await state.log(`failed: ${result.error}`);
  // A failed dump must not leave the container frozen. containerd pauses it before and resumes it after
  // (client task.Checkpoint); a direct `runc checkpoint` of a running container has nobody to do that.
  const after = await runcState(ctx.runc, invocation, id).catch(() => undefined);
  if (before.status === 'running' && after?.status === 'paused') {
    const resumed = await runcResume(ctx.runc, invocation, id);
    await state.log(`checkpoint failed with the container paused: resume ${resumed ? 'done' : 'FAILED'}`);
  }
  await state.writeResult(CHECKPOINT_RESULT_FILE, result);
  return run.exitCode;
}

interface PreparedDump {
  manifest: Manifest;
  /** CRIU config file text; undefined when CRIU needs nothing beyond what runc passes. */
  criuConfig: string | undefined;
  mounts: RuntimeMountResult[];
  notes: string[];
}

async function prepareDump(invocation: RuncInvocation, id: string, pid: number, bundle: string, ctx: RuntimeContext): Promise<PreparedDump> {
  // containerd has paused the container before calling us: everything here is downtime, so the
  // independent reads go in parallel.
  const versionRead = criuVersion(invocation.globalOptions.get('criu') ?? ctx.config.criu);
  versionRead.catch(() => undefined);
  const [bundleText, mounts, hostMounts] = await Promise.all([readBundleConfig(bundle), processMountTable(pid), hostMountTable()]);
  const { view } = parseOciSpec(bundleText, bundle);
  const dockerDir = dockerContainerDir(view, id);
  const meta = dockerDir ? parseDockerConfigV2((await readBoundedTextIfExists(join(dockerDir, 'config.v2.json'), READ_LIMITS.dockerConfig).catch(() => undefined)) ?? '') : undefined;
  const container = containerInfoFromBundle(view, { id, pid, runtime: 'extmount' }, meta);
  const classification = classifyMounts(mounts, { hostMounts, container });
  const hostPaths = classification.mounts.flatMap((c) => (c.external?.hostPath ? [c.external.hostPath] : []));
  const plan = planExternalMounts(classification, { fileTypes: await fileTypesOf(hostPaths) });
  const split = splitDumpPlan(plan, view);
  const version = await versionRead;
  const dump = planCriuOptions(split.criuPlan, version).dump;
  const manifest = manifestFromPlan(split.manifestPlan, {
    extmount: ctx.version,
    criu: version.text,
    createdAt: new Date().toISOString(),
    target: { kind: 'container', id, name: meta?.name ?? '', image: meta?.image ?? '' },
  });
  const ours = new Set(split.ours.map((m) => m.key));
  for (const m of manifest.mounts) {
    const note = ours.has(m.key) ? dumpPropagationNoteOnHost(m, hostMounts) : dumpPropagationNote(m);
    if (note) m.propagationNote = note;
  }
  return {
    manifest,
    criuConfig: dump.length > 0 ? toConfigFile(dump) : undefined,
    mounts: manifest.mounts.map((m) => ({
      key: m.key, mountpoint: m.mountpoint, kind: m.kind, path: m.hostPath, mappedBy: ours.has(m.key) ? 'extmount' : 'runc', propagation: m.propagation,
      ...(m.propagationNote ? { note: m.propagationNote } : {}),
    })),
    notes: dumpWarnings(split, hostMounts),
  };
}

async function readBundleConfig(bundle: string): Promise<string> {
  return readBoundedText(join(bundle, 'config.json'), READ_LIMITS.ociConfig);
}

async function writeManifest(images: string, path: string, text: string): Promise<void> {
  // runc creates the images dir itself (0700) when it is missing; do the same so the manifest fits in.
  await mkdir(images, { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, text, { mode: 0o600 });
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).at(-1) ?? '';
}
