// Where the Docker engine is: --host, else DOCKER_HOST (unix, tcp with the TLS env, ssh), else the local socket.
import { ExtmountError } from '../errors.js';

export type DockerEndpoint =
  | { kind: 'unix'; socketPath: string }
  | { kind: 'tcp'; host: string; port: number; tls: boolean; certPath?: string }
  | { kind: 'ssh'; host: string; port: number; username?: string };

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

export function resolveDockerHost(flag: string | undefined, env: NodeJS.ProcessEnv): DockerEndpoint {
  const value = flag ?? (env.DOCKER_HOST || DEFAULT_DOCKER_HOST);
  const bad = (what: string) =>
    new ExtmountError('usage', `Docker host "${value}": ${what}`, {
      hint: 'use unix:///path/docker.sock, tcp://HOST:PORT or ssh://USER@HOST',
    });
  if (value.startsWith('/')) return { kind: 'unix', socketPath: value };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad('not a URL');
  }
  switch (url.protocol) {
    case 'unix:': {
      const socketPath = decodeURIComponent(url.pathname);
      if (!socketPath.startsWith('/')) throw bad('no socket path');
      return { kind: 'unix', socketPath };
    }
    case 'tcp:':
    case 'http:':
    case 'https:': {
      const tls =
        url.protocol === 'https:' ||
        (env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== '' && env.DOCKER_TLS_VERIFY !== '0');
      if (!url.hostname) throw bad('no host name');
      const port = url.port ? Number(url.port) : tls ? 2376 : 2375;
      return {
        kind: 'tcp',
        host: url.hostname,
        port,
        tls,
        ...(tls && env.DOCKER_CERT_PATH ? { certPath: env.DOCKER_CERT_PATH } : {}),
      };
    }
    case 'ssh:':
      if (!url.hostname) throw bad('no host name');
      return {
        kind: 'ssh',
        host: url.hostname,
        port: url.port ? Number(url.port) : 22,
        ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      };
    default:
      throw bad(`unsupported scheme ${url.protocol}`);
  }
}

export function describeEndpoint(endpoint: DockerEndpoint): string {
  switch (endpoint.kind) {
    case 'unix':
      return `unix://${endpoint.socketPath}`;
    case 'tcp':
      return `tcp://${endpoint.host}:${endpoint.port}${endpoint.tls ? ' (TLS)' : ''}`;
    case 'ssh':
      return `ssh://${endpoint.username ? `${endpoint.username}@` : ''}${endpoint.host}:${endpoint.port}`;
  }
}
