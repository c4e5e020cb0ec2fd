// The one rule for extmount's state dir (CLI, runtime, migrate, import): what path it may be, and what the
// host must show there, decided on facts an adapter reads (adapters/fs/state-dir.ts checkStateDir).
//
// Everything extmount writes as root goes below it (CRIU config files, kept logs, import copies, locks):
// a state dir of "/", below /etc, reached through a symlink or writable by another user would let those
// writes land where someone else chose.
import { ExtmountError } from './errors.js';

/** What lstat and realpath show of a path. */
export interface PathFacts {
  kind: 'directory' | 'symlink' | 'other';
  uid: number;
  /** st_mode's permission bits (with the sticky bit). */
  mode: number;
  /** realpath(3) of the path. */
  realPath: string;
}

/** The state dir as it is on the host: the dir itself, or (when missing) the nearest ancestor that exists. */
export type StateDirFacts = { exists: true; dir: PathFacts } | { exists: false; ancestor: string; facts: PathFacts };

/** One line naming the state dir, what is wrong with it, and what to do. */
export const stateDirRefused = (stateDir: string, what: string, hint = 'fix "stateDir" in the config') =>
  new ExtmountError('refused', `stateDir "${stateDir}" ${what}`, { hint });

/**
 * The host side of the rule, for the normalized `path`: a directory (not a symlink), reached through no
 * symlink, owned by `uid` (the running user) or root, and writable by no one else. A missing state
 * dir is made later with mode 0700: its nearest existing ancestor must then be reached through no symlink,
 * be owned by `uid` or root, and be writable by no one else unless it is sticky (/tmp: no other user can
 * replace what we make there).
 */
export function checkStateDirFacts(path: string, facts: StateDirFacts, uid: number): void {
  const owner = uid === 0 ? 'root' : `uid ${uid}`;
  if (facts.exists) {
    const { dir } = facts;
    if (dir.kind === 'symlink') throw stateDirRefused(path, 'is a symlink', 'name the real directory');
    if (dir.kind !== 'directory') throw stateDirRefused(path, 'is not a directory');
    if (dir.realPath !== path)
      throw stateDirRefused(
        path,
        `is reached through a symlink (its real path is "${dir.realPath}")`,
        'name the real directory',
      );
    // Root's own state dir serves an unprivileged run too (offline commands; writes there fail as they should).
    if (dir.uid !== uid && dir.uid !== 0)
      throw stateDirRefused(
        path,
        `is owned by uid ${dir.uid}, not ${owner}`,
        `chown ${uid === 0 ? 'root' : uid} it, or choose another`,
      );
    if ((dir.mode & 0o022) !== 0) {
      throw stateDirRefused(
        path,
        `is writable by group or others (mode ${(dir.mode & 0o7777).toString(8).padStart(4, '0')})`,
        `chmod go-w ${path}`,
      );
    }
    return;
  }
  const { ancestor, facts: up } = facts;
  if (up.kind === 'other') throw stateDirRefused(path, `cannot be made: "${ancestor}" is not a directory`);
  if (up.kind === 'symlink' || up.realPath !== ancestor)
    throw stateDirRefused(
      path,
      `is reached through a symlink ("${ancestor}" is really "${up.realPath}")`,
      'name the real directory',
    );
  if (up.uid !== uid && up.uid !== 0)
    throw stateDirRefused(
      path,
      `would be made in "${ancestor}", owned by uid ${up.uid}`,
      'choose a folder whose parents belong to root',
    );
  if ((up.mode & 0o022) !== 0 && (up.mode & 0o1000) === 0) {
    throw stateDirRefused(
      path,
      `would be made in "${ancestor}", writable by group or others (mode ${(up.mode & 0o7777).toString(8).padStart(4, '0')})`,
      'make it first, owned by root with mode 0700',
    );
  }
}
