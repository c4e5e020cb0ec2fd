// Logs go to stderr, always (stdout is for the command's output).
import { destination, pino, stdTimeFunctions, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({ level, base: undefined, timestamp: stdTimeFunctions.isoTime }, destination({ fd: 2, sync: true }));
}
