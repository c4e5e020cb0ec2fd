// The one error type of extmount: a message a person can act on, the exit code it maps to, a cause.

/** 2: bad input or usage (the caller can fix it); 1: the operation failed (CRIU, Docker, restore). */
export type ExitCode = 1 | 2;

export type ErrorCode =
  | 'usage' // unknown flag, missing argument
  | 'bad-input' // unreadable or malformed file, unknown pid/container
  | 'parse' // malformed mountinfo or CRIU image
  | 'refused' // a mapping, path or manifest that policy forbids
  | 'busy' // another extmount run holds what this one needs (an images dir, a container being migrated)
  | 'criu-failed'
  | 'docker-failed'
  | 'restore-failed'
  | 'registry-failed'; // a registry refused or failed a push or pull

/**
 * Why an operation failed, where code branches on it (never on the message's text): unreachable, the
 * engine never answered (a connection error); criu-failed, the engine said CRIU failed.
 */
export type ErrorReason = 'unreachable' | 'criu-failed';

const exitCodes: Record<ErrorCode, ExitCode> = {
  usage: 2,
  'bad-input': 2,
  parse: 2,
  refused: 2,
  // Nothing was attempted and the caller can act (wait, or end the other run), as for bad input; not a
  // failed operation (1), which callers read as "something was tried and may have changed things".
  busy: 2,
  'criu-failed': 1,
  'docker-failed': 1,
  'restore-failed': 1,
  'registry-failed': 1,
};

export class ExtmountError extends Error {
  override name = 'ExtmountError';
  readonly code: ErrorCode;
  /** What to do about it, appended to the one-line message. */
  readonly hint: string | undefined;
  /** Extra lines shown under the message (e.g. the Error lines quoted from a CRIU log). */
  readonly details: readonly string[];
  /** What code decides on (ErrorReason); undefined when nothing does. */
  readonly reason: ErrorReason | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { hint?: string; cause?: unknown; details?: string[]; reason?: ErrorReason | undefined } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.details = options.details ?? [];
    this.reason = options.reason;
  }

  get exitCode(): ExitCode {
    return exitCodes[this.code];
  }
}

/** Whether ERR is an ExtmountError for REASON. */
export function hasReason(err: unknown, reason: ErrorReason): boolean {
  return err instanceof ExtmountError && err.reason === reason;
}

/** A failed file operation as bad input: what could not be done where, and "run as root" when it is that. */
export function fileError(action: string, path: string, err: unknown): ExtmountError {
  const code = (err as { code?: string }).code;
  const denied = code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
  const reason =
    code === 'ENOENT'
      ? 'no such file or directory'
      : denied
        ? 'permission denied'
        : ((err as Error).message ?? String(err));
  return new ExtmountError('bad-input', `cannot ${action} ${path}: ${reason}`, {
    ...(denied ? { hint: 'run extmount as root' } : {}),
    cause: err,
  });
}

/** The lines the CLI prints on stderr for an error: `extmount: <message>[: <hint>]`, then details. */
export function formatError(err: unknown, debug = false): string[] {
  if (err instanceof ExtmountError) {
    const first = `extmount: ${oneLine(err.message)}${err.hint ? `; ${oneLine(err.hint)}` : ''}`;
    const lines = [first, ...err.details.map((d) => `  ${d}`)];
    if (debug && err.stack) lines.push(err.stack);
    if (debug && err.cause instanceof Error && err.cause.stack) lines.push(`caused by: ${err.cause.stack}`);
    return lines;
  }
  const message = err instanceof Error ? err.message : String(err);
  const lines = [`extmount: internal error: ${oneLine(message)}; rerun with --debug and report it`];
  if (debug && err instanceof Error && err.stack) lines.push(err.stack);
  return lines;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
