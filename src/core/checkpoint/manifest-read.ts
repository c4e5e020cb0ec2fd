// Reads extmount.yaml back: YAML as plain data, then every field validated (it may come from another host).
import { isAlias, parseDocument, visit } from 'yaml';
import { isAbsolutePath } from '../config.js';
import { ExtmountError } from '../errors.js';
import { isRecord } from '../json.js';
import type { ExternalKind } from '../mounts/classify.js';
import { validateKey } from '../mounts/plan.js';
import {
  MANIFEST_FORMAT,
  MANIFEST_MAX_ITEMS,
  MANIFEST_MAX_MOUNTS,
  type Manifest,
  type ManifestMount,
  type ManifestTarget,
} from './manifest.js';

const KINDS = new Set<ExternalKind>(['bind', 'volume', 'propagated', 'file', 'runtime']);
const TYPES = new Set(['file', 'directory', 'unknown']);

/** Parses and validates; everything in it is data from another host and is treated as such. */
export function parseManifest(text: string, origin: string): Manifest {
  const fail = (what: string) =>
    new ExtmountError('bad-input', `${origin}: ${what}`, {
      hint: 'the manifest is damaged or was edited; checkpoint again',
    });
  const doc = parseYamlData(text, fail);
  if (!isRecord(doc)) throw fail('not a manifest (expected a YAML mapping)');
  if (doc.format !== MANIFEST_FORMAT)
    throw fail(`unknown format ${JSON.stringify(doc.format)} (expected ${MANIFEST_FORMAT})`);
  for (const field of ['extmount', 'criu', 'createdAt'] as const) {
    if (typeof doc[field] !== 'string') throw fail(`"${field}" must be a string`);
  }
  for (const field of ['enableExternalMasters', 'enableExternalSharing'] as const) {
    if (typeof doc[field] !== 'boolean') throw fail(`"${field}" must be true or false`);
  }
  const target = parseTarget(doc.target, fail);
  if (!Array.isArray(doc.mounts)) throw fail('"mounts" must be a list');
  if (doc.mounts.length > MANIFEST_MAX_MOUNTS)
    throw fail(`${doc.mounts.length} mounts, more than the ${MANIFEST_MAX_MOUNTS} a manifest may hold`);
  const keys = new Set<string>();
  const mounts = doc.mounts.map((raw, i): ManifestMount => {
    const where = `mounts[${i}]`;
    if (!isRecord(raw)) throw fail(`${where} must be a mapping`);
    const key = raw.key;
    if (typeof key !== 'string') throw fail(`${where}.key must be a string`);
    const keyProblem = validateKey(key);
    if (keyProblem) throw fail(`${where}.key ${JSON.stringify(key)} ${keyProblem}`);
    if (keys.has(key)) throw fail(`key ${key} appears twice`);
    keys.add(key);
    if (!isAbsolutePath(raw.mountpoint) || /[\n\r]/.test(raw.mountpoint))
      throw fail(`${where}.mountpoint must be an absolute path without ".."`);
    if (raw.hostPath !== null && (!isAbsolutePath(raw.hostPath) || /[\n\r]/.test(raw.hostPath))) {
      throw fail(`${where}.hostPath must be null or an absolute path without ".."`);
    }
    if (typeof raw.kind !== 'string' || !KINDS.has(raw.kind as ExternalKind))
      throw fail(`${where}.kind must be one of ${[...KINDS].join(', ')}`);
    if (typeof raw.type !== 'string' || !TYPES.has(raw.type))
      throw fail(`${where}.type must be file, directory or unknown`);
    if (typeof raw.readOnly !== 'boolean') throw fail(`${where}.readOnly must be true or false`);
    if (typeof raw.propagation !== 'string') throw fail(`${where}.propagation must be a string`);
    if (raw.volume !== undefined && (typeof raw.volume !== 'string' || validateKey(raw.volume) !== undefined))
      throw fail(`${where}.volume is not a volume name`);
    if (raw.propagationNote !== undefined && typeof raw.propagationNote !== 'string')
      throw fail(`${where}.propagationNote must be a string`);
    return {
      key,
      mountpoint: raw.mountpoint,
      hostPath: raw.hostPath as string | null,
      kind: raw.kind as ExternalKind,
      type: raw.type as ManifestMount['type'],
      readOnly: raw.readOnly,
      propagation: raw.propagation,
      ...(raw.volume !== undefined ? { volume: raw.volume as string } : {}),
      ...(raw.propagationNote !== undefined ? { propagationNote: raw.propagationNote as string } : {}),
    };
  });
  return {
    format: MANIFEST_FORMAT,
    extmount: doc.extmount as string,
    criu: doc.criu as string,
    createdAt: doc.createdAt as string,
    target,
    enableExternalMasters: doc.enableExternalMasters as boolean,
    enableExternalSharing: doc.enableExternalSharing as boolean,
    mounts,
  };
}

/**
 * YAML as plain data: the core schema without the YAML 1.1 types (!!binary, !!set, !!timestamp …), no
 * tags, anchors or aliases at all (extmount never writes them; an alias is how a small text becomes a huge
 * value); an unknown tag or any other warning is an error (yaml would otherwise keep the text and print a
 * warning of several lines on stderr).
 */
function parseYamlData(text: string, fail: (what: string) => ExtmountError): unknown {
  let items = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // "\n" "," "[" "{"
    if (c === 10 || c === 44 || c === 91 || c === 123) items++;
  }
  if (items > MANIFEST_MAX_ITEMS)
    throw fail(`${items} lines and flow items, more than the ${MANIFEST_MAX_ITEMS} a manifest may have`);
  const document = parseDocument(text, {
    schema: 'core',
    customTags: [],
    resolveKnownTags: false,
    merge: false,
    uniqueKeys: true,
    prettyErrors: false,
  });
  const problem = document.errors[0] ?? document.warnings[0];
  if (problem) throw fail(`not valid YAML (${problem.message.split('\n')[0]})`);
  visit(document, {
    Node(_, node) {
      if (isAlias(node)) throw fail(`YAML aliases are not allowed (*${node.source})`);
      if (node.anchor) throw fail(`YAML anchors are not allowed (&${node.anchor})`);
      if (node.tag) throw fail(`YAML tags are not allowed (${node.tag})`);
    },
  });
  return document.toJS({ maxAliasCount: 0 });
}

function parseTarget(raw: unknown, fail: (what: string) => ExtmountError): ManifestTarget {
  if (!isRecord(raw)) throw fail('"target" must be a mapping');
  if (raw.kind === 'pid') {
    if (typeof raw.pid !== 'number' || !Number.isInteger(raw.pid) || raw.pid <= 0)
      throw fail('target.pid must be a positive integer');
    if (raw.root !== null && !isAbsolutePath(raw.root))
      throw fail('target.root must be null or an absolute path without ".."');
    return { kind: 'pid', pid: raw.pid, root: raw.root as string | null };
  }
  if (raw.kind === 'container') {
    for (const field of ['id', 'name', 'image'] as const)
      if (typeof raw[field] !== 'string') throw fail(`target.${field} must be a string`);
    return { kind: 'container', id: raw.id as string, name: raw.name as string, image: raw.image as string };
  }
  throw fail('target.kind must be pid or container');
}
