// `runc restore` through the wrapper: targets checked first, our mounts mapped, and the host's mounts kept.
//
// runc 1.1 binds every config.json bind source into the rootfs (MS_BIND|MS_REC) and detaches it before
// CRIU runs (prepareCriuRestoreMounts). For a source inside a shared mount that detach propagates to the
// host and unmounts the host's own submounts (host-mounts.ts detachPropagationRisk). The wrapper points
// such sources at an rslave copy in its private holder for this one call, and gives CRIU each of our
// mounts as a copy from which it can take the master back (host-mounts.ts findSharingSource).
import { spawn } from 'node:child_process';
import { readFile, realpath, rm, stat } from 'node:fs/promises';
import { setTimeout as sleepMs } from 'node:timers/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  liveDir,
  missingLiveTls,
  readLivePages,
  removeLiveSupervisor,
  takeLiveRequest,
  takeLiveSupervisor,
} from '../adapters/live/live-files.js';
import { killChildren } from '../adapters/procfs/procfs.js';
import {
  LAZY_PAGES_SHELL,
  LAZY_SUPERVISOR_ENV,
  LIVE_LAZY_LOG,
  lazyPagesArgv,
  LIVE_PAGES,
  withVerbFlags,
  type LiveRequest,
  type SupervisorJob,
} from '../core/live/live-request.js';
import { writeFileAtomic } from '../adapters/fs/atomic-write.js';
import { READ_LIMITS, readBoundedText } from '../adapters/fs/untrusted-file.js';
import { join } from 'node:path';
import { checkRestoreTargets } from '../adapters/fs/restore-target-check.js';
import { runRunc, runcDelete } from '../adapters/criu/runc.js';
import { criuFailureError } from '../core/checkpoint/criu-log.js';
import { ExtmountError, formatError } from '../core/errors.js';
import { detachPropagationRisk } from '../core/mounts/host-mounts.js';
import { checkManifestAgainstImages } from '../core/checkpoint/image-check.js';
import { readImageMounts } from '../adapters/criu/images.js';
import type { MountEntry } from '../core/images/criu-image.js';
import { MANIFEST_FILE, type Manifest } from '../core/checkpoint/manifest.js';
import { findDockerContainer } from '../adapters/docker/docker-container-dir.js';
import { parseOciSpec, resolveBindDestinations, rewriteBindSources, type OciBind } from '../core/runtime/oci-bundle.js';
import { rootfsReadlink } from '../adapters/fs/rootfs.js';
import { planCriuOptions, toConfigFile, type CriuOption, type CriuVersion } from '../core/mounts/render.js';
import { restoreDenials } from '../core/checkpoint/restore-targets.js';
import { restoreWalkProblem } from '../core/runtime/restore-walk.js';
import {
  bundleOf,
  imagePathOf,
  isValidContainerId,
  runcRootOf,
  workPathOf,
  type RuncInvocation,
} from '../core/runtime/runc-argv.js';
import {
  CHECKPOINT_LAZY_FILE,
  CHECKPOINT_MAPS_FILE,
  RESTORE_RESULT_FILE,
  type RuntimeMountResult,
  type RuntimeResult,
} from '../core/runtime/runtime-files.js';
import { planFromManifest, planRuntimeRestore, type RuntimeRestorePlan } from '../core/runtime/runtime-plan.js';
import { makeWorkPath, requireId, runcEnv, withInheritedCriuConfig, type RuntimeContext } from './context.js';
import { MountHolder } from '../adapters/mounts/mount-holder.js';
import { argvForRuntime, crunEmptyDirectory } from '../core/runtime/crun-compat.js';
import { hostMountIndex } from '../adapters/procfs/mount-table.js';
import { selectMounts } from '../core/mounts/mountinfo-index.js';
import { readManifestIn, readMapsIn } from '../adapters/fs/manifest-file.js';
import { appendRuncLog, writeStderr } from './report.js';
import { runcAnswers } from './passthrough.js';
import { ContainerStateDir } from '../adapters/fs/state-dir.js';
import { failedRestoreCleanup } from './criu-root.js';

const RESTORE_CONFIG = 'criu-restore.conf';
// runc 1.1 refuses CRIU older than 3.0 (checkCriuVersion(30000)), and `--external mnt[]` exists since 2.8:
// the restore needs no `criu --version` call to pick the syntax.
const RUNC_MIN_CRIU: CriuVersion = { major: 3, minor: 0, patch: 0, text: '3.0.0' };

export async function handleRestore(
  invocation: RuncInvocation,
  argv: readonly string[],
  ctx: RuntimeContext,
): Promise<number> {
  const id = requireId(invocation);
  // An ID runc refuses, or a bundle without a readable config.json: runc's own error and exit code.
  if (!isValidContainerId(id)) return runcAnswers(argv, ctx);
  const images = imagePathOf(invocation, ctx.cwd);
  const bundle = bundleOf(invocation, ctx.cwd);
  const configText = await readBoundedText(join(bundle, 'config.json'), READ_LIMITS.ociConfig).catch(() => undefined);
  const parsed = configText === undefined ? undefined : tryParseOciSpec(configText, bundle);
  if (configText === undefined || parsed === undefined) return runcAnswers(argv, ctx);
  const state = await ContainerStateDir.open(
    ctx.config.stateDir,
    id,
    runcRootOf(invocation, ctx.cwd, ctx.env, process.geteuid?.() ?? 0),
  );
  const result: RuntimeResult = {
    verb: 'restore',
    containerId: id,
    ok: false,
    at: new Date().toISOString(),
    mounts: [],
    notes: [],
  };
  try {
    return await restore(invocation, argv, ctx, { id, images, bundle, configText, parsed, state, result });
  } catch (err) {
    const lines = formatError(err);
    writeStderr(lines);
    await appendRuncLog(invocation, 'error', lines[0]!);
    result.error = lines[0]!.replace(/^extmount: /, '');
    await state.log(`restore refused or failed: ${result.error}`);
    await state.writeResult(RESTORE_RESULT_FILE, result);
    return err instanceof ExtmountError ? err.exitCode : 1;
  }
}

interface RestoreCall {
  id: string;
  images: string;
  bundle: string;
  /** The bundle's config.json as runc will read it. */
  configText: string;
  parsed: ReturnType<typeof parseOciSpec>;
  state: ContainerStateDir;
  result: RuntimeResult;
}

async function restore(
  invocation: RuncInvocation,
  argv: readonly string[],
  ctx: RuntimeContext,
  call: RestoreCall,
): Promise<number> {
  const { parsed } = call;
  const { spec } = parsed;
  const view = resolveBindDestinations(parsed.view, rootfsReadlink(parsed.view.rootfs));
  const manifest = await readManifestIn(call.images);
  let imageMounts: MountEntry[] = [];
  if (manifest) {
    imageMounts = await readImageMounts(call.images);
    // runc keys what it maps by path: binds, devices and cgroup mounts by their destination, masked
    // files as /dev/null (libcontainer addCriuDumpMount, addMaskPaths). extmount's keys never hold "/".
    checkManifestAgainstImages(manifest, imageMounts, call.images, {
      imageKeyOf: (m) => (m.kind === 'propagated' ? m.key : m.mountpoint),
      mappedElsewhere: (e) => e.externalKey?.startsWith('/') === true,
    });
  }
  // Before anything is mounted or written: where runc's walk of the rootfs would leave the container's.
  const walk = restoreWalkProblem(
    view.mounts ?? [],
    manifest ? new Set(imageMounts.map((m) => m.mountpoint)) : undefined,
  );
  if (walk)
    throw new ExtmountError('refused', `restore refused: mount ${walk.destination} ${walk.why}`, {
      hint: 'the container changed its own mountpoints; start it afresh from its image',
    });
  const maps = await readMapsIn(call.images);
  if (!manifest && maps.size > 0) {
    throw new ExtmountError(
      'bad-input',
      `${join(call.images, CHECKPOINT_MAPS_FILE)} asks for --map, but the checkpoint has no ${MANIFEST_FILE}`,
      {
        hint: 'it was not taken through the extmount runtime; remove the maps file',
      },
    );
  }
  // Post-copy: the lazy-pages daemon starts now, its supervisor's Node.js and CRIU's start beside the
  // mapping below instead of after it (issue 26: ~150 ms of the container's pause); runc waits for its socket.
  await makeWorkPath(invocation, ctx.cwd);
  const live = invocation.options.has('lazy-pages') ? undefined : await takeLiveRequest(ctx.config.stateDir, call.id);
  if (
    live?.role !== 'restore' &&
    !invocation.options.has('lazy-pages') &&
    (await exists(join(call.images, CHECKPOINT_LAZY_FILE)))
  ) {
    throw new ExtmountError(
      'refused',
      `${call.images} is a post-copy checkpoint: its memory was served from the source's page server and never written, so these images would restore a process without its memory`,
      {
        hint: 'it restores only as the post-copy migration that made it (extmount migrate --live=postcopy); the process it froze lives on where that migration moved it, or not at all',
      },
    );
  }
  const lazy = live?.role === 'restore' ? await startLazyPages(invocation, ctx, call, live) : undefined;
  try {
    return await restoreMapped(invocation, argv, ctx, call, { spec, view, manifest, imageMounts, maps }, lazy);
  } catch (err) {
    lazy?.cancel();
    throw err;
  }
}

interface RestoreInputs {
  spec: ReturnType<typeof parseOciSpec>['spec'];
  view: ReturnType<typeof resolveBindDestinations>;
  manifest: Manifest | undefined;
  imageMounts: MountEntry[];
  maps: Awaited<ReturnType<typeof readMapsIn>>;
}

async function restoreMapped(
  invocation: RuncInvocation,
  argv: readonly string[],
  ctx: RuntimeContext,
  call: RestoreCall,
  { spec, view, manifest, imageMounts, maps }: RestoreInputs,
  lazy: LazyPages | undefined,
): Promise<number> {
  const { bundle, configText, state, result } = call;
  const configPath = join(bundle, 'config.json');
  // Only the host mounts the container's binds involve are parsed: a Kubernetes node's table is long.
  const hostIndex = await hostMountIndex();
  const plan: RuntimeRestorePlan = manifest
    ? planRuntimeRestore(manifest, view, maps, ctx.config.remap, hostIndex)
    : { ours: [], runcSources: new Map(), toCheck: [] };
  // Docker's data root is never a place to restore a mount from.
  const docker = await findDockerContainer(view, call.id);
  const extraDeny = restoreDenials(ctx.config, docker ? [docker.dataRoot] : []);
  await checkRestoreTargets(plan.toCheck, ctx.config.hostPaths, extraDeny);

  // A bind --map or a remap rule moved comes from a checked copy in the holder (below); of the others,
  // those whose detach would propagate to the host come from rslave copies.
  const sources = new Map<string, string>();
  const atRisk: Array<{ bind: OciBind; reason: string }> = [];
  const kept = view.binds.filter((b) => !plan.runcSources.has(b.destination));
  const realSources = await Promise.all(kept.map((b) => realpath(b.source).catch(() => b.source)));
  const underSources = selectMounts(hostIndex, { devices: [], paths: realSources, subtrees: realSources });
  kept.forEach((bind, i) => {
    const reason = detachPropagationRisk(realSources[i]!, underSources);
    if (reason) atRisk.push({ bind, reason });
  });
  const needHolder = atRisk.length > 0 || plan.ours.length > 0 || plan.runcSources.size > 0;
  const holder = needHolder ? await MountHolder.create(state.rootPath('mnt')) : undefined;
  let restoreConfig: (() => Promise<void>) | undefined;
  try {
    for (const { bind, reason } of atRisk) {
      sources.set(bind.destination, await holder!.rslaveCopy(bind.source));
      await state.log(`restore: ${bind.destination} from an rslave copy: ${reason}`);
    }
    for (const [destination, path] of plan.runcSources)
      sources.set(destination, await holder!.bindChecked(path, 'rslave', `bind ${destination}`));
    const criuTargets = new Map<string, string>();
    for (const source of plan.ours) {
      const { mount } = source.target;
      criuTargets.set(
        mount.key,
        await holder!.bindChecked(source.bindFrom, source.make, `${mount.mountpoint} (key ${mount.key})`),
      );
    }
    if (sources.size > 0)
      restoreConfig = await replaceFile(configPath, configText, rewriteBindSources(spec, view.binds, sources));

    const criuConfigPath = manifest
      ? await writeCriuConfig(
          state,
          manifest,
          plan,
          criuTargets,
          ctx,
          crunEmptyDirectory(ctx.runc, invocation, imageMounts),
        )
      : undefined;
    result.mounts = mountResults(manifest, plan, view.binds);
    result.notes = [...new Set(result.mounts.flatMap((m) => (m.note ? [m.note] : [])))];
    await state.log(
      `restore: ${plan.ours.length} mount(s) mapped by extmount, ${atRisk.length} bind source(s) through rslave copies`,
    );

    await lazy?.ready();
    const runtimeArgv = argvForRuntime(argv, ctx.runc);
    const clearAfterFailure = await failedRestoreCleanup(
      runcRootOf(invocation, ctx.cwd, ctx.env, process.geteuid?.() ?? 0),
      call.id,
    );
    const started = Date.now();
    const run = await runRunc(
      ctx.runc,
      lazy ? withVerbFlags(runtimeArgv, invocation.globals.length, ['--lazy-pages']) : runtimeArgv,
      {
        env: runcEnv(ctx.env, criuConfigPath),
        captureStderr: false,
        fds: ctx.fds,
        ...(ctx.relay ? { relay: ctx.relay } : {}),
        ...(lazy ? { onSpawn: lazy.watch } : {}),
      },
    );
    await lazy?.unwatch();
    if (run.exitCode !== 0) lazy?.stop();
    // The container runs on pages still to come: without its supervisor a daemon that fails would leave it
    // on zeros (criu#1933), so it does not run at all, and nothing of it stays (as after a failed restore).
    if (run.exitCode === 0 && lazy && !(await lazy.supervised())) {
      const removed = await runcDelete(ctx.runc, invocation, call.id);
      lazy.stop();
      throw new ExtmountError(
        'restore-failed',
        `post-copy: the lazy-pages supervisor did not start within 10 s; the restored container was ${removed ? 'killed and deleted' : 'to be deleted, but runc delete --force FAILED'}`,
        {
          hint: 'the supervisor is lazy-supervisor.mjs beside the runtime handler, run by the same Node.js: check that it runs, then run extmount migrate --live again',
        },
      );
    }
    result.ok = run.exitCode === 0;
    if (run.exitCode === 0) {
      for (const note of result.notes) await appendRuncLog(invocation, 'warning', `extmount: ${note}`);
      await state.writeResult(RESTORE_RESULT_FILE, result);
      return 0;
    }
    for (const line of await clearAfterFailure()) await state.log(`restore failed: ${line}`);
    const workDir = workPathOf(invocation, ctx.cwd);
    const kept = await state.keepLog(join(workDir, 'restore.log'), 'restore', started);
    const logText = kept ? await readFile(kept, 'utf8').catch(() => '') : '';
    const error = logText
      ? criuFailureError('restore', logText, kept)
      : new ExtmountError('restore-failed', `restore failed: runc exited with ${run.exitCode}`);
    const lines = formatError(error);
    // Without a CRIU log runc failed on its own, and its error (the last in --log) is the one to show.
    if (logText) {
      writeStderr(lines);
      await appendRuncLog(invocation, 'error', lines[0]!);
    }
    result.error = lines[0]!.replace(/^extmount: /, '');
    if (kept) result.criuLog = kept;
    await state.log(`failed: ${result.error}`);
    await state.writeResult(RESTORE_RESULT_FILE, result);
    return run.exitCode;
  } finally {
    // runc has read config.json and CRIU has bound what it needs: put both back as they were.
    await restoreConfig?.();
    await holder?.release();
  }
}

/**
 * Post-copy: `criu lazy-pages` pulls the pages from the source's page server; runc restore (with
 * --lazy-pages) finds it by the socket it makes in the work dir. It runs in a detached shell
 * (LAZY_PAGES_SHELL) beside a supervisor (lazy-supervisor.ts) that outlives this call and kills the
 * container if the daemon fails.
 */
async function startLazyPages(
  invocation: RuncInvocation,
  ctx: RuntimeContext,
  call: RestoreCall,
  live: LiveRequest,
): Promise<LazyPages> {
  const work = workPathOf(invocation, ctx.cwd);
  const dir = liveDir(ctx.config.stateDir, call.id);
  const missing = await missingLiveTls(ctx.config.stateDir, call.id);
  if (missing)
    throw new ExtmountError('bad-input', `restore: a post-copy request without the page server's TLS file ${missing}`, {
      hint: 'run extmount migrate --live again',
    });
  await rm(join(dir, LIVE_PAGES), { force: true });
  const job: SupervisorJob = {
    criu: invocation.globalOptions.get('criu') ?? ctx.config.criu,
    address: live.address,
    port: live.port,
    images: call.images,
    work,
    log: join(dir, LIVE_LAZY_LOG),
    runc: ctx.runc,
    runcGlobals: invocation.globals,
    id: call.id,
    stateDir: ctx.config.stateDir,
    tlsDir: dir,
  };
  await removeLiveSupervisor(ctx.config.stateDir, call.id);
  const supervisorScript = join(dirname(fileURLToPath(import.meta.url)), 'lazy-supervisor.mjs');
  const spawned = performance.now();
  const supervisor = spawn(
    '/bin/sh',
    ['-c', LAZY_PAGES_SHELL, 'extmount-lazy-pages', process.execPath, supervisorScript, ...lazyPagesArgv(job)],
    {
      detached: true,
      stdio: 'ignore',
      env: { PATH: ctx.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', [LAZY_SUPERVISOR_ENV]: JSON.stringify(job) },
    },
  );
  supervisor.unref();
  const ended = () => supervisor.exitCode !== null || supervisor.signalCode !== null;
  let stopped = false;
  const stop = () => {
    // Its process group: the shell, the daemon and the supervisor; not once the shell is reaped (its pid
    // may be another's by then).
    if (stopped) return;
    stopped = true;
    try {
      if (supervisor.pid && !ended()) process.kill(-supervisor.pid, 'SIGKILL');
    } catch {
      // gone already
    }
    void removeLiveSupervisor(ctx.config.stateDir, call.id).catch(() => undefined);
  };
  let handedToRunc = false;
  const socket = join(work, 'lazy-pages.socket');
  let watching: Promise<void> | undefined;
  let unwatched = false;
  return {
    stop,
    cancel() {
      if (!handedToRunc) stop();
    },
    async ready() {
      const asked = performance.now();
      for (;;) {
        if (await exists(socket)) break;
        const gone = ended();
        if (gone || performance.now() - asked >= 10_000) {
          stop();
          throw new ExtmountError(
            'restore-failed',
            `criu lazy-pages ${gone ? 'ended' : 'made no socket in 10 s'} before the restore (pages from ${live.address}:${live.port}): see ${job.log}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const now = performance.now();
      await call.state.log(
        `restore: post-copy, criu lazy-pages pulls from ${live.address}:${live.port} (its shell ${supervisor.pid}; the socket ${Math.round(now - spawned)} ms after it started, ${Math.round(now - asked)} ms of that waited for)`,
      );
    },
    // The daemon failed (the supervisor killed the container) while runc restore still runs: CRIU's
    // restore, its task killed under it, then waits on a futex for good ("Can't interrupt the task",
    // seen with CRIU 4.1.1), and docker start with it. Killing that CRIU makes runc fail the restore.
    watch(runcPid: number) {
      handedToRunc = true;
      watching = (async () => {
        for (; !unwatched; await new Promise((resolve) => setTimeout(resolve, 50))) {
          const pages = await readLivePages(ctx.config.stateDir, call.id).catch(() => undefined);
          if (pages && !pages.ok) {
            const criu = await killChildren(runcPid);
            await call.state.log(
              `restore: criu lazy-pages failed during the restore (${pages.signal ?? `exit ${pages.exitCode}`}): killed runc's CRIU (${criu.join(', ') || 'none left'})`,
            );
            return;
          }
        }
      })();
    },
    async supervised() {
      for (const deadline = performance.now() + 10_000; performance.now() < deadline; await sleepMs(20))
        if (await takeLiveSupervisor(ctx.config.stateDir, call.id)) return true;
      return false;
    },
    async unwatch() {
      unwatched = true;
      await watching;
    },
  };
}

const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

interface LazyPages {
  /** Kills the supervisor and its daemon. */
  stop(): void;
  /** The same, unless runc restore was started with them: they then serve its container's pages. */
  cancel(): void;
  /** Waits for the daemon's socket (what runc restore --lazy-pages connects to); fails after 10 s. */
  ready(): Promise<void>;
  /** Whether the supervisor has said it runs (it starts beside the daemon); false after 10 s. */
  supervised(): Promise<boolean>;
  /** While runc restore (RUNC_PID) runs, ends its CRIU once the daemon is known to have failed. */
  watch(runcPid: number): void;
  unwatch(): Promise<void>;
}

async function writeCriuConfig(
  state: ContainerStateDir,
  manifest: Manifest,
  plan: RuntimeRestorePlan,
  criuTargets: ReadonlyMap<string, string>,
  ctx: RuntimeContext,
  extra: readonly CriuOption[],
): Promise<string | undefined> {
  const restore = [
    ...planCriuOptions(
      planFromManifest(
        manifest,
        plan.ours.map((s) => s.target.mount),
      ),
      RUNC_MIN_CRIU,
      { targets: criuTargets },
    ).restore,
    ...extra,
  ];
  if (restore.length === 0) return undefined;
  return state.writeFile(RESTORE_CONFIG, await withInheritedCriuConfig(toConfigFile(restore), ctx.env));
}

/** Swaps a file's content for one call; returns how to put the original back. */
async function replaceFile(path: string, original: string, replacement: string): Promise<() => Promise<void>> {
  await writeFileAtomic(path, replacement, { mode: 0o644 });
  return () => writeFileAtomic(path, original, { mode: 0o644 });
}

function mountResults(
  manifest: Manifest | undefined,
  plan: RuntimeRestorePlan,
  binds: ReadonlyArray<{ destination: string; source: string }>,
): RuntimeMountResult[] {
  if (!manifest) return [];
  const ours = new Map(plan.ours.map((s) => [s.target.mount.key, s]));
  const bindSources = new Map(binds.map((b) => [b.destination, b.source]));
  return manifest.mounts.map((m): RuntimeMountResult => {
    const our = ours.get(m.key);
    const path = our
      ? our.target.path
      : (plan.runcSources.get(m.mountpoint) ?? bindSources.get(m.mountpoint) ?? m.hostPath);
    const note = our?.note ?? m.propagationNote;
    return {
      key: m.key,
      mountpoint: m.mountpoint,
      kind: m.kind,
      path,
      mappedBy: our ? 'extmount' : 'runc',
      propagation: m.propagation,
      ...(note ? { note } : {}),
    };
  });
}

/** The bundle's spec, or undefined when runc would refuse it too (then its own error is the answer). */
function tryParseOciSpec(text: string, bundle: string): ReturnType<typeof parseOciSpec> | undefined {
  try {
    return parseOciSpec(text, bundle);
  } catch {
    return undefined;
  }
}
