// The docs against the CLI's option tables (src/cli/commands/ via main.ts COMMANDS, src/cli/options.ts GLOBAL_OPTIONS):
// every `extmount …` command line in README.md and docs/*.md names a command that exists and only flags it
// (or the global table) has; docs/cli.md documents every command and exactly the flags of its table; and
// every relative link in them leads to a file that exists.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMMANDS, DOCKER_CLI_PLUGIN_FLAG } from '../src/cli/main.js';
import { GLOBAL_OPTIONS, type OptionTable } from '../src/cli/options.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DOCS = [
  'README.md',
  ...readdirSync(join(REPO, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

export interface CommandLine {
  file: string;
  line: number;
  text: string;
}

/** `extmount …` command lines: each line of a fenced block (continuations joined), and each inline code span. */
export function commandLines(file: string, markdown: string): CommandLine[] {
  const found: CommandLine[] = [];
  const lines = markdown.split('\n');
  let fence = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^\s*(```|~~~)/.test(line)) {
      fence = !fence;
      continue;
    }
    if (fence) {
      let text = line;
      const start = i;
      while (text.endsWith('\\') && i + 1 < lines.length) text = `${text.slice(0, -1)} ${lines[++i]!.trim()}`;
      found.push(...invocations(text).map((t) => ({ file, line: start + 1, text: t })));
      continue;
    }
    for (const span of line.matchAll(/(`+)([^`]+?)\1/g))
      found.push(...invocations(span[2]!).map((t) => ({ file, line: i + 1, text: t })));
  }
  return found;
}

/**
 * Each `extmount ARGS` in a piece of shell: from the word `extmount` (not the value of an option such
 * as `--runtime extmount`, not a path or a name like hooks/extmount-runc) to the end of that command
 * (a comment, `&&`, `||`, `|`, `;`).
 */
function invocations(text: string): string[] {
  const words = text
    .replace(/(^|\s)#.*$/, '')
    .trim()
    .split(/\s+/);
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    if (words[i] !== 'extmount' || (i > 0 && words[i - 1]!.startsWith('-'))) continue;
    const args: string[] = [];
    for (let j = i + 1; j < words.length && !/^(&&|\|\||\||;)$/.test(words[j]!); j++) args.push(words[j]!);
    if (args.length > 0) out.push(`extmount ${args.join(' ')}`);
  }
  return out;
}

/** The command a line names (after any global options) and the long flags it uses before a `--` terminator. */
export function parseCommandLine(text: string): { command: string | undefined; flags: string[] } {
  const args = text.split(/\s+/).slice(1);
  const terminator = args.indexOf('--');
  const own = terminator === -1 ? args : args.slice(0, terminator);
  let command: string | undefined;
  for (let i = 0; i < own.length; i++) {
    const arg = own[i]!;
    if (/^[[(]/.test(arg) && !/^[[(]*-/.test(arg)) continue; // [GLOBAL OPTIONS]: synopsis, not a command
    if (/^[[(]*-/.test(arg)) {
      if (/^[[(]*--(config|host|log-format)$/.test(arg)) i++;
      continue;
    }
    command = arg;
    break;
  }
  const flags = own.flatMap((arg) => {
    const m = /^[[(]*(--[a-z][a-z0-9-]*)/.exec(arg);
    return m ? [m[1]!] : [];
  });
  return { command, flags };
}

/** Why a command line does not match the tables; undefined when it does. */
export function checkCommandLine(text: string): string | undefined {
  const { command, flags } = parseCommandLine(text);
  // A placeholder (`extmount COMMAND --help`) or `extmount help COMMAND` can take the global options only.
  const generic =
    command === undefined || command === 'help' || /^[A-Z_[\]]+$/.test(command) || command === '…' || command === '...';
  const spec = generic ? undefined : COMMANDS[command];
  if (!generic && !spec) return `unknown command "${command}"`;
  const known: OptionTable = { ...GLOBAL_OPTIONS, ...(spec?.options ?? {}) };
  const unknown = flags.filter((f) => f !== DOCKER_CLI_PLUGIN_FLAG && !Object.hasOwn(known, f.slice(2)));
  return unknown.length > 0
    ? `${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not ${generic ? 'a global option' : `an option of "${command}"`}`
    : undefined;
}

/** docs/cli.md's sections: `## extmount NAME` (a command) and `## Global options`, with the flags their option tables list. */
export function cliReference(markdown: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of markdown.split('\n')) {
    const heading = /^## (?:`?extmount ([a-z-]+)`?|(Global options))\s*$/.exec(line);
    if (heading) {
      current = [];
      sections.set(heading[1] ?? 'global', current);
      continue;
    }
    if (/^## /.test(line)) current = undefined;
    // An option row: | `--flag ARG` | … | (or `-h, --help`).
    const row = /^\|\s*`(?:-[a-zA-Z], )?--([a-z][a-z0-9-]*)/.exec(line);
    if (row && current) current.push(row[1]!);
  }
  return sections;
}

describe('docs: every extmount command line matches the option tables', () => {
  const all = DOCS.flatMap((file) => commandLines(file, readFileSync(join(REPO, file), 'utf8')));

  it('finds the command lines (README and docs/cli.md show commands)', () => {
    assert.ok(
      all.some((c) => c.file === 'README.md'),
      'no extmount command line in README.md',
    );
    assert.ok(
      all.some((c) => c.file === 'docs/cli.md'),
      'no extmount command line in docs/cli.md',
    );
  });

  it('names only commands that exist, with flags of that command or global ones', () => {
    const wrong = all.flatMap((c) => {
      const why = checkCommandLine(c.text);
      return why ? [`${c.file}:${c.line}: ${c.text}\n    ${why}`] : [];
    });
    assert.deepEqual(wrong, [], `command lines that do not match src/cli:\n${wrong.join('\n')}`);
  });
});

describe('docs/cli.md: every command and exactly the flags of its table', () => {
  const reference = cliReference(readFileSync(join(REPO, 'docs/cli.md'), 'utf8'));

  it('has a "## Global options" section listing exactly GLOBAL_OPTIONS', () => {
    assert.deepEqual([...(reference.get('global') ?? [])].sort(), Object.keys(GLOBAL_OPTIONS).sort());
  });

  for (const [name, spec] of Object.entries(COMMANDS)) {
    it(`has a "## extmount ${name}" section whose option table lists exactly its flags`, () => {
      assert.ok(reference.has(name), `docs/cli.md has no "## extmount ${name}" section`);
      assert.deepEqual(
        [...reference.get(name)!].sort(),
        Object.keys(spec.options).sort(),
        `docs/cli.md, extmount ${name}: documented flags differ from src/cli/commands/${name}.ts`,
      );
    });
  }

  it('documents no command the CLI does not have', () => {
    const extra = [...reference.keys()].filter((n) => n !== 'global' && !COMMANDS[n]);
    assert.deepEqual(extra, []);
  });
});

describe('docs: relative links lead to files that exist', () => {
  it('README.md and docs/*.md', () => {
    const broken: string[] = [];
    for (const file of DOCS) {
      const text = readFileSync(join(REPO, file), 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.split('#')[0]!;
        if (target === '' || /^[a-z]+:/.test(target)) continue;
        const path = join(dirname(join(REPO, file)), target);
        if (!existsSync(path)) broken.push(`${file}: ${m[1]}`);
      }
    }
    assert.deepEqual(broken, []);
  });
});

describe('docs test: the checks can fail', () => {
  it('refuses an unknown command and a flag of another command, accepts global options and a placeholder', () => {
    assert.match(checkCommandLine('extmount frobnicate --json') ?? '', /unknown command "frobnicate"/);
    assert.match(
      checkCommandLine('extmount detect --images-dir /x') ?? '',
      /--images-dir is not an option of "detect"/,
    );
    assert.equal(checkCommandLine('extmount --host unix:///x.sock detect demo --json'), undefined);
    assert.equal(checkCommandLine('extmount migrate c --from A --to B [--live[=postcopy|precopy|off]]'), undefined);
    assert.equal(checkCommandLine('extmount restore --images-dir D -- --tcp-established'), undefined);
    assert.match(checkCommandLine('extmount COMMAND --apply') ?? '', /--apply is not a global option/);
  });

  it('extracts command lines from fences and inline code, not runtime names or paths', () => {
    const md = [
      '```sh',
      'docker run --runtime extmount -v /a:/b img',
      'extmount detect --pid 1 # c',
      'sudo extmount show \\',
      '  /x',
      '```',
      'Run `docker extmount detect c1` with hooks/extmount-runc and `extmount.yaml`.',
    ].join('\n');
    assert.deepEqual(
      commandLines('x.md', md).map((c) => c.text),
      ['extmount detect --pid 1', 'extmount show /x', 'extmount detect c1'],
    );
  });

  it('reads the option rows of a docs/cli.md section', () => {
    const md = [
      '## extmount show',
      '| `--a` | x |',
      '## Global options',
      '| `-h, --help` | h |',
      '| `--json` | j |',
      '## Exit codes',
      '| `--no` | |',
    ].join('\n');
    assert.deepEqual(Object.fromEntries(cliReference(md)), { show: ['a'], global: ['help', 'json'] });
  });
});
