// JSON read and written back without touching what is not edited, and read as Go reads it. Podman writes
// its dumps with Go's encoding/json: uint64 fields (rlimits, seccomp arguments, resource limits) hold
// numbers beyond 2^53 that JSON.parse would round, and Go then refuses to read them back ("cannot
// unmarshal number … into uint64"): numbers stay as their source text. Go also matches keys to fields
// without regard to case ("Source" fills `source`, the last one wins): two keys of one object that Go
// would take for the same field are refused, and fields are looked up the way Go finds them (`field`).
import { ExtmountError } from '../errors.js';

/** A number as it was written. */
export class RawNumber {
  constructor(readonly text: string) {}
}

export type RawValue = null | boolean | string | RawNumber | RawValue[] | { [key: string]: RawValue };

/** Deeper nesting than any Podman dump has: the text is another host's data. */
const MAX_DEPTH = 64;

export function parseRawJson(text: string, origin: string): RawValue {
  let at = 0;
  const fail = (what: string) =>
    new ExtmountError('bad-input', `${origin}: ${what} at offset ${at}`, {
      hint: 'the archive is not one Podman wrote',
    });
  const space = () => {
    while (at < text.length && ' \t\n\r'.includes(text[at]!)) at++;
  };
  const value = (depth: number): RawValue => {
    if (depth > MAX_DEPTH) throw fail('nesting too deep');
    space();
    const c = text[at];
    if (c === '{') {
      at++;
      const object: { [key: string]: RawValue } = {};
      space();
      if (text[at] === '}') {
        at++;
        return object;
      }
      for (;;) {
        space();
        if (text[at] !== '"') throw fail('expected a key');
        const key = string();
        space();
        if (text[at++] !== ':') throw fail('expected ":"');
        // What extmount checks must be what Podman reads: no second key for the same field.
        if (Object.keys(object).some((k) => foldKey(k) === foldKey(key)))
          throw fail(`a second key ${JSON.stringify(key)} for one field`);
        Object.defineProperty(object, key, {
          value: value(depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
        space();
        if (text[at] === ',') at++;
        else if (text[at] === '}') {
          at++;
          return object;
        } else throw fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      at++;
      const array: RawValue[] = [];
      space();
      if (text[at] === ']') {
        at++;
        return array;
      }
      for (;;) {
        array.push(value(depth + 1));
        space();
        if (text[at] === ',') at++;
        else if (text[at] === ']') {
          at++;
          return array;
        } else throw fail('expected "," or "]"');
      }
    }
    if (c === '"') return string();
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(at, at + 400));
    if (!literal) throw fail('unexpected character');
    at += literal[0].length;
    if (literal[0] === 'true') return true;
    if (literal[0] === 'false') return false;
    if (literal[0] === 'null') return null;
    return new RawNumber(literal[0]);
  };
  const string = (): string => {
    const start = at;
    at++;
    while (at < text.length && text[at] !== '"') at += text[at] === '\\' ? 2 : 1;
    if (at >= text.length) throw fail('unterminated string');
    at++;
    try {
      return JSON.parse(text.slice(start, at)) as string;
    } catch {
      throw fail('malformed string');
    }
  };
  const result = value(0);
  space();
  if (at !== text.length) throw fail('text after the value');
  return result;
}

export function stringifyRawJson(value: RawValue): string {
  if (value instanceof RawNumber) return value.text;
  if (Array.isArray(value)) return `[${value.map(stringifyRawJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${stringifyRawJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export function isRawObject(value: RawValue | undefined): value is { [key: string]: RawValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof RawNumber);
}

/** Go's key folding (encoding/json: case-insensitive, with ſ as s and the Kelvin sign as k). */
function foldKey(key: string): string {
  return key.toUpperCase().toLowerCase();
}

/** The key of `object` Go would read into the field tagged `name` (at most one: duplicates were refused). */
export function fieldKey(object: { [key: string]: RawValue }, name: string): string | undefined {
  return Object.keys(object).find((k) => foldKey(k) === foldKey(name));
}

export function field(object: { [key: string]: RawValue }, name: string): RawValue | undefined {
  const key = fieldKey(object, name);
  return key === undefined ? undefined : object[key];
}

/** Sets the field where Go reads it (the key as written, else `name`). */
export function setField(object: { [key: string]: RawValue }, name: string, value: RawValue): void {
  const key = fieldKey(object, name) ?? name;
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}
