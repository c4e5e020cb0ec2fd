// Registry v2 authentication as data: the docker CLI's config.json `auths` entry for a registry, and a
// WWW-Authenticate challenge (Basic, or Bearer with realm/service/scope: the distribution token spec).
import { isRecord } from '../json.js';

/** The base64 "user:password" of config.json's auths for `registry`, as the docker CLI keys it. */
export function dockerAuthFor(config: unknown, registry: string): string | undefined {
  if (!isRecord(config) || !isRecord(config.auths)) return undefined;
  const keys =
    registry === 'docker.io'
      ? ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io']
      : [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
  for (const key of keys) {
    const entry = config.auths[key];
    if (isRecord(entry) && typeof entry.auth === 'string' && /^[A-Za-z0-9+/=]+$/.test(entry.auth)) return entry.auth;
  }
  return undefined;
}

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** `Bearer realm="https://…",service="…",scope="…"` → its scheme and parameters; undefined for anything else. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(Basic|Bearer)\b\s*(.*)$/i.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/([A-Za-z_]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))/g))
    params[p[1]!.toLowerCase()] = p[2] ?? p[3] ?? '';
  return { scheme: m[1]!.toLowerCase() as 'basic' | 'bearer', params };
}

/** Where the API lives: plain http only for a loopback registry or one the user called insecure. */
export function registryBaseUrl(registry: string, insecure: boolean): string {
  const host = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
  const loopback = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/.test(host);
  return `${loopback || insecure ? 'http' : 'https'}://${host}`;
}
