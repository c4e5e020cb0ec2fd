// The seed's case with real CRIU: a pivot_root'ed tree with a host folder bound at /bar.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { execa } from 'execa';
import { assertOneLineError, runCli } from '../helpers/cli.js';
import { requireE2E } from '../helpers/e2e.js';
import { killTree, startSeedTree, type SeedTree } from '../helpers/seed-tree.js';
import { waitFor } from '../helpers/wait.js';

async function digest(dir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const name of (await readdir(dir)).sort()) hash.update(name).update(await readFile(join(dir, name)));
  return hash.digest('hex');
}

describe('seed tree with real CRIU', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('detect --pid finds /bar, and its dump argv makes criu dump succeed where plain dump fails', async (t) => {
    if (!(await requireE2E(t, ['root', 'criu']))) return;
    const tree = await startSeedTree();
    cleanup.push(() => tree.stop());
    const r = await runCli(['detect', '--pid', String(tree.pid), '--json']);
    assert.equal(r.exitCode, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.external.length, 1);
    assert.equal(report.external[0].mountpoint, '/bar');
    assert.equal(report.external[0].hostPath, tree.foo);
    assert.equal(report.external[0].kind, 'bind');

    const plain = join(tree.dir, 'plain');
    await mkdir(plain);
    const failed = await execa(
      'criu',
      ['dump', '-t', String(tree.pid), '-D', plain, '-o', 'dump.log', '--leave-running'],
      { reject: false },
    );
    assert.notEqual(failed.exitCode, 0);
    assert.match(await readFile(join(plain, 'dump.log'), 'utf8'), /\.\/bar doesn't have a proper root mount/);

    const mapped = join(tree.dir, 'mapped');
    await mkdir(mapped);
    const ok = await execa(
      'criu',
      ['dump', '-t', String(tree.pid), '-D', mapped, '-o', 'dump.log', '--leave-running', ...report.criu.dump],
      { reject: false },
    );
    assert.equal(ok.exitCode, 0, await readFile(join(mapped, 'dump.log'), 'utf8'));
    assert.ok((await readdir(mapped)).includes('inventory.img'));
  });

  it('checkpoint --key /bar=barmount, then restore --map barmount=OTHERDIR: the counter goes on in OTHERDIR', async (t) => {
    if (!(await requireE2E(t, ['root', 'criu']))) return;
    const tree: SeedTree = await startSeedTree();
    cleanup.push(() => tree.stop());
    const images = join(tree.dir, 'images');
    const other = join(tree.dir, 'other');
    await mkdir(other);

    const cp1 = await runCli([
      'checkpoint',
      '--pid',
      String(tree.pid),
      '--images-dir',
      images,
      '--key',
      '/bar=barmount',
      '--json',
    ]);
    assert.equal(cp1.exitCode, 0, cp1.stderr);
    assert.deepEqual(
      JSON.parse(cp1.stdout).external.map((e: { key: string }) => e.key),
      ['barmount'],
    );
    const atDump = await tree.readCounter();
    await assert.rejects(readFile(`/proc/${tree.pid}/stat`), 'the dumped tree should be gone (no --leave-running)');
    const manifest = await readFile(join(images, 'extmount.yaml'), 'utf8');
    assert.match(manifest, /key: barmount/);
    assert.match(manifest, new RegExp(`hostPath: ${tree.foo}`));

    await refusedRestores(t, images, other, tree);

    const restored = await runCli(['restore', '--images-dir', images, '--map', 'barmount=' + other, '--json']);
    assert.equal(restored.exitCode, 0, restored.stderr);
    const { pid } = JSON.parse(restored.stdout) as { pid: number };
    cleanup.push(() => killTree(pid));
    const first = await waitFor(
      'the counter in OTHERDIR',
      async () => {
        const n = await tree.readCounter(other);
        return n > 0 ? n : undefined;
      },
      10_000,
    );
    // It continues from the dumped value: not from 1, and not past what a few ticks add.
    assert.ok(first > atDump - 3 && first <= atDump + 20, `counter restarted at ${first}, dumped at ${atDump}`);
    const later = await waitFor(
      'the counter to advance',
      async () => {
        const n = await tree.readCounter(other);
        return n > first ? n : undefined;
      },
      10_000,
    );
    assert.ok(later > first);
    assert.equal(await tree.readCounter(), atDump, 'the old host folder is no longer written');
  });
});

/** Restores that preflight must refuse, each with exit 2, one line, and the images untouched. */
async function refusedRestores(
  t: { diagnostic(message: string): void },
  images: string,
  other: string,
  tree: SeedTree,
): Promise<void> {
  const before = await digest(images);
  const scratch = await mkdtemp(join(tmpdir(), 'extmount-refused-'));
  try {
    const file = join(scratch, 'a-file');
    await writeFile(file, 'not a directory\n');
    const config = join(scratch, 'config.json');
    await writeFile(config, JSON.stringify({ hostPaths: { allow: ['/srv'], deny: [] } }));
    const tampered = async (name: string, edit: (text: string) => string) => {
      const dir = join(scratch, name);
      await cp(images, dir, { recursive: true });
      await writeFile(join(dir, 'extmount.yaml'), edit(await readFile(join(dir, 'extmount.yaml'), 'utf8')));
      return dir;
    };
    const cases: Array<[string, string[], RegExp]> = [
      [
        '--map to a missing path',
        ['restore', '--images-dir', images, '--map', `barmount=${join(scratch, 'missing')}`],
        /no such file or directory on this host/,
      ],
      [
        'a file where a directory was recorded',
        ['restore', '--images-dir', images, '--map', `barmount=${file}`],
        /a directory was recorded, this is a file/,
      ],
      [
        'a path outside the allowlist',
        ['--config', config, 'restore', '--images-dir', images, '--map', `barmount=${other}`],
        /outside the allowed host paths/,
      ],
      [
        'a denied path',
        ['restore', '--images-dir', images, '--map', 'barmount=/etc'],
        /under the denied host path \/etc/,
      ],
      [
        '--map for an unknown key',
        ['restore', '--images-dir', images, '--map', `nokey=${other}`],
        /no external mount with key nokey/,
      ],
      [
        'a manifest with ..',
        [
          'restore',
          '--images-dir',
          await tampered('dotdot', (s) => s.replace(/hostPath: .*/, 'hostPath: /srv/../etc')),
        ],
        /hostPath must be null or an absolute path without "\.\."/,
      ],
      [
        'a manifest key with :',
        ['restore', '--images-dir', await tampered('colon', (s) => s.replace('key: barmount', 'key: "bar:mount"'))],
        /key "bar:mount" may only hold/,
      ],
      [
        'a manifest whose key is not in the images',
        ['restore', '--images-dir', await tampered('rekeyed', (s) => s.replace('key: barmount', 'key: othermount'))],
        /the images need external mount key barmount/,
      ],
      [
        'a manifest whose mountpoint differs from the images',
        ['restore', '--images-dir', await tampered('moved', (s) => s.replace('mountpoint: /bar', 'mountpoint: /baz'))],
        /key barmount is at \/bar in the images but at \/baz/,
      ],
      [
        'a manifest that is not YAML',
        ['restore', '--images-dir', await tampered('garbage', () => '{{{ not: yaml')],
        /not valid YAML/,
      ],
      ['a missing images dir', ['restore', '--images-dir', join(scratch, 'nothing')], /no images directory/],
      [
        'a manifest whose tree root is /etc',
        ['restore', '--images-dir', await tampered('etcroot', (s) => s.replace(/^  root: .*$/m, '  root: /etc'))],
        /the tree's root \/etc is under the denied host path \/etc/,
      ],
      // Issue 11: recorded paths are data from elsewhere; with no --map the policy still decides.
      [
        'a recorded hostPath /root, no --map',
        ['restore', '--images-dir', await tampered('rootpath', (s) => s.replace(/hostPath: .*/, 'hostPath: /root'))],
        /\/bar \(key barmount\) → \/root: the path is under the denied host path \/root/,
      ],
      [
        'a recorded hostPath under /home',
        [
          'restore',
          '--images-dir',
          await tampered('homepath', (s) => s.replace(/hostPath: .*/, 'hostPath: /home/alice')),
        ],
        /is under the denied host path \/home/,
      ],
      [
        "a recorded hostPath in extmount's state dir",
        [
          'restore',
          '--images-dir',
          await tampered('statepath', (s) => s.replace(/hostPath: .*/, 'hostPath: /var/lib/extmount/x/mnt')),
        ],
        /is under the denied host path \/var\/lib\/extmount/,
      ],
      [
        "a recorded hostPath in containerd's data root",
        [
          'restore',
          '--images-dir',
          await tampered('ctrdpath', (s) => s.replace(/hostPath: .*/, 'hostPath: /var/lib/containerd')),
        ],
        /is under the denied host path \/var\/lib\/containerd/,
      ],
      [
        '--map to /usr/lib',
        ['restore', '--images-dir', images, '--map', 'barmount=/usr/lib'],
        /under the denied host path \/usr/,
      ],
      [
        'a manifest whose tree root is /root',
        ['restore', '--images-dir', await tampered('rootroot', (s) => s.replace(/^  root: .*$/m, '  root: /root'))],
        /the tree's root \/root is under the denied host path \/root/,
      ],
    ];
    for (const [name, args, pattern] of cases) {
      t.diagnostic(`refused: ${name}`);
      assertOneLineError(await runCli(args), 2, pattern);
    }
    assert.equal(await digest(images), before, 'a refused restore changed the images dir');
    assert.equal(await tree.readCounter(other).catch(() => 0), 0, 'nothing was restored');
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
