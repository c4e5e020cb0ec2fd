// src/core stays pure (docs/architecture.md, "Layout"): no file system, child processes, network, the
// process global, the heavy clients (execa, dockerode, pino), nor the shells over the core. What touches
// the system lives in src/adapters and reaches the core as values or injected functions.
// The layers above keep their order too: cli → commands → migrate | runtime → adapters → core.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Modules the core must not load, with or without the node: prefix, and their subpaths (fs/promises). */
const FORBIDDEN_MODULES = ['fs', 'child_process', 'process', 'net', 'execa', 'dockerode', 'pino'];

interface Layer {
  /** The layer's folder, relative to the repository, with a trailing slash. */
  dir: string;
  /** Folders of src/ it must not import from. */
  forbiddenDirs: string[];
  /** The core alone: no system modules, no process global. */
  pure: boolean;
}

const LAYERS: Layer[] = [
  {
    dir: 'src/core/',
    forbiddenDirs: ['src/adapters/', 'src/commands/', 'src/runtime/', 'src/migrate/', 'src/cli/'],
    pure: true,
  },
  // Adapters touch the system for the shells above; they know nothing of them.
  { dir: 'src/adapters/', forbiddenDirs: ['src/commands/', 'src/runtime/', 'src/migrate/', 'src/cli/'], pure: false },
  { dir: 'src/migrate/', forbiddenDirs: ['src/commands/', 'src/runtime/', 'src/cli/'], pure: false },
  // The runtime handler is its own program (bundled apart): the CLI's code is not in it.
  { dir: 'src/runtime/', forbiddenDirs: ['src/commands/', 'src/migrate/', 'src/cli/'], pure: false },
  // Commands use the runtime's files through the adapters, never the handler's internals.
  { dir: 'src/commands/', forbiddenDirs: ['src/runtime/', 'src/cli/'], pure: false },
];

const CORE = LAYERS[0]!;

interface Violation {
  line: number;
  what: string;
}

function forbiddenSpecifier(specifier: string, file: string, layer: Layer): string | undefined {
  if (specifier.startsWith('.')) {
    const target = posix.normalize(posix.join(posix.dirname(file), specifier));
    const dir = layer.forbiddenDirs.find((d) => target.startsWith(d));
    return dir ? `imports ${specifier} (${dir.replace(/[/.]$/, '')})` : undefined;
  }
  if (!layer.pure) return undefined;
  const bare = specifier.replace(/^node:/, '');
  return FORBIDDEN_MODULES.some((m) => bare === m || bare.startsWith(`${m}/`)) ? `imports ${specifier}` : undefined;
}

/** What in one file of `layer` (`file` relative to the repository, posix) breaks its rule, by line. */
function violations(file: string, text: string, layer: Layer): Violation[] {
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
      add(node, forbiddenSpecifier(node.moduleSpecifier.text, file, layer));
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      add(node, forbiddenSpecifier(node.moduleReference.expression.text, file, layer));
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === 'require'))
    ) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) add(node, forbiddenSpecifier(arg.text, file, layer));
      else add(node, 'loads a module chosen at run time');
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      add(node, forbiddenSpecifier(node.argument.literal.text, file, layer));
    } else if (layer.pure && ts.isIdentifier(node) && node.text === 'process' && usesGlobal(node)) {
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

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory() ? tsFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
    )
    .sort();
}

/** Each breach of `layer`'s rule in its files, as `file:line: what`. */
function layerReport(layer: Layer): { files: number; report: string[] } {
  const files = tsFiles(join(ROOT, layer.dir));
  const report = files.flatMap((path) => {
    const file = relative(ROOT, path).split('\\').join('/');
    return violations(file, readFileSync(path, 'utf8'), layer).map((v) => `${file}:${v.line}: ${v.what}`);
  });
  return { files: files.length, report };
}

describe('src/core is pure', () => {
  it('no core file loads the system, the heavy clients or the shells, nor uses process', () => {
    const { files, report } = layerReport(CORE);
    assert.ok(files > 20, `read ${files} files under ${CORE.dir}`);
    assert.deepEqual(
      report,
      [],
      `src/core must stay pure (move the effect to src/adapters and pass it in):\n${report.join('\n')}`,
    );
  });

  for (const layer of LAYERS.slice(1)) {
    it(`${layer.dir} imports nothing from ${layer.forbiddenDirs.join(', ')}`, () => {
      const { files, report } = layerReport(layer);
      assert.ok(files > 3, `read ${files} files under ${layer.dir}`);
      assert.deepEqual(report, [], `a layer reaches above itself:\n${report.join('\n')}`);
    });
  }

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
    assert.deepEqual(violations('src/core/mounts/sample.ts', text, CORE), [
      { line: 1, what: 'imports node:fs/promises' },
      { line: 2, what: 'imports execa' },
      { line: 3, what: 'imports ../../adapters/runc.js (src/adapters)' },
      { line: 4, what: 'imports ../../commands/io.js (src/commands)' },
      { line: 5, what: 'uses the process global' },
      { line: 6, what: 'imports child_process' },
      { line: 7, what: 'uses the process global' },
    ]);
  });

  it('the layer rules can fail: an adapter importing migrate, a command reaching into the runtime', () => {
    const adapters = LAYERS.find((l) => l.dir === 'src/adapters/')!;
    const commands = LAYERS.find((l) => l.dir === 'src/commands/')!;
    const adapter = [
      "import { readFile } from 'node:fs/promises';",
      "import { TarFilter } from '../../migrate/archives.js';",
      "import { isRecord } from '../../core/json.js';",
      "import { atomic } from '../fs/atomic-write.js';",
      "const cli = await import('../../cli/main.js');",
      'const env = process.env;',
    ].join('\n');
    assert.deepEqual(violations('src/adapters/docker/sample.ts', adapter, adapters), [
      { line: 2, what: 'imports ../../migrate/archives.js (src/migrate)' },
      { line: 5, what: 'imports ../../cli/main.js (src/cli)' },
    ]);
    const command = [
      "import { MountHolder } from '../runtime/holder.js';",
      "import { MountHolder as M } from '../adapters/mounts/mount-holder.js';",
      "export type { RuntimeContext } from '../runtime/context.js';",
    ].join('\n');
    assert.deepEqual(violations('src/commands/sample.ts', command, commands), [
      { line: 1, what: 'imports ../runtime/holder.js (src/runtime)' },
      { line: 3, what: 'imports ../runtime/context.js (src/runtime)' },
    ]);
  });
});
