// Runs the built CLI as a user would: a child process, its exit code, stdout and stderr.
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const CLI = fileURLToPath(new URL('../../src/cli/extmount.cjs', import.meta.url));

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runCli(
  args: string[],
  options: { env?: Record<string, string>; input?: string } = {},
): Promise<CliResult> {
  const result = await execa(process.execPath, [CLI, ...args], {
    reject: false,
    env: options.env,
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' }),
  });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

/** The contract for exit 1 and 2: one line `extmount: …` on stderr, no stack trace. */
export function assertOneLineError(result: CliResult, exitCode: 1 | 2, pattern: RegExp): void {
  const lines = result.stderr.trim().split('\n');
  if (result.exitCode !== exitCode)
    throw new Error(`exit ${result.exitCode}, expected ${exitCode}; stderr: ${result.stderr}`);
  if (!lines[0]!.startsWith('extmount: ')) throw new Error(`stderr does not start with "extmount: ": ${result.stderr}`);
  if (!pattern.test(lines[0]!)) throw new Error(`stderr ${JSON.stringify(lines[0])} does not match ${pattern}`);
  if (exitCode === 2 && lines.length !== 1) throw new Error(`expected one line on stderr, got: ${result.stderr}`);
  if (/\n\s+at .+:\d+:\d+\)?$/m.test(result.stderr)) throw new Error(`stack trace on stderr: ${result.stderr}`);
}
