import type { ThreatModel } from '@glcert/contracts';
import { InvalidArgumentError, utf8Length, type FieldViolation } from './errors';

/**
 * Input limits of identifier fields, checked at the edge of every RPC (before any downstream
 * call), and the short, safe forms in which caller input may appear in a message.
 *
 * Why: a 48 kB model name echoed into a status overflowed the HTTP/2 header limit and dropped
 * the connection between two services (every call on it failed); a 1 MB one took ~18 s to
 * travel. An identifier is short, so a long one is refused at once, naming the field and
 * quoting at most a short prefix of it.
 */

/** Model, transform and parameter names, model versions: at most this many UTF-8 bytes. */
export const MAX_NAME_BYTES = 128;
/** request_id and stream item ids: at most this many UTF-8 bytes. */
export const MAX_ID_BYTES = 256;
/** Most characters of caller input quoted in a message (see `preview`). */
export const PREVIEW_CHARS = 32;
/** Most box or smoothing entries in a threat model (a transform has at most 3 parameters). */
export const MAX_THREAT_MODEL_ENTRIES = 8;

/** The name charset: letters, digits and `._+@-`, starting with a letter or digit (a folder name, a transform key). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._+@-]*$/;
/** C0/C1 controls, DEL and the Unicode line/paragraph separators: never in an id. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * - `name`: model, transform, parameter names (1..MAX_NAME_BYTES bytes of the NAME charset);
 * - `id`: request_id, item ids (1..MAX_ID_BYTES bytes, no control characters);
 * - `sha256`: 64 lowercase hex digits.
 */
export type IdentifierKind = 'name' | 'id' | 'sha256';

export interface IdentifierOptions {
  /** An empty value is a violation (default false: empty passes, for optional fields). */
  required?: boolean;
}

/**
 * How caller input is quoted in a message: JSON-quoted (controls escaped), at most
 * PREVIEW_CHARS characters, with its full length when cut: `"abcd..." (1048576 characters)`.
 */
export function preview(value: string, maxChars = PREVIEW_CHARS): string {
  if (value.length <= maxChars) return JSON.stringify(value);
  let end = maxChars;
  if (/[\uD800-\uDBFF]/.test(value[end - 1]!)) end--;
  return `${JSON.stringify(value.slice(0, end) + '...')} (${value.length} characters)`;
}

/** The violation of one identifier field, or undefined when it is fine. Never echoes more than a short prefix. */
export function identifierViolation(value: string, field: string, kind: IdentifierKind, options: IdentifierOptions = {}): FieldViolation | undefined {
  if (value === '') return options.required ? { field, description: 'is required', reason: 'REQUIRED' } : undefined;
  switch (kind) {
    case 'sha256':
      if (value.length !== 64 || !SHA256_HEX.test(value)) {
        return { field, description: `must be 64 lowercase hex digits (a SHA-256), got ${preview(value)}`, reason: 'INVALID_FORMAT' };
      }
      return undefined;
    case 'name': {
      const bytes = utf8Length(value);
      if (bytes > MAX_NAME_BYTES) return { field, description: `must be at most ${MAX_NAME_BYTES} bytes, got ${bytes}`, reason: 'TOO_LONG' };
      if (!NAME.test(value)) {
        return { field, description: `must be letters, digits and ._+@- starting with a letter or digit, got ${preview(value)}`, reason: 'INVALID_FORMAT' };
      }
      return undefined;
    }
    case 'id': {
      const bytes = utf8Length(value);
      if (bytes > MAX_ID_BYTES) return { field, description: `must be at most ${MAX_ID_BYTES} bytes, got ${bytes}`, reason: 'TOO_LONG' };
      if (CONTROL.test(value)) return { field, description: 'must not contain control characters', reason: 'INVALID_FORMAT' };
      return undefined;
    }
  }
}

/** A bounded free-text field (not an identifier): only its length is checked. */
export function textViolation(value: string, field: string, maxBytes: number): FieldViolation | undefined {
  const bytes = utf8Length(value);
  return bytes > maxBytes ? { field, description: `must be at most ${maxBytes} bytes, got ${bytes}`, reason: 'TOO_LONG' } : undefined;
}

/**
 * The identifier violations of a threat model: its transform key and every box/smoothing
 * entry name (`<prefix>threat_model.box[i].name`), and the number of entries. The rest
 * (known names, numbers) is the validators' job; this only keeps what they see short.
 * `note` is server-set and ignored on requests, so it is bounded, not checked.
 */
export function threatModelIdentifierViolations(tm: ThreatModel | undefined, root = 'threat_model'): FieldViolation[] {
  if (tm === undefined) return [];
  const out: FieldViolation[] = [];
  const add = (v: FieldViolation | undefined): void => {
    if (v) out.push(v);
  };
  add(identifierViolation(tm.transform, `${root}.transform`, 'name'));
  for (const [list, key] of [
    [tm.box, 'box'],
    [tm.smoothing, 'smoothing'],
  ] as const) {
    if (list.length > MAX_THREAT_MODEL_ENTRIES) {
      out.push({ field: `${root}.${key}`, description: `must have at most ${MAX_THREAT_MODEL_ENTRIES} entries, got ${list.length}`, reason: 'TOO_MANY' });
      continue;
    }
    list.forEach((e, i) => add(identifierViolation(e.name, `${root}.${key}[${i}].name`, 'name')));
  }
  add(textViolation(tm.note, `${root}.note`, 1024));
  return out;
}

/** Throws one INVALID_ARGUMENT naming every violation given (undefined entries are fine fields). */
export function rejectViolations(checks: ReadonlyArray<FieldViolation | undefined>): void {
  const list = checks.filter((v): v is FieldViolation => v !== undefined);
  if (list.length > 0) throw InvalidArgumentError.of(list);
}
