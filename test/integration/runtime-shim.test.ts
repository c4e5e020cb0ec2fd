// hooks/extmount-runc's fast path: every verb but checkpoint/restore reaches runc untouched and cheaply.
// Needs no root: a fake runc and a fake node record what they were given.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, open, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { waitFor, WRAPPER as REPO_WRAPPER } from '../helpers/e2e.js';

// Prints its argv one per line (so spaces survive) and exits with $FAKE_EXIT.
const RECORDER = '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\nexit "${FAKE_EXIT:-0}"\n';

describe('hooks/extmount-runc', () => {
  let dir: string;
  let fakeRunc: string;
  let fakeNode: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-shim-'));
    fakeRunc = join(dir, 'fake-runc');
    fakeNode = join(dir, 'fake-node');
    for (const f of [fakeRunc, fakeNode]) {
      await writeFile(f, RECORDER);
      await chmod(f, 0o755);
    }
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const run = (args: string[], env: Record<string, string> = {}, wrapper = REPO_WRAPPER) =>
    execa(wrapper, args, {
      reject: false,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        EXTMOUNT_RUNC: fakeRunc,
        EXTMOUNT_NODE: fakeNode,
        EXTMOUNT_CONFIG: '/nonexistent',
        ...env,
      },
      extendEnv: false,
    });

  it('execs runc with the same argv and exit code for every other verb', async () => {
    const calls = [
      [
        '--root',
        '/run/docker/runtime-runc/moby',
        '--log',
        '/b/log.json',
        '--log-format',
        'json',
        'create',
        '--bundle',
        '/b',
        '--pid-file',
        '/b/init.pid',
        'id1',
      ],
      ['--root', '/r', 'state', 'id1'],
      ['--log=/x.json', 'start', 'id1'],
      ['--debug', '--systemd-cgroup', 'kill', 'id1', '9'],
      ['--rootless', 'false', 'delete', '--force', 'id1'],
      ['-log', '/l', 'exec', '--process', '/tmp/p.json', 'id1'],
      ['--root', 'checkpoint', 'state', 'a value that is a verb'],
      ['pause', 'id with spaces "and quotes"'],
      ['--version'],
    ];
    for (const args of calls) {
      const r = await run(args, { FAKE_EXIT: '3' });
      assert.equal(r.exitCode, 3, args.join(' '));
      assert.deepEqual(String(r.stdout).split('\n'), args, args.join(' '));
    }
  });

  it("answers kill, delete and state of a container crun no longer has as runc does (containerd reads only runc's words)", async () => {
    const crun = join(dir, 'crun');
    await writeFile(crun, RECORDER);
    await chmod(crun, 0o755);
    const root = join(dir, 'crun-root');
    const gone = [
      [['--root', root, 'kill', 'gone', '9'], 1],
      [['--root', root, 'state', 'gone'], 1],
      [['--root', root, 'delete', 'gone'], 1],
      [['--root=' + root, '--log', '/l.json', 'delete', '--force', 'gone'], 0],
    ] as const;
    for (const [args, code] of gone) {
      const r = await run([...args], { EXTMOUNT_RUNC: crun, FAKE_EXIT: '3' });
      assert.equal(r.exitCode, code, args.join(' '));
      assert.equal(String(r.stdout), '', `${args.join(' ')}: crun was called`);
      assert.equal(String(r.stderr), code === 1 ? 'container does not exist' : '', args.join(' '));
    }
    // A container crun has (its status file), and every other verb, go to crun as they are.
    await execa('mkdir', ['-p', join(root, 'here')]);
    await writeFile(join(root, 'here', 'status'), '');
    for (const args of [
      ['--root', root, 'kill', 'here', '9'],
      ['--root', root, 'start', 'gone'],
      ['--root', root, 'delete', '--force', 'here'],
    ]) {
      const r = await run(args, { EXTMOUNT_RUNC: crun, FAKE_EXIT: '3' });
      assert.equal(r.exitCode, 3, args.join(' '));
      assert.deepEqual(String(r.stdout).split('\n'), args);
    }
    // What a create that died halfway left (a folder, no status): removed as runc removes it.
    await execa('mkdir', ['-p', join(root, 'half', 'sub')]);
    const half = await run(['--root', root, 'delete', '--force', 'half'], { EXTMOUNT_RUNC: crun, FAKE_EXIT: '3' });
    assert.equal(half.exitCode, 0);
    assert.equal(String(half.stdout), '');
    await assert.rejects(readFile(join(root, 'half', 'sub')), /ENOENT/);
    // An ID runc would refuse goes to crun, which says so itself.
    const odd = await run(['--root', root, 'delete', '--force', '../x'], { EXTMOUNT_RUNC: crun, FAKE_EXIT: '3' });
    assert.equal(odd.exitCode, 3);
    // runc itself is never second-guessed.
    const r = await run(['--root', root, 'kill', 'gone', '9'], { FAKE_EXIT: '3' });
    assert.equal(r.exitCode, 3);
  });

  it('hands checkpoint and restore to the Node handler next to it, with the same argv', async () => {
    const main = await realpath(join(REPO_WRAPPER, '../../build/src/runtime/handler.cjs'));
    for (const args of [
      [
        '--root',
        '/r',
        '--log',
        '/l',
        '--log-format',
        'json',
        'checkpoint',
        '--image-path',
        '/i',
        '--work-path',
        '/w',
        'id1',
      ],
      ['--root', '/r', 'restore', '--image-path', '/i', '--detach', '-no-subreaper', '--bundle', '/b', 'id1'],
    ]) {
      const r = await run(args);
      const [script, ...rest] = String(r.stdout).split('\n');
      assert.equal(await realpath(script!), main);
      assert.deepEqual(rest, args);
    }
    // Also through a symlink to the wrapper (how a package manager may install it).
    const link = join(dir, 'extmount-runc');
    await symlink(REPO_WRAPPER, link);
    const viaLink = await run(['checkpoint', 'x'], {}, link);
    assert.equal(await realpath(String(viaLink.stdout).split('\n')[0]!), main);
  });

  it('leaves help, probes and calls without an ID to runc, without starting Node.js', async () => {
    for (const args of [
      ['checkpoint', '--help'],
      ['--root', '/r', 'checkpoint', '-h'],
      ['restore', 'id1', '--help'],
      ['checkpoint', '--image-path', '/i', '-help=true', 'id1'],
      // CRI-O's probe for pod restore: runc answers "flag needs an argument".
      ['restore', '--lsm-mount-context'],
      ['checkpoint', '--image-path', '/i'],
      ['checkpoint'],
    ]) {
      const r = await run(args, { FAKE_EXIT: '4' });
      assert.equal(r.exitCode, 4, args.join(' '));
      assert.deepEqual(String(r.stdout).split('\n'), args, args.join(' '));
    }
    // A value that looks like help is a value: the handler gets the call.
    const value = await run(['checkpoint', '--image-path', '--help', 'id1']);
    assert.match(String(value.stdout).split('\n')[0]!, /runtime\/handler\.cjs$/);
  });

  it('takes runc from the config ("runc"), and EXTMOUNT_RUNC over it', async () => {
    const config = join(dir, 'config.json');
    await writeFile(config, `{\n  "criu": "runc",\n  "runc" :  "${fakeRunc}",\n  "stateDir": "/var/lib/extmount"\n}\n`);
    const r = await run(['state', 'x'], { EXTMOUNT_RUNC: '', EXTMOUNT_CONFIG: config });
    assert.equal(r.exitCode, 0, String(r.stderr));
    assert.equal(String(r.stdout), 'state\nx');
    await writeFile(config, '{"runc": "/nonexistent/runc"}');
    const env = await run(['state', 'y'], { EXTMOUNT_CONFIG: config });
    assert.equal(String(env.stdout), 'state\ny');
  });

  it('takes node from the config ("node") and, with no environment at all (Podman), sets a system PATH', async () => {
    const config = join(dir, 'config-node.json');
    await writeFile(config, JSON.stringify({ runc: fakeRunc, node: fakeNode }));
    const r = await run(['checkpoint', '--image-path', '/i', 'id1'], {
      EXTMOUNT_NODE: '',
      EXTMOUNT_RUNC: '',
      EXTMOUNT_CONFIG: config,
    });
    assert.equal(r.exitCode, 0, String(r.stderr));
    assert.match(String(r.stdout).split('\n')[0]!, /runtime\/handler\.cjs$/);
    // No PATH: runc still gets one (it looks CRIU up there).
    const printer = join(dir, 'print-path');
    await writeFile(printer, '#!/bin/sh\nprintf "%s" "$PATH"\n');
    await chmod(printer, 0o755);
    const bare = await execa(REPO_WRAPPER, ['kill', 'id1'], {
      reject: false,
      env: { EXTMOUNT_RUNC: printer },
      extendEnv: false,
    });
    assert.equal(String(bare.stdout), '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  });

  it('refuses to loop when "runc" is the wrapper itself', async () => {
    const r = await run(['state', 'x'], { EXTMOUNT_RUNC: REPO_WRAPPER });
    assert.equal(r.exitCode, 1);
    assert.match(String(r.stderr), /the configured runc is this wrapper again/);
  });

  it('costs next to nothing on the fast path', async (t) => {
    const rounds = 100;
    const time = async (command: string, args: string[]) => {
      const start = process.hrtime.bigint();
      for (let i = 0; i < rounds; i++)
        await execa(command, args, { env: { EXTMOUNT_RUNC: fakeRunc, EXTMOUNT_CONFIG: '/nonexistent' } });
      return Number(process.hrtime.bigint() - start) / 1e6 / rounds;
    };
    const direct = await time(fakeRunc, ['--root', '/r', 'state', 'id']);
    const wrapped = await time(REPO_WRAPPER, ['--root', '/r', 'state', 'id']);
    t.diagnostic(
      `runc directly: ${direct.toFixed(2)} ms per call; through the wrapper: ${wrapped.toFixed(2)} ms (+${(wrapped - direct).toFixed(2)} ms)`,
    );
    // One extra sh exec per call; Node.js alone takes ~40-90 ms to start.
    assert.ok(wrapped - direct < 15, `the wrapper adds ${(wrapped - direct).toFixed(1)} ms per call`);
  });
});

// The Node.js handler (the real bundle) in front of a fake runc that knows no container, so that the
// handler hands the call to runc as it is: what runc gets must be what an exec would have given it.
const UNKNOWN_RUNC = `#!/bin/sh
case " $* " in *" state "*) echo "container does not exist" >&2; exit 1 ;; esac
ls -l /proc/$$/fd > "$FAKE_DIR/fds"
case "\${FAKE_MODE:-}" in
  signals)
    trap 'echo USR1 >> "$FAKE_DIR/signals"' USR1
    trap 'echo TERM >> "$FAKE_DIR/signals"; exit 42' TERM
    : > "$FAKE_DIR/ready"
    while :; do sleep 0.05; done ;;
  die) kill -TERM $$ ;;
esac
exit 3
`;

describe('the handler behind hooks/extmount-runc stands in for runc', () => {
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-relay-'));
    await writeFile(join(dir, 'runc'), UNKNOWN_RUNC);
    await chmod(join(dir, 'runc'), 0o755);
    await writeFile(join(dir, 'config.json'), JSON.stringify({ stateDir: join(dir, 'state') }));
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      EXTMOUNT_RUNC: join(dir, 'runc'),
      EXTMOUNT_CONFIG: join(dir, 'config.json'),
      FAKE_DIR: dir,
    };
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const start = (args: string[], extra: Record<string, string> = {}, fds: Record<number, number> = {}) => {
    const top = Math.max(2, ...Object.keys(fds).map(Number));
    const stdio = Array.from({ length: top + 1 }, (_, fd) =>
      fd === 0 ? 'ignore' : fd <= 2 ? 'pipe' : (fds[fd] ?? 'ignore'),
    );
    return execa(REPO_WRAPPER, args, {
      reject: false,
      env: { ...env, ...extra },
      extendEnv: false,
      stdio: stdio as never,
    });
  };

  it('gives runc every fd the caller gave, at the same number (--status-fd 22 is not "bad file descriptor")', async () => {
    const five = await open(join(dir, 'five'), 'w');
    const twentyTwo = await open(join(dir, 'twenty-two'), 'w');
    try {
      const r = await start(
        ['checkpoint', '--lazy-pages', '--status-fd', '22', 'nosuch'],
        {},
        { 5: five.fd, 22: twentyTwo.fd },
      );
      assert.equal(r.exitCode, 3, String(r.stderr));
      const fds = await readFile(join(dir, 'fds'), 'utf8');
      assert.match(fds, new RegExp(` 5 -> ${join(dir, 'five')}$`, 'm'));
      assert.match(fds, new RegExp(` 22 -> ${join(dir, 'twenty-two')}$`, 'm'));
      // Node.js's own fds (its event loop) stay with Node.js.
      assert.doesNotMatch(fds, /anon_inode:\[(eventpoll|eventfd)\]/);
    } finally {
      await five.close();
      await twentyTwo.close();
    }
  });

  it("forwards the caller's signals to runc (SIGUSR1 opens no inspector) and exits with runc's status", async () => {
    const child = start(['restore', '--bundle', dir, 'nosuch'], { FAKE_MODE: 'signals' });
    await waitFor(
      'the fake runc to trap its signals',
      async () => (await readFile(join(dir, 'ready')).catch(() => undefined)) !== undefined,
    );
    child.kill('SIGUSR1');
    await waitFor(
      'SIGUSR1 to reach runc',
      async () => (await readFile(join(dir, 'signals'), 'utf8').catch(() => '')) === 'USR1\n',
    );
    child.kill('SIGTERM');
    const r = await child;
    assert.equal(r.exitCode, 42, String(r.stderr));
    assert.equal(await readFile(join(dir, 'signals'), 'utf8'), 'USR1\nTERM\n');
    assert.doesNotMatch(String(r.stderr), /Debugger/);
  });

  it('dies of the signal runc died of, as an exec would look to the caller', async () => {
    const r = await start(['checkpoint', 'nosuch'], { FAKE_MODE: 'die' });
    assert.equal(r.signal, 'SIGTERM', `exit ${r.exitCode}: ${String(r.stderr)}`);
  });
});
