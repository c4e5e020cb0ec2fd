// The supervisor of `criu lazy-pages` on the restoring side of a post-copy migration (bundled as
// lazy-supervisor.mjs). The restore handler starts LAZY_PAGES_SHELL detached, in its own session, before
// runc restore: its pipeline runs the daemon and this side by side (a Node.js start before the daemon's
// was most of runc's wait), and sends this the daemon's exit status down the pipe.
//
// Until the daemon has pulled every page the restored container runs on memory that is only partly
// there. When the daemon exits before that, its userfaultfd goes away and every page not yet copied
// faults in as a zero page: the container runs on with corrupt memory (seen on kernel 6.18, CRIU 4.1.1
// and 4.2.1: docs/lazy-pages.md; criu#1933). So a daemon that does not end with success kills the
// container, whoever else is still there to notice.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { writeLivePages, writeLiveSupervisor } from '../adapters/live/live-files.js';
import {
  LAZY_SUPERVISOR_ENV,
  daemonEnd,
  transferredPages,
  type LivePages,
  type SupervisorJob,
} from '../core/live/live-request.js';

export async function supervise(job: SupervisorJob): Promise<void> {
  // The restore handler reports no success before it has read this (else it kills the container).
  await writeLiveSupervisor(job.stateDir, job.id, process.pid);
  const { exitCode, signal } = await daemonEnded();
  const counts = transferredPages(await readFile(job.log, 'utf8').catch(() => ''));
  // The page counts are no verdict: a daemon that ends well counts, in the total, the pages of restored
  // processes that exited before touching them (seen: 8 of 9, exit 0, with a shell loop's short-lived
  // `sleep` children). Nor is its exit status alone: it also ends with 0 when the container died
  // mid-pull, nobody being left to need a page (seen: the copy SIGKILLed 100 ms in). Every page the
  // container needs has arrived when the daemon ended well and the container still runs.
  const ok = exitCode === 0 && (await containerStatus(job)) === 'running';
  const pages: LivePages = {
    ok,
    exitCode,
    signal,
    transferred: counts?.transferred ?? null,
    total: counts?.total ?? null,
  };
  if (!ok) {
    const kill = spawn(job.runc, [...job.runcGlobals, 'kill', job.id, 'KILL'], {
      stdio: 'ignore',
      env: { ...process.env, EXTMOUNT_WRAPPED: '1' },
    });
    const killed = await new Promise<number | null>((resolve) => {
      kill.once('error', () => resolve(null));
      kill.once('exit', (code) => resolve(code));
    });
    pages.killed = killed === 0 ? 'SIGKILL (runc kill)' : `runc kill failed (${killed ?? 'not run'})`;
  }
  await writeLivePages(job.stateDir, job.id, pages);
}

async function containerStatus(job: SupervisorJob): Promise<string | undefined> {
  const state = spawn(job.runc, [...job.runcGlobals, 'state', job.id], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, EXTMOUNT_WRAPPED: '1' },
  });
  const chunks: Buffer[] = [];
  state.stdout.on('data', (c: Buffer) => chunks.push(c));
  const code = await new Promise<number | null>((resolve) => {
    state.once('error', () => resolve(null));
    state.once('close', (c) => resolve(c));
  });
  if (code !== 0) return undefined;
  try {
    return (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { status?: string }).status;
  } catch {
    return undefined;
  }
}

/** The daemon's end as the shell sends it; the pipe's end without it (the daemon's side killed) is a failed daemon. */
async function daemonEnded(): Promise<{ exitCode: number | null; signal: string | null }> {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) {
    text += chunk as string;
    if (text.length > 16) break;
  }
  return daemonEnd(text) ?? { exitCode: null, signal: null };
}

const job = process.env[LAZY_SUPERVISOR_ENV];
if (job) await supervise(JSON.parse(job) as SupervisorJob);
