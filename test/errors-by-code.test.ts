// Code branches on error codes and reasons (ExtmountError.code, .reason), never on the text of a
// message: rewording a message must not change an exit code, a hint or the output.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

/** Text that decides on what a message, hint, cause or reason says. */
const DECIDES_ON_TEXT: ReadonlyArray<{ what: string; pattern: RegExp }> = [
  {
    what: 'a method of a message or hint',
    pattern: /\.(message|hint|why)\??\.(startsWith|endsWith|includes|match|search|indexOf)\(/,
  },
  {
    what: 'a message or hint compared with a literal',
    pattern: /\.(message|hint|why)\s*[!=]==?\s*['"`]|['"`]\s*[!=]==?\s*\w+(\.\w+)*\.(message|hint|why)\b/,
  },
  {
    what: 'a regular expression tested on a message, cause, hint or why',
    pattern: /\/\.test\(\s*(\w+\.)*(message|cause|hint|why|problem)\s*\)/,
  },
  { what: "runc's words for a CRIU failure outside the one reader of the engine's answers", pattern: /criu failed\// },
];

/**
 * The places that read another program's words, where nothing else tells what happened: dockerd's
 * error answers (which carry runc's and containerd's text). Each turns them into a reason or a hint once.
 */
const READERS_OF_OTHER_PROGRAMS = new Set(['src/core/docker/engine-errors.ts', 'src/core/docker/docker-checkpoint.ts']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? sources(path) : e.name.endsWith('.ts') ? [path] : [];
  });
}

function findings(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => !line.trim().startsWith('//') && !line.trim().startsWith('*'))
    .flatMap((line) => DECIDES_ON_TEXT.filter((d) => d.pattern.test(line)).map((d) => `${d.what}: ${line.trim()}`));
}

describe('errors are told apart by code, never by their text', () => {
  it('no file in src/ decides on the words of a message', () => {
    const found = sources(join(root, 'src'))
      .filter((file) => !READERS_OF_OTHER_PROGRAMS.has(relative(root, file)))
      .flatMap((file) => findings(readFileSync(file, 'utf8')).map((f) => `${relative(root, file)}: ${f}`));
    assert.deepEqual(
      found,
      [],
      'give the error a code or a reason (src/core/errors.ts ErrorReason) and branch on that',
    );
  });

  it('the check finds each way it was done before', () => {
    for (const line of [
      "if (err instanceof ExtmountError && err.message.startsWith('cannot reach the Docker engine') && !err.hint?.includes('checkpoint')) {",
      '  const criu = /criu failed/.test(cause);',
      "      : r.live && r.live.why !== '--live=off: stop-and-copy' ? [`  memory: ${r.live.why}`] : []),",
      "  const hint = /pipe-max-size/.test(problem) ? 'raise it' : 'no';",
      "  if (e.message === 'gone') return;",
      "  if (error.message?.includes('EEXIST')) return;",
    ]) {
      assert.notDeepEqual(findings(line), [], line);
    }
    assert.deepEqual(findings("  if (hasReason(err, 'unreachable')) throw err;"), []);
    assert.deepEqual(findings("  // err.message.startsWith('x') was how it was done"), []);
  });
});
