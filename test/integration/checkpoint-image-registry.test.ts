// checkpoint-image --push and restore-pod REF against a real registry (Debian's docker-registry, distribution
// 2.8) on 127.0.0.1: the blob uploads, the manifest PUT, a re-push that changes nothing, the image read back.
// docker-registry is taken from PATH (the sid stack has it) or run from the sid stack root through its
// own loader; neither there: skipped loudly, failed under EXTMOUNT_E2E=required.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa, type ResultPromise } from 'execa';
import { stackTool } from '../helpers/stack-tool.js';
import { parse as parseYaml } from 'yaml';
import { main } from '../../src/cli/main.js';
import type { CommandIO } from '../../src/commands/io.js';
import { missing, requireE2E, waitFor } from '../helpers/e2e.js';
import { containerdArchive } from '../helpers/kube-archive.js';

async function run(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIO = { out: (t) => out.push(t), err: (t) => err.push(t), env: { HOME: '/nonexistent' } };
  return { code: await main(argv, io), out, err };
}

describe('checkpoint-image --push to a registry on 127.0.0.1', () => {
  let dir: string;
  let registry: ResultPromise | undefined;
  const port = 20000 + (process.pid % 20000);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-registry-'));
    if (await missing(['registry'])) return;
    const command = (await stackTool('docker-registry', ['--version']))!;
    await writeFile(
      join(dir, 'config.yml'),
      `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`,
    );
    registry = execa(command[0]!, [...command.slice(1), 'serve', join(dir, 'config.yml')], {
      reject: false,
      stdin: 'ignore',
    });
    await waitFor('the registry', async () => (await fetch(`http://127.0.0.1:${port}/v2/`).catch(() => undefined))?.ok);
  });
  after(async () => {
    registry?.kill('SIGTERM');
    await registry;
    await rm(dir, { recursive: true, force: true });
  });

  it('pushes (blobs, then the OCI manifest with the checkpoint annotations); a re-push gives the same digest; restore-pod reads it back', async (t) => {
    if (!(await requireE2E(t, ['registry']))) return;
    const archive = join(dir, 'checkpoint.tar');
    await writeFile(archive, containerdArchive());
    const ref = `127.0.0.1:${port}/counter-checkpoint:1`;
    const first = await run(['checkpoint-image', archive, '--tag', ref, '--push', '--json']);
    assert.equal(first.code, 0, first.err.join('\n'));
    const pushed = JSON.parse(first.out.join('\n'));
    const answer = await fetch(`http://127.0.0.1:${port}/v2/counter-checkpoint/manifests/1`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(answer.headers.get('docker-content-digest'), pushed.digest);
    const manifest = (await answer.json()) as {
      annotations: Record<string, string>;
      layers: { digest: string; size: number }[];
    };
    assert.equal(manifest.annotations['org.criu.checkpoint.container.name'], 'counter');
    const layer = await fetch(`http://127.0.0.1:${port}/v2/counter-checkpoint/blobs/${manifest.layers[0]!.digest}`);
    assert.equal((await layer.arrayBuffer()).byteLength, manifest.layers[0]!.size);
    const again = await run(['checkpoint-image', archive, '--tag', ref, '--push']);
    assert.equal(again.code, 0, again.err.join('\n'));
    assert.deepEqual(again.out, [`${ref}@${pushed.digest}`]);
    const pod = await run(['restore-pod', ref, '--node', 'node-b', '--map', '/srv/a=/srv/b']);
    assert.equal(pod.code, 0, pod.err.join('\n'));
    const doc = parseYaml(pod.out.join('\n'));
    assert.equal(doc.spec.containers[0].image, ref);
    assert.equal(
      doc.spec.volumes.find((v: { hostPath?: { path: string } }) => v.hostPath?.path === '/srv/b/data')?.hostPath.path,
      '/srv/b/data',
    );
    const missing = await run(['restore-pod', `127.0.0.1:${port}/nothing:1`, '--node', 'b']);
    assert.equal(missing.code, 1);
    assert.match(missing.err[0]!, /nothing:1: GET manifest: HTTP 404/);
  });
});
