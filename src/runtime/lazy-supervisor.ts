// The supervisor of `criu lazy-pages` on the restoring side of a post-copy migration (bundled as
// lazy-supervisor.mjs; the restore handler starts it detached, in its own session, before runc restore).
//
// Until the daemon has pulled every page the restored container runs on memory that is only partly
// there. When the daemon exits before that, its userfaultfd goes away and every page not yet copied
// faults in as a zero page: the container runs on with corrupt memory (seen on kernel 6.18, CRIU 4.1.1
// and 4.2.1: docs/lazy-pages.md; criu#1933). So a daemon that does not end with success kills the
// container, whoever else is still there to notice.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { writeLivePages } from '../adapters/live-files.js';
import { LAZY_SUPERVISOR_ENV, transferredPages, type LivePages, type SupervisorJob } from '../core/live/live-request.js';

export async function supervise(job: SupervisorJob): Promise<void> {
  const daemon = spawn(job.criu, ['lazy-pages', '--page-server', '--address', job.address, '--port', String(job.port), '--images-dir', job.images, '--work-dir', job.work, '-o', job.log, '-v4'], {
    stdio: 'ignore',
  });
  const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    daemon.once('error', () => resolve([null, null]));
    daemon.once('exit', (code, sig) => resolve([code, sig]));
  });
  const counts = transferredPages(await readFile(job.log, 'utf8').catch(() => ''));
  const ok = exitCode === 0 && counts !== undefined && counts.transferred === counts.total;
  const pages: LivePages = { ok, exitCode, signal, transferred: counts?.transferred ?? null, total: counts?.total ?? null };
  if (!ok) {
    const kill = spawn(job.runc, [...job.runcGlobals, 'kill', job.id, 'KILL'], { stdio: 'ignore', env: { ...process.env, EXTMOUNT_WRAPPED: '1' } });
    const killed = await new Promise<number | null>((resolve) => {
      kill.once('error', () => resolve(null));
      kill.once('exit', (code) => resolve(code));
    });
    pages.killed = killed === 0 ? 'SIGKILL (runc kill)' : `runc kill failed (${killed ?? 'not run'})`;
  }
  await writeLivePages(job.stateDir, job.id, pages);
}

const job = process.env[LAZY_SUPERVISOR_ENV];
if (job) await supervise(JSON.parse(job) as SupervisorJob);
