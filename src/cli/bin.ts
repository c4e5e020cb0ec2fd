// The CLI bundle's entry (build/src/cli-bundle/cli.cjs, which src/cli/extmount.cts loads): the process
// around main(). Nothing runs when the bundle loads, so that the build can warm its code cache.
import { main } from './main.js';

export { main };

/** Runs ARGV as this process's command line, and exits with its code. */
export async function run(argv: string[]): Promise<void> {
  // `extmount detect --json | head -1`: a closed pipe ends the output, not with a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  // A command whose promise never settles would otherwise end with exit 0 once nothing is left to run.
  let done = false;
  process.once('beforeExit', () => {
    if (done) return;
    process.exitCode = 1;
    process.stderr.write(
      'extmount: internal error: the command stopped before it finished; please report it with --debug output\n',
    );
  });
  process.exitCode = await main(argv);
  done = true;
  // Settled is done: a request still open to an engine must not keep the process (a post-copy
  // migration that holds its source frozen leaves dockerd's checkpoint call pending for a re-run to
  // end; dockerd carries on with it when its client goes, as a killed migrate showed). stdout and
  // stderr are synchronous on Linux for files, pipes and terminals: nothing written is lost.
  process.exit();
}
