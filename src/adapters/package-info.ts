// extmount's own version, from package.json.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function extmountVersion(): string {
  cached ??= (
    JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as {
      version: string;
    }
  ).version;
  return cached;
}
