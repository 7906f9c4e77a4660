/**
 * Reading and writing NumPy `.npz` archives: ZIP files whose members are `.npy` arrays, written by
 * `np.savez` (stored) or `np.savez_compressed` (deflate). Only what numpy writes is supported: stored or
 * deflated members, ZIP64 sizes, no encryption, no multi-disk archives.
 */
import { inflateRawSync } from 'node:zlib';
import { InputError } from './errors.ts';
import { encodeNpy, parseNpy, type NpyArray, type NpyData, type NpyDtype } from './npy.ts';

const EOCD_SIG = 0x06054b50;
const ZIP64_EOCD_LOC_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CEN_SIG = 0x02014b50;
const LOC_SIG = 0x04034b50;

/**
 * Decode every member of an `.npz` archive.
 * @param bytes the whole archive.
 * @param source file name for error messages.
 * @returns a map from array name (member name without `.npy`) to the decoded array.
 */
export function parseNpz(bytes: Uint8Array, source: string): Map<string, NpyArray> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The end-of-central-directory record sits in the last 22 + 65535 bytes (its comment is at most 64 KiB).
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new InputError(source, 'zip', 'an .npz (ZIP) archive with an end-of-central-directory record', 'none found (truncated or not a zip)');
  let entries = dv.getUint16(eocd + 10, true);
  let cdOffset = dv.getUint32(eocd + 16, true);
  if (entries === 0xffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== ZIP64_EOCD_LOC_SIG) {
      throw new InputError(source, 'zip64', 'a ZIP64 end-of-central-directory locator', 'none found');
    }
    const z64 = Number(dv.getBigUint64(loc + 8, true));
    if (z64 + 56 > bytes.length || dv.getUint32(z64, true) !== ZIP64_EOCD_SIG) {
      throw new InputError(source, 'zip64', 'a ZIP64 end-of-central-directory record', 'a bad offset');
    }
    entries = Number(dv.getBigUint64(z64 + 32, true));
    cdOffset = Number(dv.getBigUint64(z64 + 48, true));
  }
  const out = new Map<string, NpyArray>();
  let p = cdOffset;
  for (let e = 0; e < entries; e++) {
    if (p + 46 > bytes.length || dv.getUint32(p, true) !== CEN_SIG) {
      throw new InputError(source, 'zip', 'a central directory entry', `bad data at byte ${p}`);
    }
    const flags = dv.getUint16(p + 8, true);
    const method = dv.getUint16(p + 10, true);
    let compSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let localOffset = dv.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen + commentLen > bytes.length) {
      throw new InputError(source, 'zip', 'a central directory entry within the file', `an entry at byte ${p} running past its end`);
    }
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extended information: the 64-bit values appear in this order, only for fields that are 0xffffffff.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = dv.getUint16(x, true);
      const len = dv.getUint16(x + 2, true);
      if (x + 4 + len > xEnd) throw new InputError(source, 'zip', 'extra fields within their entry', `a field at byte ${x} running past it`);
      if (id === 0x0001) {
        let q = x + 4;
        // Each 64-bit value present must fit in the field's own length.
        const need = 8 * [size, compSize, localOffset].filter((v) => v === 0xffffffff).length;
        if (need > len) throw new InputError(source, 'zip', `a ZIP64 extra field of ≥ ${need} bytes`, `${len} bytes`);
        if (size === 0xffffffff) { size = Number(dv.getBigUint64(q, true)); q += 8; }
        if (compSize === 0xffffffff) { compSize = Number(dv.getBigUint64(q, true)); q += 8; }
        if (localOffset === 0xffffffff) { localOffset = Number(dv.getBigUint64(q, true)); }
      }
      x += 4 + len;
    }
    p = xEnd + commentLen;
    const member = `${source}:${name}`;
    if (flags & 1) throw new InputError(member, 'zip', 'an unencrypted member', 'an encrypted one');
    if (localOffset + 30 > bytes.length || dv.getUint32(localOffset, true) !== LOC_SIG) {
      throw new InputError(member, 'zip', 'a local file header', `bad data at byte ${localOffset}`);
    }
    const start = localOffset + 30 + dv.getUint16(localOffset + 26, true) + dv.getUint16(localOffset + 28, true);
    if (start + compSize > bytes.length) throw new InputError(member, 'zip', `${compSize} bytes of member data`, 'a truncated archive');
    const raw = bytes.subarray(start, start + compSize);
    let data: Uint8Array;
    if (method === 0) data = raw;
    else if (method === 8) {
      try {
        data = new Uint8Array(inflateRawSync(raw));
      } catch (err) {
        throw new InputError(member, 'zip', 'valid deflate data', (err as Error).message);
      }
    } else throw new InputError(member, 'zip', 'compression method 0 (stored) or 8 (deflate)', `method ${method}`);
    if (data.length !== size) throw new InputError(member, 'zip', `${size} uncompressed bytes`, `${data.length}`);
    if (!name.endsWith('.npy')) continue; // numpy only writes .npy members; ignore anything else
    out.set(name.slice(0, -4), parseNpy(data, member));
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
