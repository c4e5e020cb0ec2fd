// A docker CLI config dir for tests, laid out as the docker CLI writes it (test/fixtures/docker-cli).
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** hooks/docker-extmount in this checkout. */
export const PLUGIN_ENTRY = fileURLToPath(new URL('../../../hooks/docker-extmount', import.meta.url));

/** What `docker context create NAME --docker host=HOST[,skip-tls-verify=true]` writes. */
export async function writeDockerContext(
  configDir: string,
  name: string,
  host: string,
  options: { skipTlsVerify?: boolean; tlsFiles?: string[] } = {},
): Promise<void> {
  const id = createHash('sha256').update(name).digest('hex');
  const meta = join(configDir, 'contexts', 'meta', id);
  await mkdir(meta, { recursive: true });
  await writeFile(
    join(meta, 'meta.json'),
    JSON.stringify({
      Name: name,
      Metadata: {},
      Endpoints: { docker: { Host: host, SkipTLSVerify: options.skipTlsVerify ?? false } },
    }),
  );
  if (!options.tlsFiles) return;
  const tls = join(configDir, 'contexts', 'tls', id, 'docker');
  await mkdir(tls, { recursive: true });
  for (const file of options.tlsFiles) await writeFile(join(tls, file), '-----BEGIN CERTIFICATE-----\n');
}

/** What `docker context use NAME` writes into config.json. */
export async function writeCurrentContext(configDir: string, name: string): Promise<void> {
  await mkdir(configDir, { recursive: true });
  await writeFile(
    join(configDir, 'config.json'),
    `${JSON.stringify({ auths: {}, currentContext: name }, null, '\t')}\n`,
  );
}
