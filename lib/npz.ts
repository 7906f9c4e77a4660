/**
 * Reading and writing NumPy `.npz` archives: ZIP files whose members are `.npy` arrays, written by
 * `np.savez` (stored) or `np.savez_compressed` (deflate). Only what numpy writes is supported: stored or
 * deflated members, ZIP64 sizes, no encryption, no multi-disk archives (see `lib/zip.ts`).
 *
 * Reading is bounded: only the members asked for are inflated, each member's `.npy` header is read first and
 * its shape must account for exactly the size the archive declares, and inflation stops at that size.
 */
import { InputError } from './errors.ts';
import { encodeNpy, parseNpy, parseNpyHeader, type NpyArray, type NpyData, type NpyDtype } from './npy.ts';
import { zipDirectory, zipMember, zipMemberPrefix, type ZipEntry } from './zip.ts';

const EOCD_SIG = 0x06054b50;
const CEN_SIG = 0x02014b50;
const LOC_SIG = 0x04034b50;

/**
 * Decode one `.npy` member of a ZIP archive, reading its header before inflating the payload.
 * @throws InputError if the header's shape and dtype do not account for exactly the declared member size.
 */
export function npyMember(bytes: Uint8Array, entry: ZipEntry): NpyArray {
  // Magic (6) + version (2) + header length (2 or 4 bytes): then the header's own length is known.
  const lead = zipMemberPrefix(bytes, entry, 12);
  const v = lead.length >= 12 ? lead[6] : 0;
  const dv = new DataView(lead.buffer, lead.byteOffset, lead.byteLength);
  const headerEnd = v === 1 ? 10 + dv.getUint16(8, true) : v === 2 || v === 3 ? 12 + dv.getUint32(8, true) : lead.length;
  if (headerEnd > entry.size) throw new InputError(entry.source, 'header', `a header within the declared ${entry.size} bytes`, `a header of ${headerEnd} bytes`);
  const header = parseNpyHeader(zipMemberPrefix(bytes, entry, headerEnd), entry.source);
  const expected = header.dataStart + header.payloadBytes;
  if (expected !== entry.size) {
    throw new InputError(entry.source, 'data', `a declared member size of ${expected} bytes for ${header.dtype} shape (${header.shape.join(', ')})`, `${entry.size} bytes declared`);
  }
  return parseNpy(zipMember(bytes, entry), entry.source);
}

/**
 * Decode members of an `.npz` archive.
 * @param bytes the whole archive.
 * @param source file name for error messages.
 * @param keys array names to decode (member names without `.npy`); all `.npy` members when omitted. Other
 *   members are never inflated.
 * @returns a map from array name to the decoded array.
 * @throws InputError naming the archive's arrays if a key is missing.
 */
export function parseNpz(bytes: Uint8Array, source: string, keys?: readonly string[]): Map<string, NpyArray> {
  const entries = zipDirectory(bytes, source).filter((e) => e.name.endsWith('.npy')); // numpy writes only .npy members
  const byKey = new Map(entries.map((e) => [e.name.slice(0, -4), e] as const));
  const out = new Map<string, NpyArray>();
  for (const key of keys ?? [...byKey.keys()]) {
    const entry = byKey.get(key);
    if (!entry) throw new InputError(source, 'key', `one of the archive's arrays: ${[...byKey.keys()].join(', ')}`, JSON.stringify(key));
    out.set(key, npyMember(bytes, entry));
  }
  return out;
}

/** An array to store in an `.npz` archive. */
export interface NpzEntry {
  /** Flat row-major data. */
  readonly data: NpyData;
  /** The array's shape. */
  readonly shape: readonly number[];
  /** Stored dtype; defaults to the typed array's own. */
  readonly dtype?: NpyDtype;
}

/**
 * Encode arrays as an uncompressed `.npz` archive (like `np.savez`), readable by `np.load`.
 * Archives over 4 GiB (ZIP64) are not written; split the arrays into several files instead.
 */
export function encodeNpz(arrays: Record<string, NpzEntry>): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const names = Object.keys(arrays);
  for (const key of names) {
    const entry = arrays[key];
    const payload = encodeNpy(entry.data, entry.shape, entry.dtype);
    const name = new TextEncoder().encode(`${key}.npy`);
    const crc = crc32(payload);
    const local = new Uint8Array(30 + name.length);
    const l = new DataView(local.buffer);
    l.setUint32(0, LOC_SIG, true);
    l.setUint16(4, 20, true);
    l.setUint32(14, crc, true);
    l.setUint32(18, payload.length, true);
    l.setUint32(22, payload.length, true);
    l.setUint16(26, name.length, true);
    local.set(name, 30);
    const cen = new Uint8Array(46 + name.length);
    const c = new DataView(cen.buffer);
    c.setUint32(0, CEN_SIG, true);
    c.setUint16(4, 20, true);
    c.setUint16(6, 20, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, payload.length, true);
    c.setUint32(24, payload.length, true);
    c.setUint16(28, name.length, true);
    c.setUint32(42, offset, true);
    cen.set(name, 46);
    parts.push(local, payload);
    central.push(cen);
    offset += local.length + payload.length;
    if (offset > 0xffffffff) throw new InputError('encodeNpz', key, 'archives under 4 GiB', 'more');
  }
  const cdSize = central.reduce((a, b) => a + b.length, 0);
  const eocd = new Uint8Array(22);
  const e = new DataView(eocd.buffer);
  e.setUint32(0, EOCD_SIG, true);
  e.setUint16(8, names.length, true);
  e.setUint16(10, names.length, true);
  e.setUint32(12, cdSize, true);
  e.setUint32(16, offset, true);
  const out = new Uint8Array(offset + cdSize + 22);
  let q = 0;
  for (const part of [...parts, ...central, eocd]) {
    out.set(part, q);
    q += part.length;
  }
  return out;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE) as ZIP requires. */
function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
