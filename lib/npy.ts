/**
 * Reading and writing NumPy `.npy` arrays (format versions 1.0, 2.0 and 3.0; see numpy's
 * `numpy/lib/format.py`). Supported dtypes: little-endian float32, float64, int32, int64 (and the same
 * big-endian, byte-swapped on read), C order only. Fortran-order arrays are rejected with an error rather than
 * transposed silently, because a transposed probability tensor still has valid shapes and would give wrong
 * results without complaint.
 */
import { InputError } from './errors.ts';

/** The dtypes exitlab reads and writes, by NumPy name. */
export type NpyDtype = 'float32' | 'float64' | 'int32' | 'int64';

/** Typed array holding an `.npy` payload. int64 arrays are narrowed to Float64Array (exact below 2^53). */
export type NpyData = Float32Array | Float64Array | Int32Array;

/** A decoded `.npy` array: flat C-order data plus its shape. */
export interface NpyArray {
  /** Element type as stored in the file. */
  readonly dtype: NpyDtype;
  /** Shape, outermost axis first. */
  readonly shape: readonly number[];
  /** Flat row-major (C-order) data; for int64 files, a Float64Array holding the exact integer values. */
  readonly data: NpyData;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

const DESCR: Record<string, { dtype: NpyDtype; size: number }> = {
  f4: { dtype: 'float32', size: 4 },
  f8: { dtype: 'float64', size: 8 },
  i4: { dtype: 'int32', size: 4 },
  i8: { dtype: 'int64', size: 8 },
};

/** What an `.npy` header says: enough to know the file's exact size before reading its payload. */
export interface NpyHeader {
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
  readonly littleEndian: boolean;
  /** Offset of the payload (magic + version + length field + header dict). */
  readonly dataStart: number;
  /** Payload bytes the shape and dtype require. */
  readonly payloadBytes: number;
}

/**
 * Parse the header of an `.npy` file from its first bytes (at least the magic, version, length field and
 * header dict; the payload need not be there).
 * @throws InputError for a bad magic string, an unreadable or truncated header, a pickled object array, a
 *   structured or unsupported dtype, or Fortran order.
 */
export function parseNpyHeader(bytes: Uint8Array, source: string): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new InputError(source, 'magic', 'a NumPy .npy file starting with "\\x93NUMPY"', `${bytes.length} bytes without that prefix`);
  }
  const major = bytes[6];
  let headerLen: number;
  let headerStart: number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new InputError(source, 'header', 'a complete version 2/3 header', 'a truncated file');
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new InputError(source, 'version', 'npy format version 1, 2 or 3', `version ${major}`);
  }
  if (headerStart + headerLen > bytes.length) {
    throw new InputError(source, 'header', `a header of ${headerLen} bytes`, `a file of only ${bytes.length} bytes (truncated?)`);
  }
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, headerStart + headerLen));
  // An object array's payload is a pickle, which we never run: say so, rather than "malformed header".
  if (/'descr'\s*:\s*'[|<>=]?O'/.test(header)) {
    throw new InputError(
      source,
      'dtype',
      'a numeric array (float32, float64, int32 or int64); save one with np.save(path, np.asarray(x, dtype=np.float32)) (int64 for labels)',
      "a pickled object array (descr '|O', e.g. a list of arrays of different lengths or of Python objects), which exitlab never unpickles",
    );
  }
  if (/'descr'\s*:\s*\[/.test(header)) {
    throw new InputError(source, 'dtype', 'a plain numeric dtype (float32, float64, int32 or int64)', 'a structured dtype (a list of fields); save each field as its own array');
  }
  const descr = /'descr'\s*:\s*'([<>|=])([a-zA-Z])(\d+)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeMatch = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeMatch) {
    throw new InputError(source, 'header', "a dict with 'descr', 'fortran_order' and 'shape'", JSON.stringify(header.trim().slice(0, 120)));
  }
  const [, order, kind, width] = descr;
  const info = DESCR[kind + width];
  if (!info) {
    throw new InputError(source, 'dtype', 'float32, float64, int32 or int64 (descr <f4, <f8, <i4, <i8)', `descr '${order}${kind}${width}'`);
  }
  if (fortran[1] === 'True') {
    throw new InputError(source, 'fortran_order', 'C order (save with np.ascontiguousarray)', 'Fortran order');
  }
  const shape = shapeMatch[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Number(s.replace(/L$/, '')));
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new InputError(source, 'shape', 'a tuple of non-negative integers', `(${shapeMatch[1]})`);
  }
  const payloadBytes = shape.reduce((a, b) => a * b, 1) * info.size;
  if (!Number.isSafeInteger(payloadBytes)) throw new InputError(source, 'shape', 'a shape whose size fits in memory', `(${shape.join(', ')})`);
  return { dtype: info.dtype, shape, littleEndian: order !== '>', dataStart: headerStart + headerLen, payloadBytes };
}

/**
 * Decode an `.npy` file's bytes.
 * @param bytes the whole file.
 * @param source name used in error messages (the file path, or `archive.npz:member.npy`).
 * @throws InputError for a bad magic string, an unreadable header, an unsupported dtype, Fortran order, or a
 *   payload shorter or longer than the header's shape requires.
 */
export function parseNpy(bytes: Uint8Array, source: string): NpyArray {
  const { dtype, shape, littleEndian, dataStart, payloadBytes: expectedBytes } = parseNpyHeader(bytes, source);
  const info = { dtype, size: dtype === 'float64' || dtype === 'int64' ? 8 : 4 };
  const count = expectedBytes / info.size;
  const actualBytes = bytes.length - dataStart;
  if (actualBytes !== expectedBytes) {
    throw new InputError(
      source,
      'data',
      `${expectedBytes} bytes of ${info.dtype} for shape (${shape.join(', ')})`,
      `${actualBytes} bytes${actualBytes < expectedBytes ? ' (truncated file)' : ''}`,
    );
  }
  // Copy into a fresh, aligned buffer: the payload offset in the file is only guaranteed 16-byte aligned for
  // version 1 headers written by numpy itself, and typed arrays need element alignment.
  const payload = bytes.slice(dataStart, dataStart + expectedBytes);
  const dv = new DataView(payload.buffer);
  switch (info.dtype) {
    case 'float32': {
      const out = littleEndian && isHostLittleEndian ? new Float32Array(payload.buffer) : new Float32Array(count);
      if (!(littleEndian && isHostLittleEndian)) for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, littleEndian);
      return { dtype: 'float32', shape, data: out };
    }
    case 'float64': {
      const out = littleEndian && isHostLittleEndian ? new Float64Array(payload.buffer) : new Float64Array(count);
      if (!(littleEndian && isHostLittleEndian)) for (let i = 0; i < count; i++) out[i] = dv.getFloat64(i * 8, littleEndian);
      return { dtype: 'float64', shape, data: out };
    }
    case 'int32': {
      const out = littleEndian && isHostLittleEndian ? new Int32Array(payload.buffer) : new Int32Array(count);
      if (!(littleEndian && isHostLittleEndian)) for (let i = 0; i < count; i++) out[i] = dv.getInt32(i * 4, littleEndian);
      return { dtype: 'int32', shape, data: out };
    }
    case 'int64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) {
        const v = dv.getBigInt64(i * 8, littleEndian);
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
          throw new InputError(source, `data[${i}]`, 'an int64 value within ±2^53', String(v));
        }
        out[i] = Number(v);
      }
      return { dtype: 'int64', shape, data: out };
    }
  }
}

const isHostLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Encode an array as `.npy` bytes (format 1.0, or 2.0 when the header needs it), little-endian, C order.
 * @param data flat row-major data; its length must equal the product of `shape`.
 * @param shape the array's shape.
 * @param dtype stored element type; defaults to the typed array's own type (Float32Array → float32,
 *   Float64Array → float64, Int32Array → int32). Writing int64 from a Float64Array requires integer values.
 */
export function encodeNpy(data: NpyData, shape: readonly number[], dtype?: NpyDtype): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new InputError('encodeNpy', 'shape', `dimensions whose product is data.length = ${data.length}`, `(${shape.join(', ')})`);
  }
  const dt: NpyDtype = dtype ?? (data instanceof Float32Array ? 'float32' : data instanceof Int32Array ? 'int32' : 'float64');
  const descr = { float32: '<f4', float64: '<f8', int32: '<i4', int64: '<i8' }[dt];
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  // Pad with spaces and a final newline so the payload starts on a 64-byte boundary (numpy does this too).
  let prefix = 10;
  let total = prefix + dict.length + 1;
  if (total % 64 !== 0) dict += ' '.repeat(64 - (total % 64));
  let major = 1;
  if (dict.length + 1 > 65535) {
    major = 2;
    prefix = 12;
    dict = dict.trimEnd();
    total = prefix + dict.length + 1;
    if (total % 64 !== 0) dict += ' '.repeat(64 - (total % 64));
  }
  dict += '\n';
  const size = { float32: 4, float64: 8, int32: 4, int64: 8 }[dt];
  const out = new Uint8Array(prefix + dict.length + count * size);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, dict.length, true);
  else dv.setUint32(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[prefix + i] = dict.charCodeAt(i);
  const off = prefix + dict.length;
  for (let i = 0; i < count; i++) {
    const v = data[i];
    switch (dt) {
      case 'float32':
        dv.setFloat32(off + i * 4, v, true);
        break;
      case 'float64':
        dv.setFloat64(off + i * 8, v, true);
        break;
      case 'int32':
        if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
          throw new InputError('encodeNpy', `data[${i}]`, 'an int32 value', String(v));
        }
        dv.setInt32(off + i * 4, v, true);
        break;
      case 'int64':
        if (!Number.isSafeInteger(v)) throw new InputError('encodeNpy', `data[${i}]`, 'an integer within ±2^53', String(v));
        dv.setBigInt64(off + i * 8, BigInt(v), true);
        break;
    }
  }
  return out;
}
