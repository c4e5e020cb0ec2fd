// `npm run demo`: extmount's main job, end to end, on this machine's real CRIU and a private dockerd.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { runCli } from '../test/helpers/cli.js';
import { sleep } from '../test/helpers/dockerd.js';
import { killTree, startSeedTree } from '../test/helpers/seed-tree.js';

const say = (text: string) => console.log(`\n\x1b[1m== ${text}\x1b[0m`);
const show = (text: string) => console.log(text.trimEnd().replace(/^/gm, '   '));

async function extmount(args: string[]): Promise<string> {
  console.log(`\n$ extmount ${args.join(' ')}`);
  const r = await runCli(args);
  if (r.exitCode !== 0) throw new Error(`extmount ${args[0]} failed (exit ${r.exitCode}):\n${r.stderr}`);
  show(r.stdout);
  return r.stdout;
}

async function seedDemo(): Promise<void> {
  say('1. A process tree whose root is a bind mount, with a host folder bound at /bar (the seed)');
  const tree = await startSeedTree();
  const other = await mkdtemp(join(tmpdir(), 'extmount-demo-other-'));
  let restored: number | undefined;
  try {
    const plain = join(tree.dir, 'plain');
    await mkdir(plain);
    const failed = await execa('criu', ['dump', '-t', String(tree.pid), '-D', plain, '--leave-running', '-o', 'dump.log'], { reject: false });
    console.log(`\n$ criu dump -t ${tree.pid} -D … --leave-running   (plain CRIU, no mapping) → exit ${failed.exitCode}`);
    await execa('sh', ['-c', 'grep -m1 "proper root mount" "$1" | sed "s/^/   /"', 'sh', join(plain, 'dump.log')], { stdio: 'inherit', reject: false });

    await extmount(['detect', '--pid', String(tree.pid), '--key', '/bar=barmount']);
    const images = join(tree.dir, 'images');
    await extmount(['checkpoint', '--pid', String(tree.pid), '--images-dir', images, '--key', '/bar=barmount']);
    const atDump = await tree.readCounter();
    console.log(`   counter in ${tree.foo}/counter at checkpoint: ${atDump}`);
    const pid = Number((await extmount(['restore', '--images-dir', images, '--map', `barmount=${other}`])).trim());
    restored = pid;
    await sleep(1000);
    console.log(`   restored pid ${pid}; counter now in ${other}/counter: ${await tree.readCounter(other)} (continued from ${atDump}, not restarted)`);
  } finally {
    if (restored) killTree(restored);
    await tree.stop();
    await rm(other, { recursive: true, force: true });
  }
}

await seedDemo();
say('done');
