// How commands talk to the world: injected so tests can run them in-process.

export interface CommandIO {
  /** Machine or human output (stdout). */
  out(text: string): void;
  /** Diagnostics (stderr). */
  err(text: string): void;
  env: NodeJS.ProcessEnv;
}

export const processIO: CommandIO = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  env: process.env,
};
