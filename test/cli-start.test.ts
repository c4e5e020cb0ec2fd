// The start budget of the CLI: offline commands must not load the Docker client, execa or pino,
// which make up most of a start (issue 12: 440 ms for a 2-line detect before they were deferred), nor
// node:crypto (17 internal modules of Node's own).
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { CLI } from './helpers/cli.js';
import { FIXTURES } from './helpers/fixtures.js';

const LOAD_LOG = fileURLToPath(new URL('./helpers/load-log.cjs', import.meta.url));
// node:child_process, which execa needs, would also show execa if it were ever bundled into the CLI.
const HEAVY =
  /\/node_modules\/(dockerode|docker-modem|execa|pino|ssh2|@grpc|protobufjs)\/|^node:(crypto|child_process)$/;

describe('CLI start: what offline commands load', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-start-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function loaded(args: string[]): Promise<string[]> {
    const log = join(dir, `${args.join('_').replace(/[^a-z0-9_-]/gi, '')}.log`);
    const r = await execa(process.execPath, ['--require', LOAD_LOG, CLI, ...args], {
      reject: false,
      env: { EXTMOUNT_LOAD_LOG: log },
    });
    assert.ok(r.exitCode === 0 || r.exitCode === 2, `exit ${r.exitCode}: ${r.stderr}`);
    return (await readFile(log, 'utf8')).trim().split('\n');
  }

  const offline: string[][] = [
    ['detect', '--mountinfo', join(FIXTURES, 'mountinfo/seed.mountinfo')],
    ['show', join(FIXTURES, 'images/seed')],
    ['--help'],
    ['--version'],
    ['help', 'migrate'],
    // As `docker -H … extmount detect --mountinfo …` (hooks/docker-extmount): the engine is resolved, not connected to.
    [
      '--docker-cli-plugin',
      '-H',
      'unix:///nonexistent.sock',
      'extmount',
      'detect',
      '--mountinfo',
      join(FIXTURES, 'mountinfo/seed.mountinfo'),
    ],
  ];
  for (const args of offline) {
    it(`extmount ${args.map((a) => a.replace(FIXTURES, 'FIXTURES')).join(' ')}`, async () => {
      const urls = await loaded(args);
      assert.ok(
        urls.some((u) => u.endsWith('/cli/extmount.cjs')),
        `the log has the CLI itself: ${urls.join(', ')}`,
      );
      assert.deepEqual(
        urls.filter((u) => HEAVY.test(u)),
        [],
      );
    });
  }

  it('the check can fail: a container command loads the Docker client', async () => {
    const urls = await loaded(['detect', 'no-such-container', '--host', `unix://${join(dir, 'none.sock')}`]);
    assert.ok(
      urls.some((u) => /\/node_modules\/dockerode\//.test(u)),
      urls.join('\n'),
    );
  });
});
