// install-runtime --containerd through main(): the files --apply writes, a re-run, the backup, refusals.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import type { CommandIO } from '../../src/commands/io.js';

async function run(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIO = { out: (t) => out.push(t), err: (t) => err.push(t), env: {} };
  return { code: await main(argv, io), out, err };
}

describe('install-runtime --containerd', () => {
  const dirs: string[] = [];
  after(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('--apply writes the drop-in, adds it to imports with a backup; a re-run changes nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'extmount-ctrd-'));
    dirs.push(dir);
    const main_ = join(dir, 'config.toml');
    const dropIn = join(dir, 'conf.d', 'extmount.toml');
    await writeFile(main_, 'version = 3\n\n[grpc]\n  address = "/run/x.sock"\n');
    const args = [
      'install-runtime',
      '--containerd',
      '--apply',
      '--containerd-config',
      main_,
      '--drop-in',
      dropIn,
      '--json',
    ];
    const first = await run(args);
    assert.equal(first.code, 0, first.err.join('\n'));
    const report = JSON.parse(first.out.join('\n'));
    assert.equal(report.containerd.dropIn.action, 'create');
    assert.equal(report.containerd.config.action, 'update');
    assert.deepEqual(report.runtimeClass, {
      apiVersion: 'node.k8s.io/v1',
      kind: 'RuntimeClass',
      metadata: { name: 'extmount' },
      handler: 'extmount',
    });
    assert.match(await readFile(dropIn, 'utf8'), /BinaryName = ".*\/hooks\/extmount-runc"/);
    assert.equal(
      await readFile(main_, 'utf8'),
      `version = 3\nimports = ["${dropIn}"]\n\n[grpc]\n  address = "/run/x.sock"\n`,
    );
    assert.equal(
      await readFile(report.containerd.config.backup, 'utf8'),
      'version = 3\n\n[grpc]\n  address = "/run/x.sock"\n',
    );
    const again = await run(args);
    const second = JSON.parse(again.out.join('\n'));
    assert.equal(second.containerd.dropIn.action, 'none');
    assert.equal(second.containerd.config.action, 'none');
    assert.equal(second.containerd.config.backup, null);
    assert.equal((await readdir(dir)).filter((f) => f.includes('extmount-backup')).length, 1);
  });

  it('without --apply prints the drop-in and the RuntimeClass, writes nothing; refuses a version 2 config (exit 2, one line)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'extmount-ctrd-'));
    dirs.push(dir);
    const main_ = join(dir, 'config.toml');
    const shown = await run([
      'install-runtime',
      '--containerd',
      '--containerd-config',
      main_,
      '--drop-in',
      join(dir, 'x.toml'),
    ]);
    assert.equal(shown.code, 0);
    assert.match(shown.out.join('\n'), /kind: RuntimeClass\nmetadata:\n {2}name: extmount\nhandler: extmount/);
    assert.deepEqual(await readdir(dir), []);
    await writeFile(main_, 'version = 2\n');
    const refused = await run([
      'install-runtime',
      '--containerd',
      '--apply',
      '--containerd-config',
      main_,
      '--drop-in',
      join(dir, 'x.toml'),
    ]);
    assert.equal(refused.code, 2);
    assert.equal(refused.err.length, 1);
    assert.match(refused.err[0]!, /version 2, not 3/);
    assert.deepEqual((await readdir(dir)).sort(), ['config.toml']);
  });
});
