// `docker … extmount` through the real docker CLI (each docker binary on PATH: Debian's 20.10 and any
// newer one) against a private dockerd: -H, --context, DOCKER_CONTEXT and config.json's currentContext
// must all reach that engine, where the only container with this name and bind runs.
import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { runCli } from '../helpers/cli.js';
import { PLUGIN_ENTRY } from '../helpers/docker-cli-config.js';
import { importTestImage, runDetached, startDaemon, TEST_IMAGE, type Daemon } from '../helpers/dockerd.js';
import { missing, requireE2E } from '../helpers/e2e.js';

/** Every distinct docker CLI binary on PATH (by real path), the first one first. */
function dockerClis(): string[] {
  const found = new Map<string, string>();
  for (const d of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    try {
      const real = realpathSync(join(d, 'docker'));
      if (!found.has(real)) found.set(real, join(d, 'docker'));
    } catch {
      // not in this folder
    }
  }
  return [...found.values()];
}

describe('docker CLI plugin through the real docker CLI', () => {
  const needs = ['root', 'dockerd', 'docker-cli'] as const;
  let daemon: Daemon | undefined;
  let dir: string;
  let data: string;

  before(async () => {
    if (await missing(needs)) return;
    dir = await mkdtemp(join(tmpdir(), 'extmount-plugin-e2e-'));
    data = join(dir, 'data');
    await mkdir(data);
    daemon = await startDaemon('p');
    await importTestImage(daemon);
    await runDetached(daemon, ['--name', 'only-here', '-v', `${data}:/data`, TEST_IMAGE, 'sleep', '1000']);
  });
  after(async () => {
    await daemon?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const clis = dockerClis();
  if (clis.length === 0) {
    it('needs a docker CLI on PATH', async (t) => {
      if (!(await requireE2E(t, needs))) return;
      assert.fail('docker --version works but no docker was found on PATH');
    });
  }
  for (const docker of clis) {
    it(`${docker}: -H, --context, DOCKER_CONTEXT and currentContext reach the private engine`, async (t) => {
      if (!(await requireE2E(t, needs))) return;
      const version = String((await execa(docker, ['--version'])).stdout);
      const config = join(dir, `config-${realpathSync(docker).replace(/\W/g, '_')}`);
      const env = {
        HOME: dir,
        DOCKER_CONFIG: config,
        DOCKER_HOST: '',
        DOCKER_CONTEXT: '',
        // hooks/docker-extmount runs the `node` on PATH: this one.
        PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
      };
      const run = async (args: string[], extra: Record<string, string> = {}) => {
        const r = await execa(docker, args, { reject: false, stdin: 'ignore', env: { ...env, ...extra } });
        return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
      };
      // The plugin link, made by install-plugin in this DOCKER_CONFIG; the docker CLI lists it.
      const installed = await runCli(['install-plugin', '--apply', '--json'], { env: { DOCKER_CONFIG: config } });
      assert.equal(installed.exitCode, 0, installed.stderr);
      assert.equal(JSON.parse(installed.stdout).target, PLUGIN_ENTRY);
      const listed = await run(['--help']);
      assert.match(
        listed.stdout,
        /^\s+extmount\*?\s+CRIU checkpoint\/restore that keeps external bind mounts/m,
        `${version}: ${listed.stdout}${listed.stderr}`,
      );
      const created = await run(['context', 'create', 'priv', '--docker', `host=${daemon!.host}`]);
      assert.equal(created.exitCode, 0, created.stderr);

      const detectsHere = async (what: string, args: string[], extra: Record<string, string> = {}) => {
        const r = await run([...args, 'detect', 'only-here', '--json'], extra);
        assert.equal(r.exitCode, 0, `${version}, ${what}: exit ${r.exitCode}: ${r.stderr}`);
        const bind = JSON.parse(r.stdout).external.find((e: { mountpoint: string }) => e.mountpoint === '/data');
        assert.equal(bind?.hostPath, data, `${version}, ${what}: ${r.stdout}`);
      };
      await detectsHere('-H', ['-H', daemon!.host, 'extmount']);
      await detectsHere('--host=', [`--host=${daemon!.host}`, 'extmount']);
      await detectsHere('--context', ['--context', 'priv', 'extmount']);
      await detectsHere('DOCKER_CONTEXT', ['extmount'], { DOCKER_CONTEXT: 'priv' });
      assert.equal((await run(['context', 'use', 'priv'])).exitCode, 0);
      assert.equal(JSON.parse(await readFile(join(config, 'config.json'), 'utf8')).currentContext, 'priv');
      await detectsHere('currentContext', ['extmount']);

      // The check can fail: the default context is not the private engine (no dockerd, or another one, at the local socket).
      assert.equal((await run(['context', 'use', 'default'])).exitCode, 0);
      const viaDefault = await run(['extmount', 'detect', 'only-here', '--json'], {
        DOCKER_HOST: 'unix:///nonexistent/docker.sock',
      });
      assert.equal(viaDefault.exitCode, 2, viaDefault.stderr);
      assert.match(
        viaDefault.stderr,
        /^extmount: cannot reach the Docker engine at unix:\/\/\/nonexistent\/docker\.sock/,
      );
      // DOCKER_HOST loses to --context, as in the docker CLI.
      await detectsHere('--context over DOCKER_HOST', ['--context', 'priv', 'extmount'], {
        DOCKER_HOST: 'unix:///nonexistent/docker.sock',
      });

      // An unknown context: the docker CLI 20.10 refuses it itself, newer ones leave it to the plugin.
      const unknown = await run(['--context', 'nosuch', 'extmount', 'detect', 'only-here']);
      assert.notEqual(unknown.exitCode, 0);
      assert.match(
        unknown.stderr.trim(),
        /^(extmount: docker context "nosuch" does not exist|.*context "nosuch" does not exist)/,
      );
      assert.equal(unknown.stderr.trim().split('\n').length, 1, unknown.stderr);
    });
  }
});
