// install-runtime --containerd --apply on a config containerd 2.x reads: `containerd config dump` (no
// daemon started) shows the handler merged from the drop-in beside the main config's own CRI settings.
// containerd 2.x from PATH or the sid stack root (need `containerd2`).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { execa } from 'execa';
import { main } from '../../src/cli/main.js';
import type { CommandIO } from '../../src/commands/io.js';
import { containerdVersion, requireE2E, WRAPPER } from '../helpers/e2e.js';
import { stackTool } from '../helpers/stack-tool.js';

describe('install-runtime --containerd on containerd 2.x', () => {
  const dirs: string[] = [];
  after(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it("containerd merges the extmount handler from the drop-in and keeps the main config's CRI settings and runc", async (t) => {
    if (!(await requireE2E(t, ['containerd2']))) return;
    const containerd = (await stackTool(
      'containerd',
      ['--version'],
      (out) => (containerdVersion(out)?.[0] ?? 0) >= 2,
    ))!;
    const dir = await mkdtemp(join(tmpdir(), 'extmount-containerd-'));
    dirs.push(dir);
    const config = join(dir, 'config.toml');
    await writeFile(
      config,
      `version = 3\nroot = "${dir}/root"\n\n[plugins."io.containerd.cri.v1.runtime"]\n  restrict_oom_score_adj = true\n`,
    );
    const io: CommandIO = { out: () => undefined, err: () => undefined, env: {} };
    const args = [
      'install-runtime',
      '--containerd',
      '--apply',
      '--containerd-config',
      config,
      '--drop-in',
      join(dir, 'conf.d/extmount.toml'),
    ];
    assert.equal(await main(args, io), 0);
    const dump = await execa(containerd[0]!, [...containerd.slice(1), '-c', config, 'config', 'dump'], {
      reject: false,
    });
    assert.equal(dump.exitCode, 0, String(dump.stderr));
    const text = String(dump.stdout);
    const section = (name: string) =>
      text
        .split(`[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.${name}]`)[1]
        ?.split(/\n\s*\[plugins\.'io\.containerd\.cri\.v1\.runtime'\.containerd\.runtimes\.(?!extmount\.options)/)[0] ??
      '';
    assert.match(section('extmount'), /runtime_type = 'io\.containerd\.runc\.v2'/);
    assert.ok(text.includes(`BinaryName = '${WRAPPER}'`), "the drop-in's BinaryName");
    assert.match(text, /restrict_oom_score_adj = true/);
    assert.match(section('runc'), /runtime_type = 'io\.containerd\.runc\.v2'/);
    // Re-running changes nothing: containerd reads the same merged config.
    assert.equal(await main(args, io), 0);
    const again = await execa(containerd[0]!, [...containerd.slice(1), '-c', config, 'config', 'dump'], {
      reject: false,
    });
    assert.equal(String(again.stdout), text);
  });
});
