// The CLI's option tables and how they are read: one table per command, from which both parseArgs's
// options and the --help lines are made (one source of truth); the flag parsers commands share.
import { parseArgs } from 'node:util';
import { ExtmountError } from '../core/errors.js';
import type { CommandContext } from '../commands/context.js';

export type Values = Record<string, string | boolean | string[] | undefined>;

/** One option: how node:util parseArgs reads it, and the line --help shows for it. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** The value's name in --help, e.g. PID. */
  arg?: string;
  /** A string option that may be given bare (`--live`): it then has this value; `--live=MODE` gives one. */
  bare?: string;
  help: string;
}
export type OptionTable = Record<string, OptionSpec>;

export interface CommandSpec {
  summary: string;
  /** Synopsis lines, without the leading "extmount ". */
  synopsis: string[];
  description: string;
  /** Positional arguments and what follows "--", for --help. */
  operands?: Record<string, string>;
  options: OptionTable;
  run(values: Values, positionals: string[], passthrough: string[], ctx: CommandContext): Promise<void>;
}

export const GLOBAL_OPTIONS: OptionTable = {
  json: { type: 'boolean', help: 'machine-readable output on stdout (logs always go to stderr)' },
  config: {
    type: 'string',
    arg: 'FILE',
    help: 'configuration file (default: /etc/extmount/config.json, else the packaged config.json)',
  },
  host: {
    type: 'string',
    arg: 'HOST',
    help: 'Docker engine: unix:///path, tcp://HOST:PORT, ssh://USER@HOST (default: DOCKER_HOST, else the local socket; as "docker extmount": the docker CLI\'s engine)',
  },
  'log-format': {
    type: 'string',
    arg: 'FORMAT',
    help: 'logs on stderr as text lines (default) or json (one object a line)',
  },
  debug: { type: 'boolean', help: 'debug logs, and stack traces on errors' },
  help: { type: 'boolean', short: 'h', help: 'this help' },
  version: { type: 'boolean', help: 'print the version' },
};

export const EXIT_CODES = 'Exit codes: 0 success, 1 the operation failed, 2 bad input or usage.';

/** The option lines of --help, generated from the tables parseArgs reads (one source of truth). */
export function formatOptions(table: OptionTable, operands: Record<string, string> = {}): string {
  const rows: [string, string][] = [
    ...Object.entries(operands),
    ...Object.entries(table).map(([name, o]): [string, string] => [
      `${o.short ? `-${o.short}, ` : ''}--${name}${o.arg ? (o.bare !== undefined ? `[=${o.arg}]` : ` ${o.arg}`) : ''}`,
      `${o.help}${o.multiple ? ' (repeatable)' : ''}`,
    ]),
  ];
  const width = Math.min(24, Math.max(...rows.map(([left]) => left.length)));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`).join('\n');
}

export function commandHelp(spec: CommandSpec): string {
  const [first, ...more] = spec.synopsis;
  return [
    `Usage: extmount ${first}`,
    ...more.map((line) => `       extmount ${line}`),
    '',
    spec.description,
    '',
    formatOptions(spec.options, spec.operands),
    '',
    'Global options:',
    formatOptions(GLOBAL_OPTIONS),
    EXIT_CODES,
  ].join('\n');
}

export function parse(
  args: string[],
  table: OptionTable,
  command: string | undefined,
): { values: Values; positionals: string[]; passthrough: string[] } {
  const terminator = args.indexOf('--');
  // A bare `--NAME` of an option with a bare value is `--NAME=VALUE`; its value only ever follows `=`.
  const bare = new Map(
    Object.entries(table).flatMap(([name, o]) =>
      o.bare !== undefined ? [[`--${name}` as string, `--${name}=${o.bare}`] as const] : [],
    ),
  );
  const own = (terminator === -1 ? args : args.slice(0, terminator)).map((a) => bare.get(a) ?? a);
  const passthrough = terminator === -1 ? [] : args.slice(terminator + 1);
  try {
    const options = Object.fromEntries(
      Object.entries(table).map(([name, o]) => [
        name,
        { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) },
      ]),
    );
    const { values, positionals } = parseArgs({ args: own, options, allowPositionals: true, strict: true });
    return { values: values as Values, positionals, passthrough };
  } catch (err) {
    throw usage((err as Error).message.replace(/\. To specify a positional argument.*$/, ''), command);
  }
}

export function usage(message: string, command?: string): ExtmountError {
  return new ExtmountError('usage', message, { hint: `see extmount ${command ? `${command} ` : ''}--help` });
}

export function noPassthrough(passthrough: string[]): void {
  if (passthrough.length > 0) throw usage(`unexpected arguments after "--": ${passthrough.join(' ')}`);
}

export function positiveInt(text: string, flag: string): number {
  if (!/^[1-9]\d{0,9}$/.test(text)) throw usage(`${flag} needs a positive number, got "${text}"`);
  return Number(text);
}

/** --key MOUNTPOINT=KEY, repeated. Keys are validated with the plan (one place). */
export function parseKeyFlags(flags: string[] | undefined): Map<string, string> {
  const keys = new Map<string, string>();
  for (const flag of flags ?? []) {
    const eq = flag.lastIndexOf('=');
    if (eq <= 0 || !flag.startsWith('/'))
      throw usage(`--key "${flag}": expected MOUNTPOINT=KEY, e.g. --key /bar=barmount`);
    const mountpoint = flag.slice(0, eq);
    if (keys.has(mountpoint)) throw usage(`--key: ${mountpoint} is given twice`);
    keys.set(mountpoint, flag.slice(eq + 1));
  }
  return keys;
}

/** --map KEY=PATH, repeated. */
export function parseMapFlags(flags: string[] | undefined): Map<string, string> {
  const maps = new Map<string, string>();
  for (const flag of flags ?? []) {
    const eq = flag.indexOf('=');
    if (eq <= 0 || !flag.slice(eq + 1).startsWith('/'))
      throw usage(`--map "${flag}": expected KEY=/ABSOLUTE/PATH, e.g. --map barmount=/srv/foo`);
    const key = flag.slice(0, eq);
    if (maps.has(key)) throw usage(`--map: ${key} is given twice`);
    maps.set(key, flag.slice(eq + 1));
  }
  return maps;
}
