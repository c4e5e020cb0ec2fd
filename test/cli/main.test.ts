// The CLI in-process, through its injected port (CommandIO): the option tables, help, exit codes and
// logs, without a child process. The black-box tests in test/cli.test.ts run the built binary.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { COMMANDS, main } from '../../src/cli/main.js';
import { GLOBAL_OPTIONS } from '../../src/cli/options.js';
import type { CommandIO } from '../../src/commands/io.js';
import { FIXTURES } from '../helpers/fixtures.js';

interface Run {
  code: number;
  out: string[];
  err: string[];
}

async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIO = { out: (t) => out.push(t), err: (t) => err.push(t), env };
  const code = await main(argv, io);
  return { code, out, err };
}

const seed = join(FIXTURES, 'mountinfo/seed.mountinfo');

describe('migrate --live: a bare flag or one value', () => {
  it('shows --live[=MODE] in the help, and refuses a mode it does not know (exit 2, one line)', async () => {
    const help = (await run(['migrate', '--help'])).out.join('\n');
    assert.match(help, /^ {2}--live\[=MODE\] +postcopy: /m);
    const bad = await run(['migrate', 'c', '--from', 'unix:///a', '--to', 'unix:///b', '--live=sideways']);
    assert.equal(bad.code, 2);
    assert.deepEqual(bad.err, [
      'extmount: --live=sideways: expected postcopy, precopy or off (or --live alone); see extmount migrate --help',
    ]);
    // Bare --live takes no value from the next argument: "c" stays the CONTAINER.
    const extra = await run(['migrate', '--live', 'c', 'd', '--from', 'unix:///a', '--to', 'unix:///b']);
    assert.equal(extra.code, 2);
    assert.match(extra.err[0]!, /migrate needs exactly one CONTAINER/);
  });
});

describe('extmount in-process: the option tables are the help', () => {
  for (const [name, spec] of Object.entries(COMMANDS)) {
    it(`${name} --help lists every option of its table and of the global one, and nothing else`, async () => {
      const r = await run([name, '--help']);
      assert.equal(r.code, 0);
      const help = r.out.join('\n');
      assert.ok(help.startsWith(`Usage: extmount ${name}`), help.split('\n')[0]);
      const listed = [...help.matchAll(/^ {2}(?:-\w, )?--([a-z-]+)/gm)].map((m) => m[1]).sort();
      assert.deepEqual(listed, [...Object.keys(spec.options), ...Object.keys(GLOBAL_OPTIONS)].sort());
      assert.deepEqual(r.err, []);
    });
  }

  it('help COMMAND is COMMAND --help, and a flag of another command is refused with exit 2', async () => {
    assert.deepEqual((await run(['help', 'restore'])).out, (await run(['restore', '--help'])).out);
    const r = await run(['detect', '--images-dir', '/x']);
    assert.equal(r.code, 2);
    assert.equal(r.err.length, 1);
    assert.match(r.err[0]!, /^extmount: .*--images-dir.*; see extmount detect --help$/);
  });

  it('bare extmount prints the usage to stderr and exits 2; --version prints the version', async () => {
    const bare = await run([]);
    assert.equal(bare.code, 2);
    assert.deepEqual(bare.out, []);
    for (const name of Object.keys(COMMANDS)) assert.match(bare.err.join('\n'), new RegExp(`^ {2}${name} `, 'm'));
    const version = await run(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.out[0]!, /^\d+\.\d+\.\d+/);
  });
});

describe('extmount in-process: a command and its logs', () => {
  let dir: string;
  let config: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-cli-inproc-'));
    config = join(dir, 'config.json');
    // A CRIU that cannot run: detect still answers, with one warning.
    await writeFile(config, JSON.stringify({ criu: join(dir, 'no-criu'), stateDir: join(dir, 'state') }));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('detect --mountinfo --json answers on the io port, the warning a text line on its stderr', async () => {
    const r = await run(['--config', config, 'detect', '--mountinfo', seed, '--key', '/bar=barmount', '--json']);
    assert.equal(r.code, 0, r.err.join('\n'));
    const report = JSON.parse(r.out.join('\n')) as { external: { key: string; mountpoint: string }[] };
    assert.deepEqual(
      report.external.map((e) => [e.mountpoint, e.key]),
      [['/bar', 'barmount']],
    );
    assert.equal(r.err.length, 1);
    assert.match(
      r.err[0]!,
      /^extmount: warning: cannot run CRIU \(\S+no-criu\): .*: showing options for CRIU >= 2\.8$/,
    );
  });

  it('--log-format json sends the same warning as one JSON object, through the same port', async () => {
    const r = await run(['--log-format', 'json', '--config', config, 'detect', '--mountinfo', seed]);
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.equal(r.err.length, 1);
    const entry = JSON.parse(r.err[0]!) as { level: number; msg: string };
    assert.equal(entry.level, 40);
    assert.match(entry.msg, /cannot run CRIU/);
  });

  it('a missing file is exit 2 with one line that says what to do', async () => {
    const r = await run(['--config', config, 'detect', '--mountinfo', join(dir, 'missing')]);
    assert.equal(r.code, 2);
    assert.equal(r.err.length, 1);
    assert.match(r.err[0]!, /^extmount: .*missing/);
  });
  it('--mountinfo reads a pipe as given (process substitution), and refuses more than 64 MiB in one line', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const [r] = await Promise.all([
      run(['--config', config, 'detect', '--mountinfo', fifo, '--json']),
      writeFile(fifo, await readFile(seed)),
    ]);
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.equal((JSON.parse(r.out.join('\n')) as { external: unknown[] }).external.length, 1);
    const huge = join(dir, 'huge.mountinfo');
    await writeFile(huge, '');
    await truncate(huge, 64 * 1024 * 1024 + 1);
    const big = await run(['--config', config, 'detect', '--mountinfo', huge]);
    assert.equal(big.code, 2);
    assert.deepEqual(big.err, [
      `extmount: ${huge}: more than 64 MiB, larger than any mountinfo (10,000 mounts are about 1 MiB); pass the text of a /proc/PID/mountinfo file`,
    ]);
  });
});
