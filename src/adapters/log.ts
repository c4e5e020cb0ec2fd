// Logs go to stderr, always (stdout is for the command's output): plain `extmount: warning: …` lines
// by default, one JSON object a line (pino) with --log-format json. pino is loaded only then: it and
// its worker threads are most of what an offline command would otherwise load at start.

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type LogFormat = 'text' | 'json';

type LogFn = (objOrMsg: object | string, msg?: string) => void;

/** The part of pino's Logger that extmount uses; pino's own Logger satisfies it. */
export interface Log {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
}

const RANK: Record<LogLevel, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Infinity,
};
const LABEL: Partial<Record<LogLevel, string>> = { error: 'error: ', warn: 'warning: ', debug: 'debug: ' };

/** One readable line a message: `extmount: warning: …`; fields of a debug object follow as key=value. */
export function formatLogLine(level: LogLevel, objOrMsg: object | string, msg?: string): string {
  const text = typeof objOrMsg === 'string' ? objOrMsg : (msg ?? '');
  const fields =
    typeof objOrMsg === 'string'
      ? ''
      : Object.entries(objOrMsg)
          .map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join('');
  // A message is one line whatever it quotes (dockerd and CRIU errors carry newlines).
  return `extmount: ${LABEL[level] ?? ''}${text}${fields}`.replace(/\s*\n\s*/g, ' ');
}

export function textLogger(level: LogLevel, write: (line: string) => void): Log {
  const at = (l: LogLevel): LogFn =>
    RANK[l] >= RANK[level] ? (objOrMsg, msg) => write(formatLogLine(l, objOrMsg, msg)) : () => undefined;
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

export async function createLogger(
  level: LogLevel,
  format: LogFormat = 'text',
  write?: (line: string) => void,
): Promise<Log> {
  if (format === 'text') return textLogger(level, write ?? ((line) => process.stderr.write(`${line}\n`)));
  const { destination, pino, stdTimeFunctions } = await import('pino');
  // Through `write` when one is given (the CLI's injected stderr), else straight to fd 2.
  const sink = write ? { write: (line: string) => write(line.replace(/\n$/, '')) } : destination({ fd: 2, sync: true });
  const logger = pino({ level, base: undefined, timestamp: stdTimeFunctions.isoTime }, sink);
  const at =
    (l: 'error' | 'warn' | 'info' | 'debug'): LogFn =>
    (objOrMsg, msg) =>
      typeof objOrMsg === 'string' ? logger[l](objOrMsg) : logger[l](objOrMsg, msg);
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}
