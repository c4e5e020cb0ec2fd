// `npm run demo`: extmount's main job, end to end, on this machine's real CRIU and a private dockerd.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { runCli } from '../test/helpers/cli.js';
import { importTestImage, sleep, startDaemon, TEST_IMAGE, type Daemon, runDetached } from '../test/helpers/dockerd.js';
import {
  counterLoop,
  hostMounts,
  hostSandbox,
  lostMounts,
  startRuntimeDaemon,
  waitFor,
  writeTestConfig,
} from '../test/helpers/e2e.js';
import { killTree, startSeedTree } from '../test/helpers/seed-tree.js';
import {
  checkCountContinued,
  checkEqual,
  checkNone,
  checkPlainDumpFails,
  checkTokenContinued,
  failureLine,
  parseCount,
  parsePid,
  parseTokenCount,
  readSettled,
  type TokenCount,
} from './demo-checks.js';

const say = (text: string) => console.log(`\n\x1b[1m== ${text}\x1b[0m`);
const show = (text: string) => console.log(text.trimEnd().replace(/^/gm, '   '));
/** Every claim the demo makes comes from a check in demo-checks.ts; a false one ends the demo with exit 1. */
const claim = (text: string) => console.log(`   checked: ${text}`);

const counterFile = (dir: string) => () => readFile(join(dir, 'counter'), 'utf8');
/** The seed's counter in DIR once a complete value can be read (two reads agree, "N\n" exactly). */
const seedCount = (dir: string, what: string) => readSettled(what, counterFile(dir), parseCount);
/** A counterLoop counter in DIR, read the same way ("<uuid> <n>\n" exactly). */
const tokenCount = (dir: string, what: string) => readSettled(what, counterFile(dir), parseTokenCount);
/** The next counter in DIR that differs from `from` (the restored or migrated process has written). */
const movedFrom = (dir: string, from: TokenCount, what: string) =>
  waitFor(what, async () => {
    const c = await tokenCount(dir, what);
    return c.token !== from.token || c.n !== from.n ? c : undefined;
  });

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
    const failed = await execa(
      'criu',
      ['dump', '-t', String(tree.pid), '-D', plain, '--leave-running', '-o', 'dump.log'],
      { reject: false },
    );
    console.log(
      `\n$ criu dump -t ${tree.pid} -D … --leave-running   (plain CRIU, no mapping) → exit ${failed.exitCode}`,
    );
    claim(checkPlainDumpFails(failed.exitCode ?? -1, await readFile(join(plain, 'dump.log'), 'utf8').catch(() => '')));

    await extmount(['detect', '--pid', String(tree.pid), '--key', '/bar=barmount']);
    // A restarted loop counts from 1 again: let the counter get well past it first.
    await waitFor('the seed counter past 20', async () => (await seedCount(tree.foo, 'the seed counter')) > 20);
    const lastSeen = await seedCount(tree.foo, 'the seed counter before checkpoint');
    const images = join(tree.dir, 'images');
    await extmount(['checkpoint', '--pid', String(tree.pid), '--images-dir', images, '--key', '/bar=barmount']);
    // The tree is dumped and gone: the file holds its last write, or nothing when the dump caught the
    // shell between truncate and write; then the value read before the checkpoint is a lower bound.
    const written = parseCount(await readSettled('the counter at checkpoint', counterFile(tree.foo), (text) => text));
    const atDump = written ?? lastSeen;
    console.log(
      `   counter in ${tree.foo}/counter at checkpoint: ${written ?? `at least ${lastSeen} (the dump caught a write)`}`,
    );
    const pid = parsePid(await extmount(['restore', '--images-dir', images, '--map', `barmount=${other}`]));
    restored = pid;
    const first = await seedCount(other, `the first counter in ${other} after restore`);
    await sleep(1000);
    const later = await seedCount(other, `the counter in ${other} a second later`);
    console.log(`   restored pid ${pid}, writing into ${other}/counter`);
    claim(checkCountContinued(atDump, first, later));
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
    console.log(
      `\n$ docker run -d --name demo --runtime extmount -v ${data}:/data -v ${prop}:/prop:rslave ${TEST_IMAGE} sh -c …   # network-less`,
    );
    await runDetached(d, [
      '--name',
      'demo',
      '--runtime',
      'extmount',
      '-v',
      `${data}:/data`,
      '-v',
      `${prop}:/prop:rslave`,
      TEST_IMAGE,
      'sh',
      '-c',
      counterLoop('/data/counter'),
    ]);
    console.log(`\n$ mount --bind ${disk2} ${prop}/sub      # on the host, after the container started`);
    await execa('mount', ['--bind', disk2, join(prop, 'sub')]);
    await waitFor('the counter', async () => (await tokenCount(data, 'the counter')).n > 5);
    await extmount(['--host', d.host, 'detect', 'demo']);

    const mountsBefore = hostMounts();
    await docker(['checkpoint', 'create', 'demo', 'cp1']);
    // The container is stopped: the file holds its last write (counterLoop renames complete files).
    const atDump = await tokenCount(data, 'the counter at checkpoint');
    console.log(`   counter at checkpoint: ${atDump.n} (process token ${atDump.token.slice(0, 8)})`);
    await waitFor(
      'docker start --checkpoint',
      async () =>
        (await d.cli(['start', '--checkpoint', 'cp1', 'demo'], { reject: false })).exitCode === 0 || undefined,
      10_000,
      500,
    );
    console.log('\n$ docker start --checkpoint cp1 demo');
    claim(
      checkTokenContinued(
        atDump,
        await movedFrom(data, atDump, 'the counter to move after the restore'),
        'after the restore',
      ),
    );
    const inside = await docker(['exec', 'demo', 'cat', '/prop/sub/hello.txt']);
    claim(
      checkEqual(
        '/prop/sub/hello.txt in the restored container (the host submount)',
        'content of the host submount',
        inside,
      ),
    );
    claim(
      checkNone(
        'host mounts lost by the restore',
        lostMounts(mountsBefore, hostMounts(), { ignoreUnder: [d.dir], mine: box.dir }),
      ),
    );
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
    console.log(`   host a: ${a.host}\n   host b: ${b.host}`);
    claim(
      checkNone(`images on host b before the migration (migrate carries ${TEST_IMAGE})`, await b.docker.listImages()),
    );
    const srvA = join(box.dir, 'srv/a');
    const srvB = join(box.dir, 'srv/b');
    await mkdir(srvA, { recursive: true });
    await runDetached(a, [
      '--name',
      'mover',
      '-v',
      `${srvA}:/data`,
      TEST_IMAGE,
      'sh',
      '-c',
      `echo written-on-a > /root/note.txt; ${counterLoop('/data/counter')}`,
    ]);
    await waitFor('the counter', async () => (await tokenCount(srvA, 'the counter on a')).n > 5);
    await extmount(['migrate', 'mover', '--from', a.host, '--to', b.host, '--map', `${srvA}=${srvB}`, '--copy-binds']);
    // Nothing writes on a any more: its file holds the value at checkpoint (and --copy-binds copied it to b).
    const atCheckpoint = await tokenCount(srvA, 'the counter on a at checkpoint');
    console.log(
      `   counter in ${srvA}/counter at checkpoint: ${atCheckpoint.n} (process token ${atCheckpoint.token.slice(0, 8)})`,
    );
    claim(
      checkTokenContinued(
        atCheckpoint,
        await movedFrom(srvB, atCheckpoint, 'the counter on b to move'),
        `on b, in ${srvB}/counter`,
      ),
    );
    claim(
      checkEqual(
        '/root/note.txt on b',
        'written-on-a',
        (await b.cli(['exec', 'mover', 'cat', '/root/note.txt'])).stdout,
      ),
    );
    claim(checkNone('containers left on a', (await a.cli(['ps', '-aq'])).stdout.split('\n').filter(Boolean)));
  } finally {
    await a?.stop();
    await b?.stop();
    await box.cleanup();
  }
}

try {
  await seedDemo();
  await dockerDemo();
  await migrateDemo();
  say('done: every "checked:" line above comes from a check that passed');
} catch (err) {
  console.error(`\n${failureLine(err)}`);
  process.exitCode = 1;
}
