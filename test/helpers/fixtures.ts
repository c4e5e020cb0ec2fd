// Loads the fixtures under test/fixtures (captured on a real machine; see test/fixtures/README.md).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type Docker from 'dockerode';

export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

export function fixture(path: string): string {
  const bytes = readFileSync(`${FIXTURES}${path}`);
  return (path.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
}

export function inspectFixture(name: string): Docker.ContainerInspectInfo {
  return JSON.parse(fixture(`mountinfo/${name}.inspect.json`)) as Docker.ContainerInspectInfo;
}
