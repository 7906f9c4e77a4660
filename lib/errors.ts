/**
 * Errors for bad input. Every validation failure in exitlab throws an `InputError` that names where the bad
 * value came from (a file path, or a description such as "ExitTrace"), the field, and the expected form, so a
 * researcher can fix a malformed export without reading our source.
 */

/** A value supplied to exitlab (a file, a constructor argument, a policy parameter) is not of the form required. */
export class InputError extends Error {
  /** Where the value came from: a file path, or the name of the API that received it. */
  readonly source: string;
  /** The field (array name, manifest key, parameter) that is wrong. */
  readonly field: string;
  /** The form the field must have, in words. */
  readonly expected: string;

  constructor(source: string, field: string, expected: string, got?: string) {
    super(`${source}: ${field}: expected ${expected}${got === undefined ? '' : `, got ${got}`}`);
    this.name = 'InputError';
    this.source = source;
    this.field = field;
    this.expected = expected;
  }
}

/** Short printable description of an unknown value for error messages (never the whole of a large array). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? value.slice(0, 57) + '...' : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as unknown as ArrayLike<unknown>).length}`;
  return `a ${typeof value}`;
}
