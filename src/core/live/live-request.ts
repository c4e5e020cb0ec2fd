// Post-copy (CRIU lazy pages) through the runtime wrapper: what `extmount migrate --live` asks the wrapper
// on each engine to do with the next checkpoint or restore of one container, and what the wrapper answers.
//
// dockerd's checkpoint API has no lazy option (moby: `checkpoint create` calls the runtime with
// --image-path and --work-path only), so the request travels beside the call, in the wrapper's state dir.
import { constants } from 'node:os';
import { ExtmountError } from '../errors.js';

const signalNumbers: Readonly<Record<string, number>> = constants.signals;

/** `dump`: serve the frozen container's memory from a page server; `restore`: pull it from there after the restore. */
export interface LiveRequest {
  role: 'dump' | 'restore';
  address: string;
  port: number;
  /** Epoch ms after which the request is stale and ignored (a migrate that died must not make a later checkpoint lazy). */
  expiresAt: number;
  /** dump: the lazy dump is given up (and the source resumed) if no restore has pulled from it within this many ms after it listens. */
  connectWithinMs: number;
  /** dump: the container the pages go to; the source is ended only once that one's supervisor reports every page received. */
  peer?: string;
  /** dump: once every page is on the peer, how long the frozen source waits for migrate's release (LIVE_RELEASE) before it is ended anyway. */
  releaseWithinMs?: number;
}

/**
 * migrate's word to the source's wrapper once every page is on the target: end the source, keep it
 * (the copy failed its window), or hold it frozen until a later word (the copy could not be removed).
 */
export interface LiveRelease {
  action: 'end' | 'keep' | 'hold';
}

/** Written by the wrapper once runc's page server listens (runc --status-fd): the images are then complete but for the pages. */
export interface LiveReady {
  imagePath: string;
  workPath: string;
  /** The wrapper process that runs `runc checkpoint --lazy-pages`. */
  pid: number;
  /** Where its page server listens (a re-run ends one that an interrupted run left waiting). */
  address: string;
  port: number;
}

/** Written by the supervisor of `criu lazy-pages` on the target when the daemon exits. */
export interface LivePages {
  ok: boolean;
  exitCode: number | null;
  signal: string | null;
  /** From the daemon's log: "UFFD transferred pages: (N/M)" (M counts pages of processes that exited before needing them). */
  transferred: number | null;
  total: number | null;
  /** What the supervisor did to a container whose memory is incomplete. */
  killed?: string;
}

/** The supervisor's job (runtime/lazy-supervisor.ts), in its environment. */
export const LAZY_SUPERVISOR_ENV = 'EXTMOUNT_LAZY_SUPERVISE';

/**
 * What the restore handler starts, detached, for post-copy: a shell whose pipeline runs `criu lazy-pages`
 * and the supervisor's Node.js side by side, so that the daemon's socket (what runc restore waits for)
 * does not wait for a Node.js start. The daemon's exit status ("$?" and a newline) goes down the pipe;
 * the supervisor reads it, or the pipe's end without it (the daemon's side killed). Its arguments: NODE
 * SUPERVISOR and the daemon's argv (lazyPagesArgv); nothing in the shell's text is built from them.
 */
export const LAZY_PAGES_SHELL =
  'node=$1 supervisor=$2; shift 2; { "$@" </dev/null >/dev/null 2>&1; echo "$?"; } | "$node" "$supervisor"';

/** `criu lazy-pages` for a supervisor's job: pulls from the source's page server, over TLS. */
export function lazyPagesArgv(job: SupervisorJob): string[] {
  return [
    job.criu,
    'lazy-pages',
    '--page-server',
    '--address',
    job.address,
    '--port',
    String(job.port),
    '--images-dir',
    job.images,
    '--work-dir',
    job.work,
    ...tlsCriuArgs(job.tlsDir),
    '-o',
    job.log,
    '-v4',
  ];
}

/**
 * How the daemon ended, from what LAZY_PAGES_SHELL sends its supervisor ("$?" and a newline): a status
 * above 128 is the shell's word for a death by signal 128+N. undefined unless the line is whole.
 */
export function daemonEnd(text: string): { exitCode: number | null; signal: string | null } | undefined {
  const match = /^(\d{1,3})\n$/.exec(text);
  if (!match) return undefined;
  const status = Number(match[1]);
  if (status <= 128) return { exitCode: status, signal: null };
  const signal = Object.entries(signalNumbers).find(([, n]) => n === status - 128)?.[0];
  return { exitCode: null, signal: signal ?? `signal ${status - 128}` };
}

export interface SupervisorJob {
  criu: string;
  address: string;
  port: number;
  images: string;
  work: string;
  log: string;
  runc: string;
  runcGlobals: string[];
  id: string;
  stateDir: string;
  /** The live dir holding the page server's TLS files (LIVE_TLS_*). */
  tlsDir: string;
}

export const LIVE_REQUEST = 'request.json';
export const LIVE_READY = 'ready.json';
export const LIVE_PAGES = 'pages.json';
export const LIVE_LAZY_LOG = 'lazy-pages.log';
/** Written by the supervisor once it runs (its pid); the restore handler takes it before it reports success. */
export const LIVE_LAZY_SUPERVISOR = 'lazy-pages.supervisor';
/** Written by migrate to end a lazy dump whose page server has not been pulled from (the wrapper polls for it). */
export const LIVE_ABORT = 'abort';
export const LIVE_RELEASE = 'release.json';
/**
 * The page server's TLS files, in the live dir of each side: one certificate (for the page server's
 * address) and its key, signed by a CA made for this one migration and then thrown away. CRIU's page
 * server asks its client for a certificate and both ends check the other's against that CA and the
 * address (criu/tls.c), so only the two ends of this migration can connect: without it, any local
 * user reaching 127.0.0.1:PORT first was served the container's memory.
 */
export const LIVE_TLS_CA = 'tls-ca.pem';
export const LIVE_TLS_CERT = 'tls-cert.pem';
export const LIVE_TLS_KEY = 'tls-key.pem';

/** CRIU's options for the TLS files in DIR (a config file's lines, or `--flag value` arguments). */
export function tlsCriuOptions(dir: string): Array<readonly [string, string?]> {
  return [
    ['tls'],
    ['tls-cacert', `${dir}/${LIVE_TLS_CA}`],
    ['tls-cert', `${dir}/${LIVE_TLS_CERT}`],
    ['tls-key', `${dir}/${LIVE_TLS_KEY}`],
  ];
}

export function tlsCriuArgs(dir: string): string[] {
  return tlsCriuOptions(dir).flatMap(([flag, value]) => (value === undefined ? [`--${flag}`] : [`--${flag}`, value]));
}

export function parseLiveRelease(text: string): LiveRelease | undefined {
  try {
    const r = JSON.parse(text) as Partial<LiveRelease>;
    return r.action === 'end' || r.action === 'keep' || r.action === 'hold' ? { action: r.action } : undefined;
  } catch {
    return undefined;
  }
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** An address CRIU takes as it is (a literal IPv4 address: no name lookups inside a freeze). */
export function isPageServerAddress(text: string): boolean {
  return IPV4.test(text);
}

export function parseLiveRequest(text: string, where: string): LiveRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ExtmountError('bad-input', `${where}: not JSON`);
  }
  const r = value as Partial<LiveRequest> | null;
  if (
    !r ||
    typeof r !== 'object' ||
    (r.role !== 'dump' && r.role !== 'restore') ||
    typeof r.address !== 'string' ||
    !isPageServerAddress(r.address) ||
    typeof r.port !== 'number' ||
    !Number.isInteger(r.port) ||
    r.port < 1 ||
    r.port > 65535 ||
    typeof r.expiresAt !== 'number' ||
    typeof r.connectWithinMs !== 'number' ||
    !(r.connectWithinMs >= 1000 && r.connectWithinMs <= 3_600_000)
  ) {
    throw new ExtmountError(
      'bad-input',
      `${where}: not a live migration request (role dump|restore, an IPv4 address, a port, expiresAt, connectWithinMs 1000..3600000)`,
    );
  }
  if (r.role === 'dump' && (typeof r.peer !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_+.-]{0,127}$/.test(r.peer))) {
    throw new ExtmountError('bad-input', `${where}: a dump request names the container its pages go to (peer)`);
  }
  const release =
    r.role === 'dump' &&
    typeof r.releaseWithinMs === 'number' &&
    r.releaseWithinMs >= 1000 &&
    r.releaseWithinMs <= 3_600_000
      ? { releaseWithinMs: r.releaseWithinMs }
      : {};
  return {
    role: r.role,
    address: r.address,
    port: r.port,
    expiresAt: r.expiresAt,
    connectWithinMs: r.connectWithinMs,
    ...(r.role === 'dump' ? { peer: r.peer!, ...release } : {}),
  };
}

export function parseLiveReady(text: string): LiveReady | undefined {
  try {
    const r = JSON.parse(text) as Partial<LiveReady>;
    if (
      typeof r.imagePath === 'string' &&
      r.imagePath.startsWith('/') &&
      typeof r.workPath === 'string' &&
      typeof r.pid === 'number' &&
      typeof r.address === 'string' &&
      isPageServerAddress(r.address) &&
      typeof r.port === 'number'
    )
      return r as LiveReady;
  } catch {
    // below
  }
  return undefined;
}

export function parseLivePages(text: string): LivePages | undefined {
  try {
    const r = JSON.parse(text) as Partial<LivePages>;
    if (typeof r.ok === 'boolean') return r as LivePages;
  } catch {
    // below
  }
  return undefined;
}

/** The last "UFFD transferred pages: (N/M)" of a `criu lazy-pages` log (criu/uffd.c). */
export function transferredPages(log: string): { transferred: number; total: number } | undefined {
  const all = [...log.matchAll(/UFFD transferred pages: \((\d+)\/(\d+)\)/g)];
  const last = all.at(-1);
  return last ? { transferred: Number(last[1]), total: Number(last[2]) } : undefined;
}

/** argv with FLAGS right after the verb (urfave/cli takes a verb's flags anywhere before `--`). */
export function withVerbFlags(argv: readonly string[], globalsLength: number, flags: readonly string[]): string[] {
  return [...argv.slice(0, globalsLength + 1), ...flags, ...argv.slice(globalsLength + 1)];
}

/** What --live may ask for; `auto` when given without a value. */
export type LiveMode = 'postcopy' | 'precopy' | 'off';
export type LiveRequestMode = LiveMode | 'auto';

/** What the hosts can do, read before anything is frozen. */
export interface LiveFacts {
  /** `criu check --feature uffd-noncoop`. */
  uffd: boolean;
  /** `criu check --feature mem_dirty_track`. */
  dirtyTracking: boolean;
  /** /proc/sys/fs/pipe-max-size, bytes. */
  pipeMaxSize: number;
  /** Why the containers' runtimes cannot do it (both engines must run it with the extmount runtime over runc); undefined when they can. */
  runtimeProblem: string | undefined;
  /** Why the two engines' state dirs cannot be reached from here; undefined when they can. */
  localProblem: string | undefined;
  /** Why the page server's TLS certificate cannot be made here (openssl(1)); undefined when it can. */
  tlsProblem: string | undefined;
}

/**
 * CRIU's lazy page server asks the kernel for a 4 MiB pipe (criu/page-pipe.c pipe_read_dest_init:
 * PIPE_MAX_SIZE pages); without CAP_SYS_RESOURCE that fails above fs.pipe-max-size, and the page
 * server then splices into fd -1 ("page-pipe: splice: -1: Bad file descriptor", docs/lazy-pages.md).
 */
export const LAZY_PIPE_BYTES = 4 * 1024 * 1024;

export interface LiveChoice {
  mode: LiveMode;
  why: string;
}

/** What keeps a mode from running: which fact (it chooses the hint) and what it says. */
interface LiveProblem {
  kind: 'runtime' | 'local' | 'uffd' | 'pipe' | 'tls' | 'dirty-tracking' | 'not-built';
  text: string | undefined;
}

/** The mode that runs, and why; an explicit mode these hosts cannot do is refused (exit 2) with what is missing. */
export function chooseLiveMode(requested: LiveRequestMode, facts: LiveFacts): LiveChoice {
  if (requested === 'off') return { mode: 'off', why: '--live=off: stop-and-copy' };
  const common: LiveProblem | undefined =
    facts.runtimeProblem !== undefined
      ? { kind: 'runtime', text: facts.runtimeProblem }
      : facts.localProblem !== undefined
        ? { kind: 'local', text: facts.localProblem }
        : undefined;
  const postcopy: LiveProblem =
    common ??
    (!facts.uffd
      ? {
          kind: 'uffd',
          text: 'this kernel or CRIU has no non-cooperative userfaultfd (criu check --feature uffd-noncoop)',
        }
      : facts.pipeMaxSize < LAZY_PIPE_BYTES
        ? {
            kind: 'pipe',
            text: `fs.pipe-max-size is ${facts.pipeMaxSize}, below the ${LAZY_PIPE_BYTES} bytes CRIU's lazy page server needs without CAP_SYS_RESOURCE (its page server fails with "splice: -1: Bad file descriptor")`,
          }
        : { kind: 'tls', text: facts.tlsProblem });
  const precopy: LiveProblem =
    common ??
    (!facts.dirtyTracking
      ? {
          kind: 'dirty-tracking',
          text: 'this kernel has no soft-dirty page tracking (criu check --feature mem_dirty_track: "Dirty tracking is OFF")',
        }
      : { kind: 'not-built', text: 'pre-copy is not built yet' });
  if (requested === 'postcopy') {
    if (postcopy.text) throw refusal('postcopy', postcopy);
    return { mode: 'postcopy', why: '--live=postcopy' };
  }
  if (requested === 'precopy') throw refusal('precopy', precopy);
  if (!postcopy.text)
    return {
      mode: 'postcopy',
      why: 'post-copy: the memory moves after the resume (userfaultfd and the page server work here)',
    };
  return {
    mode: 'off',
    why: `stop-and-copy: post-copy cannot run (${postcopy.text}); pre-copy cannot run (${precopy.text})`,
  };
}

function refusal(mode: string, problem: LiveProblem): ExtmountError {
  const hint =
    problem.kind === 'pipe'
      ? 'raise it on the source host (sysctl -w fs.pipe-max-size=4194304), or migrate with --live=off'
      : problem.kind === 'runtime'
        ? 'run the container with the extmount runtime on both engines (extmount install-runtime), or migrate with --live=off'
        : problem.kind === 'tls'
          ? 'install openssl (apt-get install openssl), or migrate with --live=off'
          : 'migrate with --live=off (stop-and-copy)';
  return new ExtmountError('refused', `--live=${mode} cannot run: ${problem.text}`, { hint });
}
