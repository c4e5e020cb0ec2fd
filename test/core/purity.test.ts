// src/core stays pure (docs/architecture.md, "Layout"): no file system, child processes, network, the
// process global, the heavy clients (execa, dockerode, pino), nor the shells over the core. What touches
// the system lives in src/adapters and reaches the core as values or injected functions.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CORE = join(ROOT, 'src/core');

/** Modules the core must not load, with or without the node: prefix, and their subpaths (fs/promises). */
const FORBIDDEN_MODULES = ['fs', 'child_process', 'process', 'net', 'execa', 'dockerode', 'pino'];
/** The shells over the core: it must not depend on them. */
const FORBIDDEN_DIRS = ['src/adapters/', 'src/commands/', 'src/runtime/', 'src/migrate/', 'src/cli/'];

interface Violation {
  line: number;
  what: string;
}

function forbiddenSpecifier(specifier: string, file: string): string | undefined {
  if (specifier.startsWith('.')) {
    const target = posix.normalize(posix.join(posix.dirname(file), specifier));
    const dir = FORBIDDEN_DIRS.find((d) => target.startsWith(d));
    return dir ? `imports ${specifier} (${dir.replace(/[/.]$/, '')})` : undefined;
  }
  const bare = specifier.replace(/^node:/, '');
  return FORBIDDEN_MODULES.some((m) => bare === m || bare.startsWith(`${m}/`)) ? `imports ${specifier}` : undefined;
}

/** What in one core file (`file` relative to the repository, posix) breaks the rule, by line. */
function violations(file: string, text: string): Violation[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Violation[] = [];
  const add = (node: ts.Node, what: string | undefined): void => {
    if (what) found.push({ line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1, what });
  };
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      add(node, forbiddenSpecifier(node.moduleSpecifier.text, file));
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      add(node, forbiddenSpecifier(node.moduleReference.expression.text, file));
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === 'require'))
    ) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) add(node, forbiddenSpecifier(arg.text, file));
      else add(node, 'loads a module chosen at run time');
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      add(node, forbiddenSpecifier(node.argument.literal.text, file));
    } else if (ts.isIdentifier(node) && node.text === 'process' && usesGlobal(node)) {
      add(node, 'uses the process global');
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** `process` as a value or a type query, not a property name (`x.process`, `{ process: 1 }`) nor a declaration of its own. */
function usesGlobal(node: ts.Identifier): boolean {
  const parent = node.parent;
  if (ts.isPropertyAccessExpression(parent) && parent.name === node) return false;
  if (ts.isQualifiedName(parent) && parent.right === node) return false;
  if (
    (ts.isPropertyAssignment(parent) ||
      ts.isPropertySignature(parent) ||
      ts.isPropertyDeclaration(parent) ||
      ts.isMethodDeclaration(parent)) &&
    parent.name === node
  )
    return false;
  if (
    (ts.isParameter(parent) || ts.isVariableDeclaration(parent) || ts.isBindingElement(parent)) &&
    parent.name === node
  )
    return false;
  return true;
}

function coreFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory()
        ? coreFiles(join(dir, entry.name))
        : entry.name.endsWith('.ts')
          ? [join(dir, entry.name)]
          : [],
    )
    .sort();
}

describe('src/core is pure', () => {
  it('no core file loads the system, the heavy clients or the shells, nor uses process', () => {
    const files = coreFiles(CORE);
    assert.ok(files.length > 20, `read ${files.length} files under ${CORE}`);
    const report = files.flatMap((path) => {
      const file = relative(ROOT, path).split('\\').join('/');
      return violations(file, readFileSync(path, 'utf8')).map((v) => `${file}:${v.line}: ${v.what}`);
    });
    assert.deepEqual(
      report,
      [],
      `src/core must stay pure (move the effect to src/adapters and pass it in):\n${report.join('\n')}`,
    );
  });

  it('the check can fail: each kind of violation, by line', () => {
    const text = [
      "import { readFile } from 'node:fs/promises';",
      "import { execa } from 'execa';",
      "export { run } from '../../adapters/runc.js';",
      "import type { Io } from '../../commands/io.js';",
      'const env = process.env;',
      "const child = await import('child_process');",
      'type Env = typeof process.env;',
      "import { isRecord } from '../json.js';",
      "import { parseDocument } from 'yaml';",
      '// a process in a comment, and one in a string:',
      "const note = 'the process holds a file';",
      'const o = { process: 1 }; o.process;',
      'function f(process: number) { return 2; }',
    ].join('\n');
    assert.deepEqual(violations('src/core/mounts/sample.ts', text), [
      { line: 1, what: 'imports node:fs/promises' },
      { line: 2, what: 'imports execa' },
      { line: 3, what: 'imports ../../adapters/runc.js (src/adapters)' },
      { line: 4, what: 'imports ../../commands/io.js (src/commands)' },
      { line: 5, what: 'uses the process global' },
      { line: 6, what: 'imports child_process' },
      { line: 7, what: 'uses the process global' },
    ]);
  });
});
