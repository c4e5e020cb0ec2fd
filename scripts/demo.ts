// `npm run demo`: extmount's main job, end to end, on this machine's real CRIU and a private dockerd.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { runCli } from '../test/helpers/cli.js';
import { importTestImage, sleep, startDaemon, TEST_IMAGE, type Daemon, runDetached } from '../test/helpers/dockerd.js';
import { continued, counterLoop, hostMounts, hostSandbox, lostMounts, readCount, startRuntimeDaemon, waitFor, writeTestConfig } from '../test/helpers/e2e.js';
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

async function dockerDemo(): Promise<void> {
  say('2. A Docker container with a bind mount and a host mount propagated into it after start');
  const box = await hostSandbox('extmount-demo-');
  let daemon: Daemon | undefined;
  try {
    const config = await writeTestConfig(box.dir);
    daemon = await startRuntimeDaemon('demo', { config, dir: box.dir });
    const d = daemon;
    console.log(`   private dockerd at ${d.host} with hooks/extmount-runc registered as runtime "extmount"`);
    const data = join(box.dir, 'data');
    const prop = join(box.dir, 'prop');
    const disk2 = join(box.dir, 'disk2');
    for (const dir of [data, join(prop, 'sub'), disk2]) await mkdir(dir, { recursive: true });
    await writeFile(join(disk2, 'hello.txt'), 'content of the host submount\n');
    await execa('mount', ['--bind', prop, prop]);
    await execa('mount', ['--make-shared', prop]);
    const docker = async (args: string[]) => {
      console.log(`\n$ docker ${args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`);
      const r = await d.cli(args, { reject: false });
      if (r.stdout.trim()) show(r.stdout);
      if (r.exitCode !== 0) throw new Error(`docker ${args[0]} failed: ${r.stderr}`);
      return r.stdout;
    };
    // Through the API with NetworkDisabled (the docker CLI has no flag for it): Docker 28 cannot
    // restore a --network none container (containerd#12141).
    console.log(`\n$ docker run -d --name demo --runtime extmount -v ${data}:/data -v ${prop}:/prop:rslave ${TEST_IMAGE} sh -c …   # network-less`);
    await runDetached(d, ['--name', 'demo', '--runtime', 'extmount', '-v', `${data}:/data`, '-v', `${prop}:/prop:rslave`, TEST_IMAGE, 'sh', '-c', counterLoop('/data/counter')]);
    console.log(`\n$ mount --bind ${disk2} ${prop}/sub      # on the host, after the container started`);
    await execa('mount', ['--bind', disk2, join(prop, 'sub')]);
    await waitFor('the counter', async () => (await readCount(join(data, 'counter'))).n > 5);
    await extmount(['--host', d.host, 'detect', 'demo']);

    const mountsBefore = hostMounts();
    await docker(['checkpoint', 'create', 'demo', 'cp1']);
    const atDump = await readCount(join(data, 'counter'));
    console.log(`   counter at checkpoint: ${atDump.n} (process token ${atDump.token.slice(0, 8)})`);
    await waitFor('docker start --checkpoint', async () => (await d.cli(['start', '--checkpoint', 'cp1', 'demo'], { reject: false })).exitCode === 0 || undefined, 10_000, 500);
    console.log('\n$ docker start --checkpoint cp1 demo');
    const now = await waitFor('the counter to go on', async () => {
      const c = await readCount(join(data, 'counter'));
      return continued(c, atDump) ? c : undefined;
    });
    console.log(`   counter now: ${now.n}, same process token ${now.token.slice(0, 8)}: it continued, it did not restart`);
    await docker(['exec', 'demo', 'cat', '/prop/sub/hello.txt']);
    const lost = lostMounts(mountsBefore, hostMounts(), { ignoreUnder: [d.dir], mine: box.dir });
    console.log(`   host mounts lost by the restore: ${lost.length === 0 ? 'none' : JSON.stringify(lost)}`);
  } finally {
    await daemon?.stop();
    await box.cleanup();
  }
}

async function migrateDemo(): Promise<void> {
  say('3. Migrate a running container from host a to host b, its bind moved to another path');
  const box = await hostSandbox('extmount-demo-mig-');
  let a: Daemon | undefined;
  let b: Daemon | undefined;
  try {
    a = await startDaemon('a', { baseDir: box.dir });
    b = await startDaemon('b', { baseDir: box.dir });
    await importTestImage(a);
    console.log(`   host a: ${a.host}\n   host b: ${b.host} (has no image yet: migrate carries it)`);
    const srvA = join(box.dir, 'srv/a');
    const srvB = join(box.dir, 'srv/b');
    await mkdir(srvA, { recursive: true });
    await runDetached(a, ['--name', 'mover', '-v', `${srvA}:/data`, TEST_IMAGE, 'sh', '-c', `echo written-on-a > /root/note.txt; ${counterLoop('/data/counter')}`]);
    await waitFor('the counter', async () => (await readCount(join(srvA, 'counter'))).n > 5);
    const before = await readCount(join(srvA, 'counter'));
    await extmount(['migrate', 'mover', '--from', a.host, '--to', b.host, '--map', `${srvA}=${srvB}`, '--copy-binds']);
    const now = await waitFor('the counter on b', async () => {
      const c = await readCount(join(srvB, 'counter'));
      return continued(c, before) ? c : undefined;
    });
    console.log(`   counter in ${srvB}/counter: ${now.n}, same process token ${now.token.slice(0, 8)} (was ${before.n} on a)`);
    console.log(`   /root/note.txt on b: ${(await b.cli(['exec', 'mover', 'cat', '/root/note.txt'])).stdout.trim()}`);
    console.log(`   containers left on a: ${(await a.cli(['ps', '-aq'])).stdout.trim() || 'none'}`);
  } finally {
    await a?.stop();
    await b?.stop();
    await box.cleanup();
  }
}

await seedDemo();
await dockerDemo();
await migrateDemo();
say('done');
