// `runc checkpoint` through the wrapper: map the external mounts runc does not, keep the manifest with the
// images, and make a failure say what is wrong instead of "criu failed: type NOTIFY errno 0".
import { mkdir, readFile, rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { writeFileAtomic } from '../adapters/fs/atomic-write.js';
import { READ_LIMITS, readBoundedText } from '../adapters/fs/untrusted-file.js';
import { join } from 'node:path';
import { classifyOnHost } from '../core/mounts/classify-on-host.js';
import { analyzeCriuLog, criuFailureError } from '../core/checkpoint/criu-log.js';
import { ExtmountError, formatError } from '../core/errors.js';
import { MANIFEST_FILE, manifestFromPlan, renderManifest, type Manifest } from '../core/checkpoint/manifest.js';
import { containerInfoFromBundle, parseOciSpec, resolveBindDestinations } from '../core/runtime/oci-bundle.js';
import { findDockerContainer } from '../adapters/docker/docker-container-dir.js';
import { findPodmanContainer } from '../adapters/podman/podman-container-dir.js';
import { rootfsReadlink } from '../adapters/fs/rootfs.js';
import { planExternalMounts } from '../core/mounts/plan.js';
import { planCriuOptions, toConfigFile, type CriuVersion } from '../core/mounts/render.js';
import {
  imagePathOf,
  isValidContainerId,
  optionSet,
  runcRootOf,
  workPathOf,
  type RuncInvocation,
} from '../core/runtime/runc-argv.js';
import {
  CHECKPOINT_LAZY_FILE,
  CHECKPOINT_RESULT_FILE,
  type RuntimeMountResult,
  type RuntimeResult,
} from '../core/runtime/runtime-files.js';
import {
  dumpPropagationNote,
  dumpPropagationNoteOnHost,
  dumpWarnings,
  splitDumpPlan,
} from '../core/runtime/runtime-plan.js';
import { criuVersion } from '../adapters/criu/criu-version.js';
import { fileTypesOf } from '../adapters/procfs/procfs.js';
import {
  destroyAfterCheckpoint,
  runcKill,
  runcPause,
  runcResume,
  containerState,
  runcState,
  runRunc,
  statusFdFor,
} from '../adapters/criu/runc.js';
import {
  lazyAbortRequested,
  liveDir,
  missingLiveTls,
  readLivePages,
  readLiveRelease,
  takeLiveRequest,
  writeLiveReady,
} from '../adapters/live/live-files.js';
import { statusFifo } from '../adapters/criu/status-fifo.js';
import { killChildren, tcpEstablishedOn } from '../adapters/procfs/procfs.js';
import {
  tlsCriuOptions,
  withVerbFlags,
  type LivePages,
  type LiveRelease,
  type LiveRequest,
} from '../core/live/live-request.js';
import { appendRuncLog, writeStderr } from './report.js';
import { makeWorkPath, requireId, runcEnv, withInheritedCriuConfig, type RuntimeContext } from './context.js';
import { hostMountIndex, processMountText } from '../adapters/procfs/mount-table.js';
import type { MountinfoIndex } from '../core/mounts/mountinfo-index.js';
import { ContainerStateDir } from '../adapters/fs/state-dir.js';
import { runcAnswers } from './passthrough.js';

const DUMP_CONFIG = 'criu-dump.conf';

export async function handleCheckpoint(
  invocation: RuncInvocation,
  argv: readonly string[],
  ctx: RuntimeContext,
): Promise<number> {
  const id = requireId(invocation);
  // containerd has paused the container before calling us (client task.Checkpoint): everything here is
  // downtime. The container's state is asked first: its first read (or runc state) is under way in the
  // thread pool while the host's mount table is read synchronously, which blocks the rest until it ends.
  const marks = [performance.now()];
  const runcRoot = runcRootOf(invocation, ctx.cwd, ctx.env, process.geteuid?.() ?? 0);
  const stateRead = isValidContainerId(id)
    ? containerState(ctx.runc, invocation, id, runcRoot).catch(() => undefined)
    : undefined;
  const early = startEarlyReads(invocation, ctx);
  // A container runc does not know, or cannot checkpoint (created, stopped): runc's own error and exit code.
  const before = await stateRead;
  if (!before || (before.status !== 'running' && before.status !== 'paused')) return runcAnswers(argv, ctx);
  marks.push(performance.now());
  const images = imagePathOf(invocation, ctx.cwd);
  const state = await ContainerStateDir.open(ctx.config.stateDir, id, runcRoot);
  const [prepared, live] = await Promise.all([
    prepareDump(early, id, before.pid, before.bundle),
    liveDumpRequest(ctx, id, invocation),
  ]);
  marks.push(performance.now());
  // A lazy dump's page server speaks TLS with the files migrate left beside the request, told through the same config file.
  const criuConfig = live
    ? `${prepared.criuConfig ?? ''}${toConfigFile(tlsCriuOptions(liveDir(ctx.config.stateDir, id)))}`
    : prepared.criuConfig;
  const configPath =
    criuConfig === undefined
      ? undefined
      : await state.writeFile(DUMP_CONFIG, await withInheritedCriuConfig(criuConfig, ctx.env));
  // Written before the dump: a checkpoint that succeeds (and may end the container) always has its manifest.
  const manifestPath = join(images, MANIFEST_FILE);
  await writeManifest(images, manifestPath, renderManifest(prepared.manifest));
  marks.push(performance.now());
  // The handler's own share of the freeze, for whoever tunes it (bench/runtime.ts reads it): Node.js and
  // the handler's modules, the container's state, the reads and analysis, the CRIU config and manifest written.
  const [entered, stated, analysed, written] = marks.map(Math.round) as [number, number, number, number];
  await state.log(
    `checkpoint: ${prepared.mounts.filter((m) => m.mappedBy === 'extmount').length} mount(s) mapped by extmount${configPath ? ` (${configPath})` : ''}; runtime ${ctx.runc}; ` +
      `runc called ${Math.round(performance.now())} ms after Node.js started (start ${entered}, state ${stated - entered}, analysis ${analysed - stated}, writes ${written - analysed})`,
  );

  await makeWorkPath(invocation, ctx.cwd);
  const started = Date.now();
  const lazy = live ? await lazyDump(invocation, argv, ctx, id, live, images, state) : undefined;
  if (lazy)
    await writeFileAtomic(
      join(images, CHECKPOINT_LAZY_FILE),
      `post-copy: pages served from ${live!.address}:${live!.port}\n`,
      { mode: 0o600 },
    );
  const run = await runRunc(ctx.runc, lazy?.argv ?? argv, {
    env: runcEnv(ctx.env, configPath),
    captureStderr: true,
    fds: ctx.fds,
    ...(ctx.relay ? { relay: ctx.relay } : {}),
    ...(lazy ? { statusFd: lazy.statusFd, onSpawn: lazy.onSpawn } : {}),
  });
  await lazy?.done();
  const result: RuntimeResult = {
    verb: 'checkpoint',
    containerId: id,
    ok: run.exitCode === 0,
    at: new Date().toISOString(),
    mounts: prepared.mounts,
    notes: prepared.notes,
  };
  const runcStderr = run.stderr ? [run.stderr.replace(/\n$/, '')] : [];
  if (run.exitCode === 0 && lazy) {
    const failed = await lazy.finish();
    if (failed) {
      writeStderr([`extmount: ${failed}`, ...runcStderr]);
      await appendRuncLog(invocation, 'error', `extmount: ${failed}`);
      await state.writeResult(CHECKPOINT_RESULT_FILE, { ...result, ok: false, error: failed });
      return 1;
    }
  }
  if (run.exitCode === 0) {
    await destroyAfterCheckpoint(ctx.runc, invocation, id);
    writeStderr(runcStderr);
    await state.writeResult(CHECKPOINT_RESULT_FILE, result);
    return 0;
  }

  return checkpointFailed({ invocation, ctx, id, state, before: before.status, run, manifestPath, started, result });
}

export interface FailedCheckpoint {
  invocation: RuncInvocation;
  ctx: RuntimeContext;
  id: string;
  state: ContainerStateDir;
  /** The container's status before the dump (runc state's word). */
  before: string;
  run: { exitCode: number; stderr: string };
  manifestPath: string;
  /** When runc was started (ms since the epoch): a CRIU log older than that is an earlier call's. */
  started: number;
  result: RuntimeResult;
}

/**
 * After a failed `runc checkpoint` (the handler's own, or the sh's fast path): the manifest taken back, the
 * CRIU log kept and explained, the container left as its caller had it, the result written. Returns runc's status.
 */
export async function checkpointFailed(f: FailedCheckpoint): Promise<number> {
  const { invocation, ctx, id, state, run, manifestPath, started, result } = f;
  const runcStderr = run.stderr ? [run.stderr.replace(/\n$/, '')] : [];
  await rm(manifestPath, { force: true });
  const kept = await state.keepLog(join(workPathOf(invocation, ctx.cwd), 'dump.log'), 'dump', started);
  const logText = kept ? await readFile(kept, 'utf8').catch(() => '') : '';
  // Our line comes first only when it adds something: CRIU's Error line, the mount at fault, the fix, and
  // where its log is kept (containerd deletes its copy and shows only the first line). Otherwise runc
  // failed on its own (bad --parent-path, a stopped container) and its stderr is the answer, unchanged.
  const explained =
    logText && analyzeCriuLog(logText).errorLines.length > 0
      ? formatError(criuFailureError('checkpoint', logText, kept))
      : undefined;
  writeStderr([...(explained ?? []), ...runcStderr]);
  if (explained) await appendRuncLog(invocation, 'error', explained[0]!);
  result.error = (
    explained?.[0] ?? `checkpoint failed: ${lastLine(run.stderr) || `runc exited with ${run.exitCode}`}`
  ).replace(/^extmount: /, '');
  if (kept) result.criuLog = kept;
  await state.log(`failed: ${result.error}`);
  // A failed dump must not leave the container frozen. containerd pauses it before and resumes it after
  // (client task.Checkpoint); a direct `runc checkpoint` of a running container has nobody to do that.
  const after = await runcState(ctx.runc, invocation, id).catch(() => undefined);
  if (f.before === 'running' && after?.status === 'paused') {
    const resumed = await runcResume(ctx.runc, invocation, id);
    await state.log(`checkpoint failed with the container paused: resume ${resumed ? 'done' : 'FAILED'}`);
  }
  // The other way round: containerd paused it for us and resumes it after (client task.Checkpoint), but a
  // CRIU that died (killed during a lazy dump's page transfer) could not give the freezer back the state it
  // found: CRIU thaws the cgroup once ptrace holds every task. containerd's resume then fails with
  // "container not paused" and dockerd shows the container Paused for good, `docker unpause` failing the same.
  if (f.before === 'paused' && after?.status === 'running') {
    const paused = await runcPause(ctx.runc, invocation, id);
    await state.log(
      `checkpoint failed with the container running, which its caller had paused: pause ${paused ? 'done (the caller resumes it)' : 'FAILED'}`,
    );
  }
  await state.writeResult(CHECKPOINT_RESULT_FILE, result);
  return run.exitCode;
}

/** A lazy dump `extmount migrate --live` asked for (live-request.ts); a runc call that is lazy already is left as it is. */
async function liveDumpRequest(
  ctx: RuntimeContext,
  id: string,
  invocation: RuncInvocation,
): Promise<LiveRequest | undefined> {
  if (
    invocation.options.has('lazy-pages') ||
    invocation.options.has('page-server') ||
    invocation.options.has('status-fd')
  )
    return undefined;
  const request = await takeLiveRequest(ctx.config.stateDir, id);
  return request?.role === 'dump' ? request : undefined;
}

/**
 * `runc checkpoint --lazy-pages --page-server ADDR:PORT --status-fd N`: runc returns only once every
 * page has been pulled, so the images (all but the pages) are announced when the page server listens
 * (CRIU writes to the status fd then). It is given up when migrate asks (LIVE_ABORT) or when no restore
 * pulls from it in time: by killing its CRIU, which releases the frozen tasks. Not by closing a
 * connection to the page server: CRIU takes a client that leaves without asking for a page as a
 * transfer that finished, and kills the container (seen: checkpoint exit 0, container exited 137).
 */
async function lazyDump(
  invocation: RuncInvocation,
  argv: readonly string[],
  ctx: RuntimeContext,
  id: string,
  live: LiveRequest,
  images: string,
  state: ContainerStateDir,
) {
  // Checked here, not beside prepareDump: a rejection there would leave prepareDump's unawaited.
  const missing = await missingLiveTls(ctx.config.stateDir, id);
  if (missing)
    throw new ExtmountError(
      'bad-input',
      `checkpoint: a post-copy request without its page server's TLS file ${missing}; nothing was dumped`,
      { hint: 'run extmount migrate --live again' },
    );
  const fifo = await statusFifo(state.path(`status-${process.pid}.fifo`));
  let runcPid: number | undefined;
  let watching = true;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const giveUp = async (why: string) => {
    const criu = runcPid === undefined ? [] : await killChildren(runcPid);
    await state.log(`checkpoint: lazy dump given up (${why}): killed its CRIU (${criu.join(', ') || 'none left'})`);
  };
  const watch = (async () => {
    while (watching && !(await fifo.ready().catch(() => false))) await sleep(10);
    if (!watching) return;
    await writeLiveReady(ctx.config.stateDir, id, {
      imagePath: images,
      workPath: workPathOf(invocation, ctx.cwd),
      pid: process.pid,
      address: live.address,
      port: live.port,
    });
    await state.log(`checkpoint: lazy page server on ${live.address}:${live.port}, images announced`);
    const deadline = Date.now() + live.connectWithinMs;
    while (watching) {
      if (await lazyAbortRequested(ctx.config.stateDir, id)) return giveUp('migrate asked');
      if (Date.now() > deadline && !(await tcpEstablishedOn(live.port)))
        return giveUp(`no restore pulled pages within ${live.connectWithinMs} ms`);
      await sleep(50);
    }
  })().catch(() => undefined);
  // The caller's own --leave-running keeps it running in any case; otherwise it ends here, below.
  const callerLeavesRunning = optionSet(invocation, 'leave-running');
  return {
    argv: withVerbFlags(argv, invocation.globals.length, [
      '--lazy-pages',
      '--page-server',
      `${live.address}:${live.port}`,
      '--status-fd',
      String(statusFdFor(ctx.fds)),
      ...(callerLeavesRunning ? [] : ['--leave-running']),
    ]),
    statusFd: fifo.writeFd,
    onSpawn: (pid: number) => {
      runcPid = pid;
    },
    async done() {
      watching = false;
      await watch;
      await fifo.close().catch(() => undefined);
    },
    /**
     * CRIU ends a lazy dump as a success whenever its client leaves, whether or not every page went:
     * a restore that died mid-pull would cost the source its process too. So CRIU leaves the tasks
     * alive (--leave-running; frozen still, in the cgroup containerd froze) and they are killed here
     * only once the target's supervisor reports every page received. Otherwise: a failure, and the
     * caller resumes the container, its memory intact. Returns why it failed, or undefined.
     */
    async finish(): Promise<string | undefined> {
      if (callerLeavesRunning) return undefined;
      const peer = live.peer!;
      let pages: LivePages | undefined;
      for (
        const deadline = Date.now() + 60_000;
        !(pages = await readLivePages(ctx.config.stateDir, peer).catch(() => undefined)) && Date.now() < deadline;
      )
        await sleep(20);
      if (!pages?.ok) {
        const why = `post-copy: every page was served, but ${peer.slice(0, 12)} ${pages ? `received ${pages.transferred ?? '?'} of ${pages.total ?? '?'} (its lazy-pages daemon: ${pages.signal ?? `exit ${pages.exitCode}`})` : 'reported nothing in 60 s'}; this container keeps its memory and runs on`;
        await state.log(`checkpoint: ${why}`);
        return why;
      }
      // Every page is there; migrate watches the copy for its verification window and then says whether
      // this one ends. Until then it stays frozen: a copy that dies in the window leaves this one whole.
      let release: LiveRelease | undefined;
      // 'hold' (a copy migrate could not remove): frozen until a re-run's word, an hour at most.
      const heard = async () =>
        (release = await readLiveRelease(ctx.config.stateDir, id)) !== undefined && release.action !== 'hold';
      for (let deadline = Date.now() + (live.releaseWithinMs ?? 0); !(await heard()) && Date.now() < deadline;) {
        if (release?.action === 'hold') deadline = Math.max(deadline, Date.now() + 3_600_000);
        await sleep(20);
      }
      if (release?.action === 'keep') {
        const why = `post-copy: ${peer.slice(0, 12)} received every page but did not keep running; this container keeps its memory and runs on`;
        await state.log(`checkpoint: ${why}`);
        return why;
      }
      const killed = await runcKill(ctx.runc, invocation, id);
      await state.log(
        `checkpoint: ${peer.slice(0, 12)} received every page (${pages.transferred})${release ? ' and migrate released this one' : live.releaseWithinMs ? `; no word from migrate within ${live.releaseWithinMs} ms` : ''}: ${killed ? 'this container is killed, as a checkpoint without --leave-running ends it' : 'runc kill FAILED'}`,
      );
      return killed ? undefined : 'post-copy: every page moved, but killing this container failed';
    },
  };
}

export interface PreparedDump {
  manifest: Manifest;
  /** The texts the analysis read: what a checkpoint prepared on pause compares before it uses it. */
  sources: { containerMountinfo: string; hostMountinfo: string; bundleConfig: string };
  /** CRIU config file text; undefined when CRIU needs nothing beyond what runc passes. */
  criuConfig: string | undefined;
  mounts: RuntimeMountResult[];
  notes: string[];
}

export interface EarlyReads {
  ctx: RuntimeContext;
  version: Promise<CriuVersion>;
  hostMounts: Promise<MountinfoIndex>;
}

/** Started right after the container's state is asked for; a failure surfaces where the value is awaited. */
export function startEarlyReads(invocation: RuncInvocation, ctx: RuntimeContext): EarlyReads {
  const version = criuVersion(invocation.globalOptions.get('criu') ?? ctx.config.criu, {
    stateDir: ctx.config.stateDir,
  });
  const hostMounts = hostMountIndex();
  for (const p of [version, hostMounts]) p.catch(() => undefined);
  return { ctx, version, hostMounts };
}

export async function prepareDump(early: EarlyReads, id: string, pid: number, bundle: string): Promise<PreparedDump> {
  const { ctx } = early;
  const versionRead = early.version;
  const [bundleText, table, hostIndex] = await Promise.all([
    readBundleConfig(bundle),
    processMountText(pid),
    early.hostMounts,
  ]);
  const mounts = table.mounts;
  const spec = parseOciSpec(bundleText, bundle).view;
  const view = resolveBindDestinations(spec, rootfsReadlink(spec.rootfs));
  // Podman's bundles are known by their path (no I/O for any other): asked first, so that a Podman
  // container does not pay Docker's candidate reads, daemon.json included, inside the freeze.
  const meta = (await findPodmanContainer(view, id, bundle)) ?? (await findDockerContainer(view, id))?.meta;
  const container = containerInfoFromBundle(view, { id, pid, runtime: 'extmount' }, meta);
  // Of the host's table, only what the container's mounts involve (a Kubernetes node has thousands more).
  const { classification, hostPaths, hostMounts } = classifyOnHost(mounts, hostIndex, container);
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
    sources: { containerMountinfo: table.text, hostMountinfo: hostIndex.text, bundleConfig: bundleText },
    criuConfig: dump.length > 0 ? toConfigFile(dump) : undefined,
    mounts: manifest.mounts.map((m) => ({
      key: m.key,
      mountpoint: m.mountpoint,
      kind: m.kind,
      path: m.hostPath,
      mappedBy: ours.has(m.key) ? 'extmount' : 'runc',
      propagation: m.propagation,
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
