// extmount.yaml, written beside the CRIU images: what was external at dump time and how to map it back.
import type { ExternalKind } from '../mounts/classify.js';
import type { FileType, MountPlan } from '../mounts/plan.js';

export const MANIFEST_FILE = 'extmount.yaml';
export const MANIFEST_FORMAT = 'extmount/v1';
/** At most this many external mounts in one manifest (the README's "Limits on input files"). */
export const MANIFEST_MAX_MOUNTS = 4096;
/**
 * At most this many lines plus flow items ("," "[" "{") in one manifest: YAML parsing costs time and
 * memory per node (200,000 "{}" in 600 KB took 2.7 s and 340 MB), so the text is measured before it is
 * parsed. A manifest of MANIFEST_MAX_MOUNTS mounts has about 37,000 lines.
 */
export const MANIFEST_MAX_ITEMS = 65_536;

export type ManifestTarget =
  { kind: 'pid'; pid: number; root: string | null } | { kind: 'container'; id: string; name: string; image: string };

export interface ManifestMount {
  key: string;
  mountpoint: string;
  /** Host path at dump time (null when none was found: restore needs --map for it). */
  hostPath: string | null;
  kind: ExternalKind;
  type: FileType | 'unknown';
  readOnly: boolean;
  propagation: string;
  volume?: string;
  /** Set when CRIU cannot bring the propagation back as it was: says what restore will do instead. */
  propagationNote?: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  extmount: string;
  criu: string;
  createdAt: string;
  target: ManifestTarget;
  enableExternalMasters: boolean;
  enableExternalSharing: boolean;
  mounts: ManifestMount[];
}

export function manifestFromPlan(
  plan: MountPlan,
  meta: { extmount: string; criu: string; createdAt: string; target: ManifestTarget },
): Manifest {
  return {
    format: MANIFEST_FORMAT,
    ...meta,
    enableExternalMasters: plan.enableExternalMasters,
    enableExternalSharing: plan.enableExternalSharing,
    mounts: plan.mounts.map((m) => ({
      key: m.key,
      mountpoint: m.mountpoint,
      hostPath: m.hostPath,
      kind: m.kind,
      type: m.fileType ?? 'unknown',
      readOnly: m.readOnly,
      propagation: m.propagation,
      ...(m.volumeName !== undefined ? { volume: m.volumeName } : {}),
    })),
  };
}

export function renderManifest(manifest: Manifest): string {
  return `# Written by extmount beside the CRIU images; read by extmount restore. Edits are validated.\n${blockYaml(manifest, '')}`;
}

/**
 * The manifest as YAML block style, without a YAML library: the handler writes it inside the container's
 * freeze, where loading one cost more than the rest of the handler's work (manifest-read.ts parses it with
 * one). A string is plain only where nothing can misread it (PLAIN_SCALAR), else double-quoted as JSON
 * writes it (a JSON string is a YAML double-quoted scalar), so no value can read as another type, a
 * comment, a key or a tag; what JSON leaves raw but YAML does not call printable (DEL, C1 controls,
 * U+2028/2029, U+FEFF, U+FFFE/FFFF) is escaped too.
 */
function blockYaml(value: object, indent: string): string {
  let text = '';
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined) continue;
    if (Array.isArray(item)) {
      if (item.length === 0) {
        text += `${indent}${key}: []\n`;
        continue;
      }
      text += `${indent}${key}:\n`;
      for (const element of item as unknown[]) {
        // The manifest's lists are lists of mappings with at least one field; nothing else is written.
        if (
          element === null ||
          typeof element !== 'object' ||
          Array.isArray(element) ||
          Object.keys(element).length === 0
        ) {
          throw new Error(`manifest writer: ${key} holds ${JSON.stringify(element)}, not a mapping`);
        }
        // Written at the item's indent, then the first line's leading spaces give way to the "- ".
        text += `${indent}  -${blockYaml(element, `${indent}    `).slice(indent.length + 3)}`;
      }
    } else if (item !== null && typeof item === 'object') {
      if (Object.keys(item).length === 0) throw new Error(`manifest writer: ${key} is an empty mapping`);
      text += `${indent}${key}:\n${blockYaml(item as object, `${indent}  `)}`;
    } else {
      text += `${indent}${key}: ${yamlScalar(item as string | number | boolean | null)}\n`;
    }
  }
  return text;
}

// Plain where nothing can misread it: a name or path of letters, digits and _ . / + @ -, not starting
// with a digit (no number), never a word YAML 1.1 or 1.2 reads as null or a boolean.
const PLAIN_SCALAR = /^[A-Za-z_/][A-Za-z0-9_./+@-]*$/;
const TYPED_WORDS = /^(?:null|true|false|yes|no|on|off|y|n)$/i;

function yamlScalar(value: string | number | boolean | null): string {
  if (typeof value !== 'string') return String(value);
  if (PLAIN_SCALAR.test(value) && !TYPED_WORDS.test(value)) return value;
  return JSON.stringify(value).replace(
    /[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
