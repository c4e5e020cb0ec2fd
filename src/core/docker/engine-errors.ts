// What to do about an error the Docker engine answered, so that its exit-1 line says it too.
import type { ErrorReason } from '../errors.js';

/** A hint for the engine's answer: by HTTP status, then by what the message says. */
export function engineErrorHint(status: number | undefined, message: string): string {
  if (/no space left on device/i.test(message))
    return "free space under that engine's data root, then run the command again";
  if (/criu/i.test(message))
    return "CRIU failed there: the checkpoint's dump.log or restore.log and dockerd's log say why (journalctl -u docker)";
  if (status === 409)
    return 'the engine is busy with that container (a start, stop or checkpoint in progress): wait and run the command again';
  if (status === 404) return 'it is gone from that engine: check with docker ps -a and docker images there';
  if (status === 400)
    return "the engine refused the request as invalid: check that engine's version (docker version) and the container's settings there";
  return "dockerd's log on that host has the cause (journalctl -u docker, or the file its --log option names)";
}

/**
 * What code decides on in the engine's answer, read here once: dockerd passes runc's "criu failed: type
 * RESTORE errno 0" (or DUMP) on in its message, the only sign that CRIU, not the engine, failed.
 */
export function engineFailureReason(message: string): ErrorReason | undefined {
  return /criu failed/.test(message) ? 'criu-failed' : undefined;
}
