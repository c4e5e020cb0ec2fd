// Reads the configuration: --config FILE, else /etc/extmount/config.json, else the packaged default.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseConfig, type Config } from '../core/config.js';
import { ExtmountError } from '../core/errors.js';

export const SYSTEM_CONFIG = '/etc/extmount/config.json';
export const PACKAGED_CONFIG = fileURLToPath(new URL('../../../config.json', import.meta.url));

export async function loadConfig(path?: string): Promise<Config> {
  const candidates = path ? [path] : [SYSTEM_CONFIG, PACKAGED_CONFIG];
  for (const candidate of candidates) {
    let text: string;
    try {
      text = await readFile(candidate, 'utf8');
    } catch (err) {
      if (!path && (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new ExtmountError('bad-input', `cannot read config ${candidate}: ${(err as Error).message}`, { cause: err });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new ExtmountError('bad-input', `config ${candidate} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    return parseConfig(json, candidate);
  }
  return parseConfig({}, 'default configuration');
}
