// One state-dir rule for the CLI and the runtime (issue 27): a state dir of "/", a relative one, one in a
// system path, a symlink, one writable by others — each refused with exit 2 and one line, before anything
// is written. Real processes (the built CLI, hooks/extmount-runc over a runc that records its calls); needs
// no engine, and runs as any user (the owner checked is the running one).
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { assertOneLineError, CLI } from '../helpers/cli.js';
import { WRAPPER } from '../helpers/e2e.js';
import { FIXTURES } from '../helpers/fixtures.js';

describe('stateDir: one rule, checked before anything is written', () => {
  let dir: string;
  let runc: string;
  let rootBefore: string[];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-statedir-'));
    runc = join(dir, 'runc');
    // A runc that would leave a mark: the wrapper must not reach it.
    await writeFile(runc, `#!/bin/sh\ntouch ${join(dir, 'runc-ran')}\nexit 0\n`);
    await chmod(runc, 0o755);
    rootBefore = (await readdir('/')).sort();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const config = async (name: string, stateDir: string): Promise<string> => {
    const path = join(dir, `${name}.json`);
    await writeFile(path, JSON.stringify({ stateDir }));
    return path;
  };
  const cli = (args: string[], cwd = dir) =>
    execa(process.execPath, [CLI, ...args], { reject: false, cwd, stdin: 'ignore' });
  const wrapper = (configPath: string, log: string, cwd = dir) =>
    execa(WRAPPER, ['--log', log, '--log-format', 'json', 'checkpoint', '--image-path', join(dir, 'images'), 'c1'], {
      reject: false,
      cwd,
      extendEnv: false,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', EXTMOUNT_RUNC: runc, EXTMOUNT_CONFIG: configPath },
    });
  const result = (r: Awaited<ReturnType<typeof cli>>) => ({
    exitCode: r.exitCode ?? -1,
    stdout: String(r.stdout),
    stderr: String(r.stderr),
  });

  async function assertRefused(name: string, stateDir: string, pattern: RegExp, cwd = dir): Promise<void> {
    const path = await config(name, stateDir);
    // detect --pid caches the CRIU version in the state dir; restore --import copies into it.
    for (const args of [
      ['detect', '--pid', String(process.pid)],
      ['restore', '--import', join(dir, 'none.tar.gz')],
      ['show', join(FIXTURES, 'images/seed')],
    ]) {
      assertOneLineError(result(await cli(['--config', path, ...args], cwd)), 2, pattern);
    }
    const log = join(dir, `${name}-runc-log.json`);
    const r = result(await wrapper(path, log, cwd));
    assertOneLineError(r, 2, pattern);
    // The runtime's caller (containerd) reads the last error entry of runc's --log.
    const entry = JSON.parse((await readFile(log, 'utf8')).trim().split('\n').at(-1)!) as {
      level: string;
      msg: string;
    };
    assert.equal(entry.level, 'error');
    assert.match(entry.msg, pattern);
    assert.equal(existsSync(join(dir, 'runc-ran')), false, 'runc ran');
    assert.equal(existsSync(join(dir, 'images')), false);
  }

  it('"/" (in any spelling): nothing appears in /', async () => {
    await assertRefused('root', '/', /stateDir "\/" must not be "\/"/);
    await assertRefused('root2', '//./', /must not be "\/"/);
    assert.deepEqual((await readdir('/')).sort(), rootBefore);
  });

  it('a relative path: refused, nothing made in the working directory', async () => {
    const cwd = join(dir, 'cwd');
    await mkdir(cwd);
    await assertRefused('relative', 'rel-state', /stateDir "rel-state" must be an absolute path/, cwd);
    assert.deepEqual(await readdir(cwd), []);
  });

  it('a system path the deny list names', async () => {
    await assertRefused('etc', '/etc/extmount-state', /lies in "\/etc", a system path the deny list names/);
    assert.equal(existsSync('/etc/extmount-state'), false);
  });

  it('a symlink, a path through one, a folder writable by others, one to be made in such a folder', async () => {
    const real = join(dir, 'real');
    await mkdir(real, { mode: 0o700 });
    await symlink(real, join(dir, 'link'));
    await assertRefused('symlink', join(dir, 'link'), /is a symlink/);
    await assertRefused('through', join(dir, 'link', 'state'), /is reached through a symlink/);
    const open = join(dir, 'open');
    await mkdir(open);
    await chmod(open, 0o777);
    await assertRefused('open', open, /writable by group or others \(mode 0777\)/);
    await assertRefused('in-open', join(open, 'state'), /would be made in ".*\/open", writable by group or others/);
    assert.deepEqual(await readdir(real), []);
    assert.deepEqual(await readdir(open), []);
  });

  it('the check can pass: a good state dir (made if missing) lets the same calls through', async () => {
    const path = await config('good', join(dir, 'good-state'));
    const shown = result(await cli(['--config', path, 'show', join(FIXTURES, 'images/seed')]));
    assert.equal(shown.exitCode, 0, shown.stderr);
    const r = result(await wrapper(path, join(dir, 'good-runc-log.json')));
    assert.doesNotMatch(r.stderr, /stateDir/);
    assert.equal(existsSync(join(dir, 'runc-ran')), true, `runc did not run: ${r.stderr}`);
  });
});
