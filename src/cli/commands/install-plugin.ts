// extmount install-plugin: its options and help, and argv → the command's call (the command loads only when it runs).
import { noPassthrough, usage, type CommandSpec } from '../options.js';

export const installPlugin: CommandSpec = {
  summary: 'print (or create) the docker CLI plugin link, so "docker extmount …" works',
  synopsis: ['install-plugin [--apply]'],
  description: `Prints the symlink that makes hooks/docker-extmount a docker CLI plugin: $DOCKER_CONFIG/cli-plugins/
docker-extmount (default ~/.docker/cli-plugins/docker-extmount). With --apply, creates it (or replaces a
link to another extmount's entry); anything else already there is left alone (exit 2).
As a plugin, extmount uses the engine the docker CLI means: docker -H HOST, --context NAME, DOCKER_HOST,
DOCKER_CONTEXT, then config.json's currentContext, in that order (extmount's own --host goes after
"extmount" and overrides DOCKER_HOST, DOCKER_CONTEXT and currentContext).`,
  options: {
    apply: { type: 'boolean', help: 'create the link (nothing changes when it is already there)' },
  },
  async run(values, positionals, passthrough, ctx) {
    noPassthrough(passthrough);
    if (positionals.length > 0) throw usage(`unexpected argument ${positionals[0]}`, 'install-plugin');
    const { runInstallPlugin } = await import('../../commands/install-plugin.js');
    await runInstallPlugin({ apply: values.apply === true }, ctx);
  },
};
