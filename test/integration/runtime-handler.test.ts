// The wrapper's restore handler around a fake runc: what reaches runc, and what a failure turns into.
// No root, no dockerd: the bundle has no bind that needs a copy, so nothing is mounted.
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runWrapper } from '../../src/runtime/main.js';
import { encodeMount, mountpointsImage } from '../helpers/criu-image-encoder.js';

// Records its argv and two env variables, writes a CRIU log when asked, exits with $FAKE_EXIT.
const FAKE_RUNC = `#!/bin/sh
printf '%s\\n' "$@" > "$FAKE_DIR/argv"
cp "$FAKE_DIR/bundle/config.json" "$FAKE_DIR/config-at-call.json"
printf 'CRIU_CONFIG_FILE=%s\\nEXTMOUNT_WRAPPED=%s\\n' "\${CRIU_CONFIG_FILE:-}" "\${EXTMOUNT_WRAPPED:-}" > "$FAKE_DIR/env"
if [ -n "\${FAKE_CRIU_LOG:-}" ]; then printf '%s\\n' "$FAKE_CRIU_LOG" > "$FAKE_DIR/work/restore.log"; fi
if [ -n "\${FAKE_LS:-}" ]; then ls "$FAKE_LS" > "$FAKE_DIR/ls-at-call"; fi
if [ -n "\${FAKE_RUNC_ERROR:-}" ]; then printf '{"level":"error","msg":"%s"}\\n' "$FAKE_RUNC_ERROR" >> "$FAKE_DIR/log.json"; fi
exit "\${FAKE_EXIT:-0}"
`;

const MANIFEST = `format: extmount/v1
extmount: 0.1.0
criu: 4.1.1
createdAt: 2026-11-27T00:00:00Z
target: { kind: container, id: cid, name: c, image: i }
enableExternalMasters: false
enableExternalSharing: false
mounts:
  - { key: data, mountpoint: /data, hostPath: /srv/data, kind: bind, type: directory, readOnly: false, propagation: private }
`;

describe("the wrapper's restore handler (fake runc)", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let argv: string[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-handler-'));
    for (const sub of ['bundle', 'images', 'work', 'state', 'data', 'data2']) await mkdir(join(dir, sub));
    // The images the manifest describes: runc dumped the config bind /data under its destination.
    await writeFile(
      join(dir, 'images', 'mountpoints-13.img'),
      mountpointsImage([
        encodeMount({ mntId: 82, parentId: 52, mountpoint: './', root: '/' }),
        encodeMount({ mntId: 100, parentId: 82, mountpoint: './data', root: join(dir, 'data'), extKey: '/data' }),
      ]),
    );
    await writeFile(join(dir, 'fake-runc'), FAKE_RUNC);
    await chmod(join(dir, 'fake-runc'), 0o755);
    await writeFile(join(dir, 'config.json'), JSON.stringify({ stateDir: join(dir, 'state') }));
    await writeFile(
      join(dir, 'bundle', 'config.json'),
      JSON.stringify({
        root: { path: join(dir, 'rootfs') },
        mounts: [{ destination: '/data', type: 'bind', source: join(dir, 'data'), options: ['rbind', 'rprivate'] }],
      }),
    );
    env = {
      ...process.env,
      EXTMOUNT_CONFIG: join(dir, 'config.json'),
      EXTMOUNT_RUNC: join(dir, 'fake-runc'),
      FAKE_DIR: dir,
    };
    argv = [
      '--root',
      join(dir, 'root'),
      '--log',
      join(dir, 'log.json'),
      '--log-format',
      'json',
      'restore',
      '--image-path',
      join(dir, 'images'),
      '--work-path',
      join(dir, 'work'),
      '--detach',
      '-no-subreaper',
      '--bundle',
      join(dir, 'bundle'),
      'cid',
    ];
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const reset = async () => {
    for (const f of ['argv', 'env', 'log.json', 'work/restore.log']) await rm(join(dir, f), { force: true });
  };

  it('passes the argv through unchanged, marks the call, and sets no CRIU config when nothing is ours', async () => {
    await reset();
    await writeFile(join(dir, 'images', 'extmount.yaml'), MANIFEST);
    assert.equal(await runWrapper(argv, env), 0);
    assert.deepEqual((await readFile(join(dir, 'argv'), 'utf8')).trimEnd().split('\n'), argv);
    assert.equal(await readFile(join(dir, 'env'), 'utf8'), 'CRIU_CONFIG_FILE=\nEXTMOUNT_WRAPPED=1\n');
    assert.equal(
      await readFile(join(dir, 'bundle', 'config.json'), 'utf8').then((t) => JSON.parse(t).mounts[0].source),
      join(dir, 'data'),
    );
  });

  it("a CRIU failure: the Error line and the fix in runc's log for containerd, the CRIU log kept, runc's exit code", async () => {
    await reset();
    const status = await runWrapper(argv, {
      ...env,
      FAKE_EXIT: '1',
      FAKE_CRIU_LOG:
        '(00.045000) Error (criu/mount-v2.c:891): mnt-v2: Failed to copy sharing from -1:/srv/disk2 to 63: Invalid argument',
    });
    assert.equal(status, 1);
    const entries = (await readFile(join(dir, 'log.json'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; msg: string });
    const last = entries.at(-1)!;
    assert.equal(last.level, 'error');
    assert.match(
      last.msg,
      /^extmount: restore failed: mnt-v2: Failed to copy sharing from -1:\/srv\/disk2 to 63: Invalid argument; the restore source has no peer group to copy/,
    );
    const kept = await readdir(join(dir, 'state', 'cid', 'logs'));
    assert.equal(kept.filter((f) => f.startsWith('criu-restore-')).length, 1);
    const result = JSON.parse(await readFile(join(dir, 'state', 'cid', 'last-restore.json'), 'utf8')) as {
      ok: boolean;
      criuLog: string;
    };
    assert.equal(result.ok, false);
    assert.match(result.criuLog, /logs\/criu-restore-/);
  });

  it("runc failing on its own keeps runc's own error last in its log", async () => {
    await reset();
    const status = await runWrapper(argv, { ...env, FAKE_EXIT: '1', FAKE_RUNC_ERROR: 'rootfs is gone' });
    assert.equal(status, 1);
    const entries = (await readFile(join(dir, 'log.json'), 'utf8')).trim().split('\n');
    assert.equal(JSON.parse(entries.at(-1)!).msg, 'rootfs is gone');
  });

  it('a damaged manifest is refused with exit 2 before runc runs', async () => {
    await reset();
    await writeFile(join(dir, 'images', 'extmount.yaml'), MANIFEST.replace('key: data', 'key: "da:ta"'));
    assert.equal(await runWrapper(argv, env), 2);
    await assert.rejects(readFile(join(dir, 'argv')), /ENOENT/);
    const last = JSON.parse((await readFile(join(dir, 'log.json'), 'utf8')).trim().split('\n').at(-1)!) as {
      msg: string;
    };
    assert.match(last.msg, /^extmount: .*extmount\.yaml: mounts\[0\]\.key "da:ta"/);
    await writeFile(join(dir, 'images', 'extmount.yaml'), MANIFEST);
  });

  it('images with an external key the manifest does not map are refused before runc runs, naming the key', async () => {
    await reset();
    const image = join(dir, 'images', 'mountpoints-13.img');
    const original = await readFile(image);
    await writeFile(
      image,
      mountpointsImage([
        encodeMount({ mntId: 82, parentId: 52, mountpoint: './', root: '/' }),
        encodeMount({ mntId: 100, parentId: 82, mountpoint: './data', root: join(dir, 'data'), extKey: '/data' }),
        encodeMount({ mntId: 101, parentId: 82, mountpoint: './x', root: '/srv/x', extKey: 'unmapped' }),
      ]),
    );
    try {
      assert.equal(await runWrapper(argv, env), 2);
      await assert.rejects(readFile(join(dir, 'argv')), /ENOENT/);
      const last = JSON.parse((await readFile(join(dir, 'log.json'), 'utf8')).trim().split('\n').at(-1)!) as {
        msg: string;
      };
      assert.match(last.msg, /the images need external mount key unmapped \(at \/x\), which the manifest does not map/);
    } finally {
      await writeFile(image, original);
    }
  });

  it("extmount.maps.json beside the images (from `extmount restore CONTAINER --map`) is applied to runc's bind, and checked first", async () => {
    await reset();
    const maps = join(dir, 'images', 'extmount.maps.json');
    try {
      await writeFile(maps, JSON.stringify({ maps: { data: join(dir, 'nowhere') } }));
      assert.equal(await runWrapper(argv, env), 2);
      await assert.rejects(readFile(join(dir, 'argv')), /ENOENT/);

      // To a folder that exists: runc gets a checked copy of it in the wrapper's private holder as the
      // bind source for this call only (what was checked is what is mounted), showing data2's content.
      await writeFile(maps, JSON.stringify({ maps: { data: join(dir, 'data2') } }));
      await writeFile(join(dir, 'data2', 'marker'), 'm');
      const original = await readFile(join(dir, 'bundle', 'config.json'), 'utf8');
      const entry = join(dir, 'state', 'cid', 'roots', `${join(dir, 'root').replaceAll('/', '@')}`, 'mnt', '0');
      assert.equal(await runWrapper(argv, { ...env, FAKE_LS: entry }), 0);
      assert.equal(JSON.parse(await readFile(join(dir, 'config-at-call.json'), 'utf8')).mounts[0].source, entry);
      assert.equal(await readFile(join(dir, 'ls-at-call'), 'utf8'), 'marker\n');
      await assert.rejects(
        readFile(join(entry, 'marker')),
        /ENOENT|ENOTDIR/,
        'the holder is still mounted after runc returned',
      );
      assert.equal(await readFile(join(dir, 'bundle', 'config.json'), 'utf8'), original);
      // A maps file in the state dir (the old handshake) is no instruction.
      await rm(maps);
      await writeFile(join(dir, 'state', 'cid', 'maps.json'), JSON.stringify({ maps: { data: join(dir, 'nowhere') } }));
      assert.equal(await runWrapper(argv, env), 0);
      assert.equal(
        JSON.parse(await readFile(join(dir, 'config-at-call.json'), 'utf8')).mounts[0].source,
        join(dir, 'data'),
      );
    } finally {
      await rm(maps, { force: true });
      await rm(join(dir, 'state', 'cid', 'maps.json'), { force: true });
    }
  });
});
