// Black-box tests of the CLI contract that need no root, daemon or CRIU.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { assertOneLineError, CLI, runCli, type CliResult } from './helpers/cli.js';
import { FIXTURES } from './helpers/fixtures.js';

const seed = join(FIXTURES, 'mountinfo/seed.mountinfo');

describe('extmount detect --mountinfo (offline)', () => {
  it('prints the documented JSON for the seed tree', async () => {
    const r = await runCli(['detect', '--mountinfo', seed, '--key', '/bar=barmount', '--json']);
    assert.equal(r.exitCode, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(report).sort(), ['criu', 'external', 'mounts']);
    assert.equal(report.external.length, 1);
    const [bar] = report.external;
    assert.deepEqual(Object.keys(bar).sort(), [
      'hostPath',
      'key',
      'kind',
      'mountpoint',
      'propagation',
      'readOnly',
      'reason',
    ]);
    assert.equal(bar.mountpoint, '/bar');
    assert.equal(bar.key, 'barmount');
    assert.match(bar.hostPath, /\/foo$/);
    assert.deepEqual(Object.keys(report.mounts[0]).sort(), [
      'class',
      'fstype',
      'mountId',
      'mountpoint',
      'parentId',
      'reason',
      'root',
      'source',
    ]);
    assert.deepEqual(report.criu.dump.slice(0, 2), ['--external', 'mnt[/bar]:barmount']);
    assert.ok(report.criu.restore.includes(`mnt[barmount]:${bar.hostPath}`));
  });

  it('prints a table a person can read', async () => {
    const r = await runCli(['detect', '--mountinfo', join(FIXTURES, 'mountinfo/docker-propagated.mountinfo')]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^ID\s+PARENT\s+MOUNTPOINT\s+FSTYPE\s+CLASS\s+REASON/);
    assert.match(r.stdout, /External mounts \(5\):/);
    assert.match(r.stdout, /--enable-external-masters/);
  });

  it('picks the root with --root-mount in a host-view mountinfo', async () => {
    const r = await runCli([
      'detect',
      '--mountinfo',
      join(FIXTURES, 'mountinfo/seed.host.mountinfo'),
      '--root-mount',
      '27',
      '--json',
    ]);
    assert.equal(r.exitCode, 0, r.stderr);
    const roots = JSON.parse(r.stdout).mounts.filter((m: { class: string }) => m.class === 'root');
    assert.deepEqual(
      roots.map((m: { mountId: number }) => m.mountId),
      [27],
    );
  });
});

describe('bad input exits 2 with one line', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-cli-'));
    await writeFile(join(dir, 'garbage'), 'this is not mountinfo\n');
    await writeFile(
      join(dir, 'truncated'),
      '63 42 254:0 /tmp/x/root / rw,relatime - ext4 /dev/vda rw\n64 63 254:0 /tmp/x/foo /bar rw,rel',
    );
    await writeFile(join(dir, 'binary'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0xff, 0xfe, 0x0a]));
    await writeFile(join(dir, 'bad-config.json'), '{"hostPaths": {"deny": "/etc"}}');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const cases: Array<[string, () => string[], RegExp]> = [
    [
      'garbage mountinfo',
      () => ['detect', '--mountinfo', join(dir, 'garbage')],
      /^extmount: .*garbage: line 1: truncated/,
    ],
    ['truncated mountinfo', () => ['detect', '--mountinfo', join(dir, 'truncated')], /line 2: truncated/],
    ['binary mountinfo', () => ['detect', '--mountinfo', join(dir, 'binary')], /binary/],
    [
      'a mountinfo file with a raw control byte (strict for files passed in)',
      () => ['detect', '--mountinfo', join(FIXTURES, 'mountinfo/control-byte.host.mountinfo')],
      /line 11: contains control or binary bytes/,
    ],
    ['missing mountinfo', () => ['detect', '--mountinfo', join(dir, 'nope')], /cannot read .*nope/],
    ['unknown pid', () => ['detect', '--pid', '999999999'], /no process with pid 999999999/],
    [
      '--key with a colon',
      () => ['detect', '--mountinfo', seed, '--key', '/bar=bar:mount'],
      /--key \/bar=bar:mount: the key may only hold/,
    ],
    [
      '--key for no external mount',
      () => ['detect', '--mountinfo', seed, '--key', '/nope=x'],
      /no external mount at \/nope/,
    ],
    ['--key without =', () => ['detect', '--mountinfo', seed, '--key', 'barmount'], /expected MOUNTPOINT=KEY/],
    ['unknown flag', () => ['detect', '--frobnicate'], /Unknown option '--frobnicate'/],
    ['unknown command', () => ['frobnicate'], /unknown command "frobnicate"/],
    ['two sources', () => ['detect', '--pid', '1', '--mountinfo', seed], /exactly one of/],
    [
      'bad --root-mount',
      () => ['detect', '--mountinfo', seed, '--root-mount', '4242'],
      /--root-mount 4242: no mount with that ID/,
    ],
    [
      'malformed config',
      () => ['--config', join(dir, 'bad-config.json'), 'detect', '--mountinfo', seed],
      /"hostPaths.deny" must be a list/,
    ],
    [
      'unreachable engine',
      () => ['--host', `unix://${join(dir, 'no.sock')}`, 'detect', 'c1'],
      /cannot reach the Docker engine at unix:\/\/.*no\.sock/,
    ],
    ['bad --host', () => ['--host', 'ftp://x', 'detect', 'c1'], /unsupported scheme ftp:/],
    ['restore of a missing images dir', () => ['restore', '--images-dir', join(dir, 'none')], /no images directory/],
    ['show of a missing path', () => ['show', join(dir, 'none')], /cannot read/],
    ['--map without =', () => ['restore', '--images-dir', dir, '--map', 'barmount'], /expected KEY=\/ABSOLUTE\/PATH/],
    [
      'bad --log-format',
      () => ['--log-format', 'xml', 'detect', '--mountinfo', seed],
      /--log-format must be text or json, got "xml"/,
    ],
    ['help for an unknown command', () => ['help', 'frobnicate'], /unknown command "frobnicate"/],
  ];
  for (const [name, args, pattern] of cases) {
    it(name, async () => assertOneLineError(await runCli(args()), 2, pattern));
  }
});

describe('restore refuses a hostile images dir at once, with bounded memory (issue 11)', () => {
  let dir: string;
  const manifestHead =
    'format: extmount/v1\nextmount: 0.1.0\ncriu: 4.1.1\ncreatedAt: "2026-01-01T00:00:00Z"\ntarget: {kind: pid, pid: 42, root: null}\nenableExternalMasters: false\nenableExternalSharing: false\n';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-hostile-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** An images dir whose extmount.yaml is made by `plant`. */
  async function imagesDir(name: string, plant: (manifest: string) => Promise<void>): Promise<string> {
    const images = join(dir, name);
    await mkdir(images);
    await plant(join(images, 'extmount.yaml'));
    return images;
  }

  /** The CLI under /usr/bin/time when there is one: exit code, output, and its peak RSS in MiB. */
  async function restoreMeasured(images: string): Promise<CliResult & { rssMiB: number | undefined; ms: number }> {
    const started = Date.now();
    const timed = existsSync('/usr/bin/time');
    const report = join(dir, 'time.out');
    const argv = [CLI, 'restore', '--images-dir', images];
    const r = await execa(
      timed ? '/usr/bin/time' : process.execPath,
      timed ? ['-q', '-o', report, '-f', '%M', process.execPath, ...argv] : argv,
      { reject: false, stdin: 'ignore', timeout: 60_000 },
    );
    const rssKiB = timed ? Number((await readFile(report, 'utf8')).trim()) : NaN;
    return {
      exitCode: r.exitCode ?? -1,
      stdout: String(r.stdout),
      stderr: String(r.stderr),
      rssMiB: Number.isFinite(rssKiB) ? rssKiB / 1024 : undefined,
      ms: Date.now() - started,
    };
  }

  const cases: Array<[string, (manifest: string) => Promise<void>, RegExp]> = [
    [
      'a FIFO as extmount.yaml (would block forever)',
      (m) => execa('mkfifo', [m]).then(() => undefined),
      /extmount\.yaml: the manifest \(extmount\.yaml\) is a FIFO \(named pipe\), not a regular file; remove it/,
    ],
    [
      'extmount.yaml symlinked to /dev/zero',
      (m) => symlink('/dev/zero', m),
      /extmount\.yaml: the manifest \(extmount\.yaml\) is a symlink, which extmount does not follow/,
    ],
    [
      'a manifest with a 200 MB value (sparse file)',
      async (m) => {
        await writeFile(m, `${manifestHead}mounts:\n  - key: "`);
        await truncate(m, 200 * 1024 * 1024);
      },
      /has 209715200 bytes, more than the 1 MiB allowed/,
    ],
    [
      'a manifest with 200,000 entries',
      (m) => writeFile(m, `${manifestHead}mounts: [${Array(200_000).fill('{}').join(',')}]\n`),
      /more than the 65536 a manifest may have/,
    ],
    [
      'a manifest with an unknown tag',
      (m) => writeFile(m, `${manifestHead}mounts: !evil []\n`),
      /not valid YAML \(Unresolved tag: !evil/,
    ],
    [
      'a manifest with an alias',
      (m) => writeFile(m, `${manifestHead}x: &a [1]\nmounts: *a\n`),
      /YAML (anchors|aliases) are not allowed/,
    ],
  ];
  for (const [name, plant, pattern] of cases) {
    it(name, async () => {
      const images = await imagesDir(name.replace(/\W+/g, '-'), plant);
      const r = await restoreMeasured(images);
      assertOneLineError(r, 2, pattern);
      assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
      if (r.rssMiB !== undefined)
        assert.ok(r.rssMiB < 200, `peak RSS ${r.rssMiB.toFixed(0)} MiB: the input was read or parsed whole`);
      assert.ok(!(await readdir(images)).includes('.extmount-restore.lock'), 'the lock file was left behind');
    });
  }

  it('a second restore of an images dir that is being restored: exit 2 and why', async () => {
    const images = await imagesDir('locked', (m) => writeFile(m, manifestHead));
    const lockFile = join(images, '.extmount-restore.lock');
    await writeFile(lockFile, '');
    // flock(1) holds the lock as a running restore would, until it is killed (by its pid); -o and no
    // stdio: its sleep holds neither the lock nor a pipe the kill would have to wait out.
    const holder = execa('flock', ['-o', lockFile, 'sleep', '60'], { reject: false, stdio: 'ignore' });
    try {
      const deadline = Date.now() + 5000;
      while (
        (await execa('flock', ['--nonblock', lockFile, 'true'], { reject: false })).exitCode === 0 &&
        Date.now() < deadline
      )
        await new Promise((r) => setTimeout(r, 20));
      assertOneLineError(
        await runCli(['restore', '--images-dir', images]),
        2,
        /another extmount restore of .*locked is running; wait for it to finish/,
      );
    } finally {
      holder.kill('SIGKILL');
      await holder;
    }
    // Lock free again: the same dir goes on to the manifest checks.
    assertOneLineError(await runCli(['restore', '--images-dir', images]), 2, /"mounts" must be a list/);
  });

  it('a relative --images-dir is resolved (messages name the absolute path)', async () => {
    await imagesDir('relative', (m) => writeFile(m, manifestHead));
    const r = await execa(process.execPath, [CLI, 'restore', '--images-dir', 'relative'], {
      cwd: dir,
      reject: false,
      stdin: 'ignore',
    });
    assertOneLineError(
      { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) },
      2,
      new RegExp(`${join(dir, 'relative')}/extmount\\.yaml: "mounts" must be a list`),
    );
  });
});

describe('extmount show on damaged images', () => {
  it('exits 2 with one line for a truncated and for a corrupted mountpoints image', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'extmount-show-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const image = await readFile(join(FIXTURES, 'images/seed/mountpoints-10.img'));
    await writeFile(join(dir, 'truncated.img'), image.subarray(0, 40));
    const corrupted = Buffer.from(image);
    corrupted[12] = 0xff;
    corrupted[13] = 0xff;
    await writeFile(join(dir, 'corrupted.img'), corrupted);
    assertOneLineError(await runCli(['show', join(dir, 'truncated.img')]), 2, /truncated\.img/);
    assertOneLineError(await runCli(['show', join(dir, 'corrupted.img')]), 2, /corrupted\.img/);
    const ok = await runCli(['show', join(FIXTURES, 'images/seed'), '--json']);
    assert.equal(ok.exitCode, 0, ok.stderr);
    const files = JSON.parse(ok.stdout).files as Array<{
      entries: Array<{ mountpoint: string; externalKey: string | null }>;
    }>;
    const bar = files.flatMap((f) => f.entries).find((e) => e.mountpoint === '/bar');
    assert.equal(bar?.externalKey, 'barmount');
  });
});

describe('docker CLI plugin (hooks/docker-extmount)', () => {
  const plugin = join(FIXTURES, '../../hooks/docker-extmount');
  it('answers docker-cli-plugin-metadata with SchemaVersion 0.1.0 and the package version', async () => {
    const r = await execa(plugin, ['docker-cli-plugin-metadata']);
    const metadata = JSON.parse(String(r.stdout));
    assert.equal(metadata.SchemaVersion, '0.1.0');
    assert.equal(metadata.Version, (await runCli(['--version'])).stdout.trim());
  });
  it('runs extmount with the plugin name dropped', async () => {
    const r = await execa(plugin, ['extmount', 'detect', '--mountinfo', seed, '--json']);
    assert.equal(JSON.parse(String(r.stdout)).external[0].mountpoint, '/bar');
  });
});

describe('help and version', () => {
  it('--help lists the commands and exits 0', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.exitCode, 0);
    for (const command of ['detect', 'checkpoint', 'restore', 'show', 'install-runtime'])
      assert.match(r.stdout, new RegExp(`^  ${command} `, 'm'));
  });
  it('a command --help shows its usage', async () => {
    const r = await runCli(['detect', '--help']);
    assert.equal(r.exitCode, 0);
    assert.match(r.stdout, /^Usage: extmount detect --pid PID/);
  });
  it('help COMMAND is COMMAND --help, and every option of the table is in it', async () => {
    const viaHelp = await runCli(['help', 'migrate']);
    const viaFlag = await runCli(['migrate', '--help']);
    assert.equal(viaHelp.exitCode, 0);
    assert.equal(viaHelp.stdout, viaFlag.stdout);
    for (const flag of [
      '--from HOST',
      '--to HOST',
      '--map SRC=DST',
      '--copy-binds',
      '--name NEW',
      '--log-format FORMAT',
    ])
      assert.ok(viaHelp.stdout.includes(`  ${flag} `), flag);
  });
  for (const args of [[], ['--json']]) {
    it(`bare "extmount ${args.join(' ')}" prints the usage on stderr and exits 2`, async () => {
      const r = await runCli(args);
      assert.equal(r.exitCode, 2);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^extmount \S+: CRIU checkpoint\/restore/);
      assert.match(r.stderr, /^Commands:$/m);
    });
  }
  it('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+$/);
  });
});

describe('logs on stderr', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-log-'));
    // A CRIU that cannot be run: detect --mountinfo still answers, with a warning.
    await writeFile(join(dir, 'config.json'), JSON.stringify({ criu: join(dir, 'no-criu') }));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('a warning is one readable line by default', async () => {
    const r = await runCli(['--config', join(dir, 'config.json'), 'detect', '--mountinfo', seed]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stderr, /^extmount: warning: cannot run CRIU \(\S+no-criu\): .*: showing options for CRIU >= 2\.8$/);
    assert.equal(r.stderr.split('\n').length, 1);
  });
  it('--log-format json gives one JSON object a line', async () => {
    const r = await runCli([
      '--log-format',
      'json',
      '--config',
      join(dir, 'config.json'),
      'detect',
      '--mountinfo',
      seed,
    ]);
    assert.equal(r.exitCode, 0, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0]!);
    assert.equal(entry.level, 40);
    assert.match(entry.msg, /cannot run CRIU/);
  });
});
