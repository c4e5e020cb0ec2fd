// Module-loader hooks (module.register) that append every URL the process resolves to
// $EXTMOUNT_IMPORT_LOG: how test/cli-start.test.ts sees what a command loads at start.
import { appendFileSync } from 'node:fs';

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string }> {
  const result = await next(specifier, context);
  const log = process.env.EXTMOUNT_IMPORT_LOG;
  if (log) appendFileSync(log, `${result.url}\n`);
  return result;
}
