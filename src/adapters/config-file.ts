// Reads the configuration: --config FILE, else /etc/extmount/config.json, else the packaged default.
import { fileURLToPath } from 'node:url';
import { parseConfig, type Config } from '../core/config.js';
import { ExtmountError } from '../core/errors.js';
import { READ_LIMITS, readBoundedText, readBoundedTextIfExists } from './fs/untrusted-file.js';

export const SYSTEM_CONFIG = '/etc/extmount/config.json';
export const PACKAGED_CONFIG = fileURLToPath(new URL('../../../config.json', import.meta.url));

export async function loadConfig(path?: string): Promise<Config> {
  const candidates = path ? [path] : [SYSTEM_CONFIG, PACKAGED_CONFIG];
  for (const candidate of candidates) {
    const text = path
      ? await readBoundedText(candidate, READ_LIMITS.config)
      : await readBoundedTextIfExists(candidate, READ_LIMITS.config);
    if (text === undefined) continue;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new ExtmountError('bad-input', `config ${candidate} is not valid JSON: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return parseConfig(json, candidate);
  }
  return parseConfig({}, 'default configuration');
}
