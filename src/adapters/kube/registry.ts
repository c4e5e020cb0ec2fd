// A registry over its v2 HTTP API (distribution spec), by hand with Node's fetch: blob uploads (POST,
// then PUT with the digest), manifest PUT and GET, blob GET. Credentials as the docker CLI keeps them
// (config.json auths: Basic, or a Bearer token fetched with them).
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ExtmountError } from '../../core/errors.js';
import { dockerAuthFor, parseChallenge, registryBaseUrl } from '../../core/kube/registry-auth.js';
import { formatImageRef, type ImageRef } from '../../core/kube/oci-image.js';
import { dockerConfigDir } from '../docker/docker-cli-config.js';
import { READ_LIMITS, readUntrustedIfExists } from '../fs/untrusted-file.js';

const MAX_JSON = 4 << 20;
const META_TIMEOUT = 60_000;

export class RegistryClient {
  private authorization: string | undefined;
  private readonly base: string;

  constructor(
    private readonly ref: ImageRef,
    insecure: boolean,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.base = registryBaseUrl(ref.registry, insecure);
  }

  private failed(what: string, detail: string, cause?: unknown): ExtmountError {
    return new ExtmountError('registry-failed', `${formatImageRef(this.ref)}: ${what}: ${detail}`, {
      hint: 'check the registry is up and the reference is right (credentials: docker login)',
      cause,
    });
  }

  private async send(
    method: string,
    url: string,
    init: { headers?: Record<string, string>; body?: Buffer | Readable; timeout?: number } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers };
    if (this.authorization) headers.authorization = this.authorization;
    const body = init.body instanceof Readable ? (Readable.toWeb(init.body) as ReadableStream) : init.body;
    try {
      return await fetch(url, {
        method,
        headers,
        redirect: 'follow',
        ...(body !== undefined ? { body, duplex: 'half' } : {}),
        ...(init.timeout ? { signal: AbortSignal.timeout(init.timeout) } : {}),
      } as RequestInit);
    } catch (err) {
      throw this.failed(
        `${method} ${new URL(url).pathname}`,
        (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message,
        err,
      );
    }
  }

  /** GET /v2/: learns the scheme the registry asks for and gets a token for this repository (`actions`: pull or pull,push). */
  async login(actions: string): Promise<void> {
    const probe = await this.send('GET', `${this.base}/v2/`, { timeout: META_TIMEOUT });
    await probe.body?.cancel();
    if (probe.status !== 401) {
      if (!probe.ok) throw this.failed('GET /v2/', `HTTP ${probe.status} (is it a registry?)`);
      return;
    }
    const challenge = parseChallenge(probe.headers.get('www-authenticate'));
    const file = await readUntrustedIfExists(
      join(dockerConfigDir(this.env), 'config.json'),
      READ_LIMITS.dockerCliConfig,
    );
    let config: unknown;
    try {
      config = file ? JSON.parse(file.bytes.toString('utf8')) : undefined;
    } catch {
      config = undefined;
    }
    const basic = dockerAuthFor(config, this.ref.registry);
    if (challenge?.scheme === 'basic') {
      if (!basic)
        throw new ExtmountError(
          'bad-input',
          `${this.ref.registry} asks for credentials and the docker CLI config has none for it`,
          { hint: `run docker login ${this.ref.registry}` },
        );
      this.authorization = `Basic ${basic}`;
      return;
    }
    if (challenge?.scheme !== 'bearer' || !challenge.params.realm || !/^https?:\/\//.test(challenge.params.realm)) {
      throw this.failed('GET /v2/', 'HTTP 401 without a challenge extmount understands (Basic or Bearer)');
    }
    const url = new URL(challenge.params.realm);
    // The docker CLI's credentials go to the token realm: never in clear to a realm of a registry reached over https.
    if (url.protocol === 'http:' && this.base.startsWith('https:'))
      throw this.failed(
        'GET /v2/',
        `the token realm ${url.origin} is plain http; extmount sends credentials to it only over https`,
      );
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    url.searchParams.set('scope', `repository:${this.ref.repository}:${actions}`);
    const answer = await fetch(url, {
      headers: basic ? { authorization: `Basic ${basic}` } : {},
      signal: AbortSignal.timeout(META_TIMEOUT),
    }).catch((err: unknown) => {
      throw this.failed('token', (err as Error).message, err);
    });
    const json = await boundedJson(answer, this.failed.bind(this, 'token'));
    const token =
      typeof json.token === 'string'
        ? json.token
        : typeof json.access_token === 'string'
          ? json.access_token
          : undefined;
    if (!answer.ok || !token)
      throw this.failed('token', `HTTP ${answer.status}${basic ? '' : ' (no docker login for this registry)'}`);
    this.authorization = `Bearer ${token}`;
  }

  private url(path: string): string {
    return `${this.base}/v2/${this.ref.repository}/${path}`;
  }

  async hasBlob(digest: string): Promise<boolean> {
    const r = await this.send('HEAD', this.url(`blobs/${digest}`), { timeout: META_TIMEOUT });
    await r.body?.cancel();
    return r.ok;
  }

  /** The blob, unless the repository has it already. */
  async pushBlob(digest: string, bytes: Buffer): Promise<void> {
    if (!(await this.hasBlob(digest))) await this.uploadBlob(digest, bytes.length, bytes);
  }

  /** A monolithic upload: POST for an upload URL, then one PUT of the bytes with their digest. */
  async uploadBlob(digest: string, size: number, body: Buffer | Readable): Promise<void> {
    const start = await this.send('POST', this.url('blobs/uploads/'), { timeout: META_TIMEOUT });
    await start.body?.cancel();
    const location = start.headers.get('location');
    if (start.status !== 202 || !location) throw this.failed('POST blobs/uploads/', `HTTP ${start.status}`);
    const put = new URL(location, this.base);
    put.searchParams.set('digest', digest);
    const done = await this.send('PUT', put.toString(), {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body,
    });
    const text = await done.text().catch(() => '');
    if (done.status !== 201)
      throw this.failed(`PUT blob ${digest.slice(0, 19)}`, `HTTP ${done.status} ${text.slice(0, 200)}`);
  }

  async putManifest(reference: string, mediaType: string, bytes: Buffer): Promise<string | null> {
    const r = await this.send('PUT', this.url(`manifests/${reference}`), {
      headers: { 'content-type': mediaType },
      body: bytes,
      timeout: META_TIMEOUT,
    });
    const text = await r.text().catch(() => '');
    if (r.status !== 201) throw this.failed('PUT manifest', `HTTP ${r.status} ${text.slice(0, 200)}`);
    return r.headers.get('docker-content-digest');
  }

  async getManifest(
    reference: string,
    accept: string[],
  ): Promise<{ mediaType: string; json: Record<string, unknown> }> {
    const r = await this.send('GET', this.url(`manifests/${reference}`), {
      headers: { accept: accept.join(', ') },
      timeout: META_TIMEOUT,
    });
    const json = await boundedJson(r, this.failed.bind(this, 'GET manifest'));
    if (!r.ok) throw this.failed('GET manifest', `HTTP ${r.status}`);
    return { mediaType: (r.headers.get('content-type') ?? '').split(';')[0]!.trim(), json };
  }

  /** The blob's bytes as a stream (the caller bounds what it reads). */
  async getBlob(digest: string): Promise<Readable> {
    const r = await this.send('GET', this.url(`blobs/${digest}`));
    if (!r.ok || !r.body) {
      await r.body?.cancel();
      throw this.failed(`GET blob ${digest.slice(0, 19)}`, `HTTP ${r.status}`);
    }
    return Readable.fromWeb(r.body as import('node:stream/web').ReadableStream);
  }
}

async function boundedJson(r: Response, fail: (detail: string) => ExtmountError): Promise<Record<string, unknown>> {
  const length = Number(r.headers.get('content-length') ?? '0');
  if (length > MAX_JSON) throw fail(`a JSON answer of ${length} bytes`);
  const chunks: Buffer[] = [];
  let total = 0;
  if (r.body) {
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
      total += chunk.length;
      if (total > MAX_JSON) throw fail(`a JSON answer over ${MAX_JSON} bytes`);
      chunks.push(Buffer.from(chunk));
    }
  }
  if (total === 0) return {};
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    if (!r.ok) return {};
    throw fail('an answer that is not JSON');
  }
}
