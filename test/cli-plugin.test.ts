// The docker CLI plugin entry and install-plugin, black-box, without a docker CLI or daemon: which engine
// the plugin picks shows in the "cannot reach" line naming its socket (none of them exists).
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { assertOneLineError, runCli, type CliResult } from './helpers/cli.js';
import { PLUGIN_ENTRY, writeCurrentContext, writeDockerContext } from './helpers/docker-cli-config.js';
import { FIXTURES } from './helpers/fixtures.js';

const NO_DOCKER_ENV = {
  DOCKER_HOST: '',
  DOCKER_CONTEXT: '',
  DOCKER_TLS_VERIFY: '',
  DOCKER_TLS: '',
  DOCKER_CERT_PATH: '',
};

describe('hooks/docker-extmount picks the engine as the docker CLI does', () => {
  let dir: string;
  let config: string;
  const sock = (name: string) => `unix://${dir}/${name}.sock`;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-plugin-'));
    config = join(dir, 'docker-config');
    await writeDockerContext(config, 'flagctx', sock('flagctx'));
    await writeDockerContext(config, 'envctx', sock('envctx'));
    await writeDockerContext(config, 'current', sock('current'));
    await writeDockerContext(config, 'skipverify', 'tcp://127.0.0.1:1', { skipTlsVerify: true });
    await writeDockerContext(config, 'cacert-only', 'tcp://127.0.0.1:1', { tlsFiles: ['ca.pem'] });
    await writeCurrentContext(config, 'current');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function plugin(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    const r = await execa(PLUGIN_ENTRY, args, {
      reject: false,
      stdin: 'ignore',
      env: { ...NO_DOCKER_ENV, HOME: dir, DOCKER_CONFIG: config, ...env },
    });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  }
  const reaches = (name: string) =>
    new RegExp(`^extmount: cannot reach the Docker engine at unix://${dir}/${name}\\.sock \\(ENOENT\\)`);

  it('--host > --context > DOCKER_HOST > DOCKER_CONTEXT > currentContext', async () => {
    const env = { DOCKER_HOST: sock('envhost'), DOCKER_CONTEXT: 'envctx' };
    assertOneLineError(await plugin(['-H', sock('flaghost'), 'extmount', 'detect', 'c1'], env), 2, reaches('flaghost'));
    assertOneLineError(await plugin(['--context', 'flagctx', 'extmount', 'detect', 'c1'], env), 2, reaches('flagctx'));
    assertOneLineError(await plugin(['extmount', 'detect', 'c1'], env), 2, reaches('envhost'));
    assertOneLineError(await plugin(['extmount', 'detect', 'c1'], { DOCKER_CONTEXT: 'envctx' }), 2, reaches('envctx'));
    assertOneLineError(await plugin(['extmount', 'detect', 'c1']), 2, reaches('current'));
    // --config moves the whole config dir (config.json and the context store) as it does for the docker CLI.
    const empty = join(dir, 'empty-config');
    assertOneLineError(
      await plugin(['--config', empty, 'extmount', 'detect', 'c1']),
      2,
      /cannot reach the Docker engine at unix:\/\/\/var\/run\/docker\.sock/,
    );
  });

  it("extmount's own --host after the name overrides the env and currentContext, and clashes with docker -H / --context", async () => {
    assertOneLineError(
      await plugin(['extmount', '--host', sock('own'), 'detect', 'c1'], { DOCKER_CONTEXT: 'envctx' }),
      2,
      reaches('own'),
    );
    assertOneLineError(
      await plugin(['-H', sock('a'), 'extmount', '--host', sock('own'), 'detect', 'c1']),
      2,
      /^extmount: conflicting options: docker -H before "extmount" and --host after it/,
    );
    assertOneLineError(
      await plugin(['-c', 'flagctx', 'extmount', 'migrate', 'c1', '--from', sock('a'), '--to', sock('b')]),
      2,
      /migrate takes --from and --to, not docker --context flagctx/,
    );
  });

  it('refuses as the docker CLI would, in one line: --host with --context, an unknown context', async () => {
    assertOneLineError(
      await plugin(['-H', sock('a'), '--context', 'flagctx', 'extmount', 'detect', 'c1']),
      2,
      /^extmount: conflicting options: cannot specify both --host and --context; give the docker CLI one/,
    );
    const unknown = await plugin(['--context', 'nosuch', 'extmount', 'detect', 'c1']);
    assertOneLineError(
      unknown,
      2,
      /^extmount: docker context "nosuch" does not exist \(no .*\/contexts\/meta\/[0-9a-f]{64}\/meta\.json\); "docker context ls" lists the contexts/,
    );
    assertOneLineError(
      await plugin(['extmount', 'detect', 'c1'], { DOCKER_CONTEXT: 'nosuch' }),
      2,
      /docker context "nosuch" does not exist .*chosen by DOCKER_CONTEXT=nosuch/,
    );
  });

  it('refuses TLS it cannot do rather than connecting without it', async () => {
    assertOneLineError(
      await plugin(['--context', 'skipverify', 'extmount', 'detect', 'c1']),
      2,
      /skips TLS verification \(SkipTLSVerify\): extmount connects with TLS only/,
    );
    assertOneLineError(
      await plugin(['--context', 'cacert-only', 'extmount', 'detect', 'c1']),
      2,
      /has only ca\.pem in /,
    );
    assertOneLineError(
      await plugin(['-H', 'tcp://127.0.0.1:1', '--tls', 'extmount', 'detect', 'c1']),
      2,
      /TLS without verifying the engine/,
    );
  });

  it('a malformed config.json is refused, not read as "the default engine"', async () => {
    const broken = join(dir, 'broken-config');
    await mkdir(broken);
    await writeFile(join(broken, 'config.json'), '{"currentContext": ');
    assertOneLineError(
      await plugin(['--config', broken, 'extmount', 'detect', 'c1']),
      2,
      /config\.json is not valid JSON/,
    );
    // ...unless the engine is chosen otherwise: the docker CLI reads currentContext last.
    assertOneLineError(
      await plugin(['--config', broken, '-H', sock('a'), 'extmount', 'detect', 'c1']),
      2,
      reaches('a'),
    );
  });

  it('offline commands and --help work as a plugin; docker -D is --debug', async () => {
    const r = await plugin([
      '-H',
      sock('a'),
      'extmount',
      'detect',
      '--mountinfo',
      join(FIXTURES, 'mountinfo/seed.mountinfo'),
      '--json',
    ]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).external[0].mountpoint, '/bar');
    const help = await plugin(['--context', 'flagctx', 'extmount', 'install-plugin', '--help']);
    assert.match(help.stdout, /^Usage: extmount install-plugin \[--apply\]/);
    const debug = await plugin(['-D', '--context', 'flagctx', 'extmount', 'detect', 'c1']);
    assert.equal(debug.exitCode, 2);
    assert.match(
      debug.stderr,
      /docker CLI plugin: engine unix:\/\/\S+\/flagctx\.sock \(chosen by docker --context flagctx\)/,
    );
  });

  it('answers docker-cli-plugin-metadata without starting node', async () => {
    // A "node" that fails first in PATH: the metadata must come from the shell entry alone.
    const bin = join(dir, 'bin');
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, 'node'), '#!/bin/sh\nexit 99\n', { mode: 0o755 });
    const r = await execa(PLUGIN_ENTRY, ['docker-cli-plugin-metadata'], { env: { PATH: `${bin}:/usr/bin:/bin` } });
    const metadata = JSON.parse(String(r.stdout));
    assert.equal(metadata.SchemaVersion, '0.1.0');
    assert.equal(metadata.Vendor, 'extmount');
    assert.equal(metadata.Version, (await runCli(['--version'])).stdout.trim());
    // ...and the check can fail: anything else goes to that node.
    assert.equal(
      (await execa(PLUGIN_ENTRY, ['extmount', '--version'], { reject: false, env: { PATH: `${bin}:/usr/bin:/bin` } }))
        .exitCode,
      99,
    );
  });
});

describe('extmount install-plugin', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extmount-install-plugin-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function home(name: string): Promise<{ env: Record<string, string>; link: string; pluginDir: string }> {
    const h = join(dir, name);
    await mkdir(h);
    const pluginDir = join(h, '.docker', 'cli-plugins');
    return { env: { HOME: h, DOCKER_CONFIG: '' }, link: join(pluginDir, 'docker-extmount'), pluginDir };
  }

  it('prints what it would do, then does it with --apply, then has nothing to do', async () => {
    const { env, link } = await home('fresh');
    const dry = await runCli(['install-plugin'], { env });
    assert.equal(dry.exitCode, 0, dry.stderr);
    assert.equal(dry.stdout.trim(), `would create ${link} → ${PLUGIN_ENTRY}`);
    assert.match(dry.stderr, /run extmount install-plugin --apply/);
    await assert.rejects(lstat(link), { code: 'ENOENT' });

    const applied = await runCli(['install-plugin', '--apply', '--json'], { env });
    assert.equal(applied.exitCode, 0, applied.stderr);
    assert.deepEqual(JSON.parse(applied.stdout), {
      link,
      target: PLUGIN_ENTRY,
      action: 'create',
      previous: null,
      applied: true,
    });
    assert.equal(await readlink(link), PLUGIN_ENTRY);

    const again = await runCli(['install-plugin', '--apply', '--json'], { env });
    assert.equal(again.exitCode, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), {
      link,
      target: PLUGIN_ENTRY,
      action: 'none',
      previous: PLUGIN_ENTRY,
      applied: false,
    });
  });

  it('honours DOCKER_CONFIG', async () => {
    const { env } = await home('dockerconfig');
    const config = join(dir, 'dockerconfig', 'elsewhere');
    const r = await runCli(['install-plugin', '--apply'], { env: { ...env, DOCKER_CONFIG: config } });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(await readlink(join(config, 'cli-plugins', 'docker-extmount')), PLUGIN_ENTRY);
  });

  it('replaces a link to another extmount checkout', async () => {
    const { env, link, pluginDir } = await home('old');
    await mkdir(pluginDir, { recursive: true });
    await symlink('/srv/old-extmount/hooks/docker-extmount', link);
    const r = await runCli(['install-plugin', '--apply', '--json'], { env });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      link,
      target: PLUGIN_ENTRY,
      action: 'replace',
      previous: '/srv/old-extmount/hooks/docker-extmount',
      applied: true,
    });
    assert.equal(await readlink(link), PLUGIN_ENTRY);
  });

  it('refuses a foreign file or link there, and leaves it as it was', async () => {
    const { env, link, pluginDir } = await home('foreign');
    await mkdir(pluginDir, { recursive: true });
    await writeFile(link, '#!/bin/sh\necho another plugin\n', { mode: 0o755 });
    for (const args of [['install-plugin'], ['install-plugin', '--apply']]) {
      assertOneLineError(
        await runCli(args, { env }),
        2,
        /^extmount: \S+\/docker-extmount is a file; extmount does not overwrite it; move it away/,
      );
    }
    assert.equal(await readFile(link, 'utf8'), '#!/bin/sh\necho another plugin\n');
    await rm(link);
    await symlink('/usr/local/bin/some-plugin', link);
    assertOneLineError(
      await runCli(['install-plugin', '--apply'], { env }),
      2,
      /is a symlink to \/usr\/local\/bin\/some-plugin, not to an extmount/,
    );
    assert.equal(await readlink(link), '/usr/local/bin/some-plugin');
  });

  it('does not link through a cli-plugins symlink, nor into a folder anyone may write', async () => {
    const { env, pluginDir } = await home('planted');
    const elsewhere = join(dir, 'planted', 'elsewhere');
    await mkdir(elsewhere);
    await mkdir(join(dir, 'planted', '.docker'));
    await symlink(elsewhere, pluginDir);
    assertOneLineError(
      await runCli(['install-plugin', '--apply'], { env }),
      2,
      /cli-plugins is a symlink; extmount links the plugin only into a real folder/,
    );
    await assert.rejects(lstat(join(elsewhere, 'docker-extmount')), { code: 'ENOENT' });

    await rm(pluginDir);
    await mkdir(pluginDir);
    await chmod(pluginDir, 0o777);
    assertOneLineError(
      await runCli(['install-plugin', '--apply'], { env }),
      2,
      /cli-plugins may be written by others \(owner \d+, mode 777\)/,
    );
    await assert.rejects(lstat(join(pluginDir, 'docker-extmount')), { code: 'ENOENT' });
  });

  it('is in the help, its options from the table', async () => {
    const r = await runCli(['--help']);
    assert.match(r.stdout, /^  install-plugin +print \(or create\) the docker CLI plugin link/m);
    assert.match(
      r.stdout,
      /^As a docker CLI plugin \(extmount install-plugin\): docker \[-H HOST \| --context NAME\] extmount COMMAND/m,
    );
    const own = await runCli(['help', 'install-plugin']);
    assert.match(own.stdout, /^  --apply +create the link/m);
    assert.match(
      own.stdout,
      /docker -H HOST, --context NAME, DOCKER_HOST,\nDOCKER_CONTEXT, then config\.json's currentContext/,
    );
  });
});
