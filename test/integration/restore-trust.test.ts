// Issue 11 on real CRIU: a raw control byte in someone else's mount, relative images dirs, and one
// restore at a time per images dir.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { execa } from 'execa';
import { DEFAULT_DENY } from '../../src/core/config.js';
import { CLI, assertOneLineError, runCli } from '../helpers/cli.js';
import { anotherFlipRound, hostMounts, hostSandbox, requireE2E, waitFor } from '../helpers/e2e.js';
import { killTree, startSeedTree, type SeedTree } from '../helpers/seed-tree.js';

/** Restores during the flips (CI caps them: anotherFlipRound). */
const FLIP_ROUNDS = 30;

/** The counter of a restored tree, once it writes again into `from`. */
async function counterMovesOn(tree: SeedTree, from: string, atDump: number): Promise<number> {
  return waitFor('the restored counter to move on', async () => {
    const n = await tree.readCounter(from).catch(() => 0);
    return n > atDump ? n : undefined;
  });
}

/** Mounts of restore holders (<stateDir>/restore/…) still on the host. */
function lostHolders(): string[] {
  return hostMounts()
    .filter((m) => m.mountpoint.startsWith('/var/lib/extmount/restore/'))
    .map((m) => m.mountpoint);
}

/** `extmount` run from `cwd`, like a user in a shell there. */
async function cliIn(cwd: string, args: string[]) {
  const r = await execa(process.execPath, [CLI, ...args], { cwd, reject: false, stdin: 'ignore' });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

describe('restore trust (issue 11) with real CRIU', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  /** The seed tree dumped into <its dir>/images with /bar as barmount; the counter it had. */
  async function checkpoint(tree: SeedTree): Promise<{ images: string; atDump: number }> {
    const images = join(tree.dir, 'images');
    const cp = await runCli([
      'checkpoint',
      '--pid',
      String(tree.pid),
      '--images-dir',
      images,
      '--key',
      '/bar=barmount',
    ]);
    assert.equal(cp.exitCode, 0, cp.stderr);
    return { images, atDump: await tree.readCounter() };
  }

  async function checkpointedSeed(): Promise<{ tree: SeedTree; images: string; atDump: number }> {
    const tree = await startSeedTree();
    cleanup.push(() => tree.stop());
    return { tree, ...(await checkpoint(tree)) };
  }

  it('a tmpfs whose source holds a raw \\001, mounted on the host, breaks neither detect nor checkpoint nor restore', async (t) => {
    if (!(await requireE2E(t, ['root', 'criu']))) return;
    const sandbox = await hostSandbox('extmount-ctrl-');
    cleanup.push(() => sandbox.cleanup());
    const evil = join(sandbox.dir, 'evil');
    await mkdir(evil);
    // What a container with CAP_SYS_ADMIN and an rshared bind can do to the host's mount table.
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'evil\u0001src', evil]);
    const line = (await execa('grep', ['-a', evil, '/proc/self/mountinfo'])).stdout;
    assert.match(line, /tmpfs evil\u0001src /, 'the kernel writes the byte raw');
    assert.ok(hostMounts().some((m) => m.mountpoint === evil));

    const tree = await startSeedTree();
    cleanup.push(() => tree.stop());
    const detect = await runCli(['detect', '--pid', String(tree.pid), '--json']);
    assert.equal(detect.exitCode, 0, detect.stderr);
    assert.deepEqual(
      JSON.parse(detect.stdout).external.map((e: { mountpoint: string }) => e.mountpoint),
      ['/bar'],
    );

    const { images, atDump } = await checkpoint(tree);
    const restored = await runCli(['restore', '--images-dir', images, '--json']);
    assert.equal(restored.exitCode, 0, restored.stderr);
    cleanup.push(() => killTree(JSON.parse(restored.stdout).pid));
    await counterMovesOn(tree, tree.foo, atDump);
  });

  it('relative --images-dir works for checkpoint and restore (CRIU gets an absolute one)', async (t) => {
    if (!(await requireE2E(t, ['root', 'criu']))) return;
    const tree = await startSeedTree();
    cleanup.push(() => tree.stop());
    const cp = await cliIn(tree.dir, [
      'checkpoint',
      '--pid',
      String(tree.pid),
      '--images-dir',
      'rel-images',
      '--key',
      '/bar=barmount',
      '--json',
    ]);
    assert.equal(cp.exitCode, 0, cp.stderr);
    assert.equal(JSON.parse(cp.stdout).imagesDir, join(tree.dir, 'rel-images'));
    const atDump = await tree.readCounter();
    // Before the fix: "pidfile: Can't open …" (CRIU opens --pidfile relative to -D).
    const restored = await cliIn(tree.dir, ['restore', '--images-dir', 'rel-images', '--json']);
    assert.equal(restored.exitCode, 0, restored.stderr);
    cleanup.push(() => killTree(JSON.parse(restored.stdout).pid));
    await counterMovesOn(tree, tree.foo, atDump);
  });

  it('two restores of one images dir at once: the second exits 2 and says why; one copy runs', async (t) => {
    if (!(await requireE2E(t, ['root', 'criu']))) return;
    const { tree, images, atDump } = await checkpointedSeed();

    // CRIU runs the action script at each restore stage and waits for it: the first restore (and its lock)
    // lasts a few seconds, long enough to start the second one inside it, whatever the machine's speed.
    const slow = join(tree.dir, 'slow-action.sh');
    await writeFile(slow, '#!/bin/sh\nsleep 0.5\n', { mode: 0o755 });
    const first = execa(
      process.execPath,
      [CLI, 'restore', '--images-dir', images, '--json', '--', '--action-script', slow],
      { reject: false, stdin: 'ignore' },
    );
    // Whatever happens below, no restored copy outlives the test.
    cleanup.push(async () => {
      const done = await first;
      const pid = /"pid": (\d+)/.exec(String(done.stdout))?.[1];
      if (pid) killTree(Number(pid));
    });
    const lockFile = join(images, '.extmount-restore.lock');
    let firstDone = false;
    void first.finally(() => (firstDone = true));
    await waitFor(
      'the first restore to hold the lock',
      async () => {
        if (firstDone)
          throw new Error(`the first restore ended before its lock was seen: ${String((await first).stderr)}`);
        // Not probed with flock(1): a probe holding the lock for a moment would turn the first restore away.
        return /^\d+( \S+)?\n$/.test(await readFile(lockFile, 'utf8').catch(() => ''));
      },
      45_000,
    ); // a poll limit, not a timing claim: once (sid, under load) 15 s went by before the lock was taken
    const second = await runCli(['restore', '--images-dir', images, '--json']);
    if (second.exitCode === 0) killTree(JSON.parse(second.stdout).pid);
    assertOneLineError(second, 2, /another extmount restore of .*images is running \(pid \d+\); wait for it to finish/);
    const r = await first;
    assert.equal(r.exitCode, 0, String(r.stderr));
    const { pid } = JSON.parse(String(r.stdout)) as { pid: number };
    await counterMovesOn(tree, tree.foo, atDump);
    // Only that copy writes the counter: once it is killed, the counter stands still.
    killTree(pid);
    await waitFor(
      'the restored tree to end',
      async () => (await execa('kill', ['-0', String(pid)], { reject: false })).exitCode !== 0,
    );
    const stopped = await tree.readCounter();
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(await tree.readCounter(), stopped, 'another copy of the tree is still writing');
    // Released: a third restore is not refused by the lock.
    assertOneLineError(
      await runCli(['restore', '--images-dir', images, '--map', `barmount=${join(tree.dir, 'missing')}`]),
      2,
      /no such file or directory on this host/,
    );
  });

  /**
   * FLIP_ROUNDS restores (argv) while `DIR/NAME` is swapped for a symlink to TARGET and back as fast as the shell
   * can; each restored tree is checked, then killed; refusals must be one `extmount:` line, exit 1 or 2.
   * NAME is put back whatever moment the flipper was stopped at. Returns the exit codes counted.
   */
  async function restoresDuringFlips(
    t: TestContext,
    dir: string,
    name: string,
    target: string,
    argv: string[],
    checkRestored: (pid: number, i: number) => Promise<void>,
  ): Promise<Map<number, number>> {
    const flipper = spawn(
      'sh',
      [
        '-c',
        'cd "$1" && while :; do mv "$2" "$2.real"; ln -s "$3" "$2"; rm "$2"; mv "$2.real" "$2"; sleep 0.01; done',
        'flip',
        dir,
        name,
        target,
      ],
      { stdio: 'ignore', detached: true },
    );
    const stopFlipper = () => {
      try {
        process.kill(-flipper.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    };
    cleanup.push(stopFlipper);
    const outcomes = new Map<number, number>();
    const reasons = new Set<string>();
    try {
      for (let i = 0; anotherFlipRound(i, FLIP_ROUNDS, (outcomes.get(0) ?? 0) > 0); i++) {
        const r = await runCli(argv);
        outcomes.set(r.exitCode, (outcomes.get(r.exitCode) ?? 0) + 1);
        if (r.exitCode === 0) {
          const { pid } = JSON.parse(r.stdout) as { pid: number };
          try {
            await checkRestored(pid, i);
          } finally {
            killTree(pid);
          }
        } else {
          assert.ok(r.exitCode === 1 || r.exitCode === 2, `restore ${i}: exit ${r.exitCode}: ${r.stderr}`);
          assert.match(r.stderr.split('\n')[0]!, /^extmount: /);
          reasons.add(
            r.stderr
              .split('\n')[0]!
              .replace(/\/tmp\/extmount-seed-\w+/g, 'DIR')
              .replace(/[0-9a-f]{16}\/\d+/, 'HOLDER'),
          );
        }
      }
    } finally {
      stopFlipper();
      await execa('sh', [
        '-c',
        'cd "$1" && { [ -d "$2.real" ] && rm -f "$2" && mv "$2.real" "$2"; true; }',
        'fix',
        dir,
        name,
      ]);
    }
    t.diagnostic(
      `exit codes of ${[...outcomes.values()].reduce((a, b) => a + b, 0)} restores during the flips: ${JSON.stringify(Object.fromEntries(outcomes))}`,
    );
    for (const reason of reasons) t.diagnostic(`refused: ${reason}`);
    return outcomes;
  }

  it('--map to a path whose folder is swapped for a symlink and back during the restores: the symlink target is never mounted', async (t) => {
    if (!(await requireE2E(t, ['root', 'criu']))) return;
    const { tree, images } = await checkpointedSeed();
    const real = join(tree.dir, 'x', 'a', 't');
    const evil = join(tree.dir, 'evil', 't'); // stands for /etc: what the symlink points at
    await mkdir(real, { recursive: true });
    await mkdir(evil, { recursive: true });
    // Compared by inode, not by the root mountinfo shows: that is relative to the filesystem holding the
    // tree (on a tmpfs /tmp it lacks the /tmp prefix) and changes while the flipper has the folder renamed.
    const realId = await inodeOf(real);
    const config = join(tree.dir, 'config.json');
    await writeFile(
      config,
      JSON.stringify({ hostPaths: { allow: [], deny: [...DEFAULT_DENY, join(tree.dir, 'evil')] } }),
    );

    // The attacker: /x/a becomes a symlink to ../evil and back, as fast as the shell can.
    const outcomes = await restoresDuringFlips(
      t,
      join(tree.dir, 'x'),
      'a',
      '../evil',
      ['--config', config, 'restore', '--images-dir', images, '--map', `barmount=${real}`, '--json'],
      async (pid, i) => {
        const bar = (await readFile(`/proc/${pid}/mountinfo`, 'utf8'))
          .split('\n')
          .find((l) => l.split(' ')[4] === '/bar');
        assert.ok(bar, 'the restored tree has no /bar');
        assert.equal(
          await inodeOf(`/proc/${pid}/root/bar`),
          realId,
          `restore ${i} mounted ${bar.split(' ')[3]} at /bar`,
        );
      },
    );
    assert.ok((outcomes.get(0) ?? 0) > 0, 'no restore got through: the test proves nothing');
    assert.deepEqual(await readdir(evil), [], 'the restored tree wrote into the symlink target');
    assert.deepEqual(lostHolders(), [], 'a holder mount was left behind');
  });

  it("the tree's root swapped for a symlink and back during the restores: the tree is only ever rebuilt from the real root", async (t) => {
    if (!(await requireE2E(t, ['root', 'criu']))) return;
    const { tree, images } = await checkpointedSeed();
    const evil = join(tree.dir, 'evilroot'); // stands for another tree's filesystem, or /
    await mkdir(evil, { recursive: true });
    const realId = await inodeOf(tree.root);
    const outcomes = await restoresDuringFlips(
      t,
      tree.dir,
      'root',
      'evilroot',
      ['restore', '--images-dir', images, '--json'],
      async (pid, i) => {
        assert.equal(await inodeOf(`/proc/${pid}/root`), realId, `restore ${i} rebuilt the tree from another root`);
      },
    );
    assert.ok((outcomes.get(0) ?? 0) > 0, 'no restore got through: the test proves nothing');
    assert.deepEqual(await readdir(evil), [], 'something was written into the other root');
    assert.deepEqual(lostHolders(), [], 'a holder mount was left behind');
  });
});

/** device:inode, which a bind of a folder shares with it and a rename does not change. */
async function inodeOf(path: string): Promise<string> {
  const { dev, ino } = await stat(path);
  return `${dev}:${ino}`;
}
