// `node --require …/load-log.cjs`: when the process exits, appends to $EXTMOUNT_LOAD_LOG every file it
// required and every public built-in module Node loaded (as node:NAME): how test/cli-start.test.ts sees
// what a command loads. The CLI is CommonJS with no import() left (scripts/build-bundles.ts), so this is all of it.
import { appendFileSync } from 'node:fs';

const log = process.env.EXTMOUNT_LOAD_LOG;
if (log) {
  process.once('exit', () => {
    const builtins = (process as unknown as { moduleLoadList: string[] }).moduleLoadList
      .filter((entry) => entry.startsWith('NativeModule ') && !entry.startsWith('NativeModule internal/'))
      .map((entry) => `node:${entry.slice('NativeModule '.length)}`);
    appendFileSync(log, [...Object.keys(require.cache), ...builtins].join('\n') + '\n');
  });
}
