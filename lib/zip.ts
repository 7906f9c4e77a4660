/**
 * Reading ZIP archives the way `.npz` (numpy) and `.pth` (PyTorch ≥ 1.6) files use them: a central directory
 * listing members, each stored or deflated. Members are inflated one at a time, on request, and never past the
 * size the directory declares (`maxOutputLength`), so an archive cannot make us allocate more than it admits
 * to — a small file with a huge member (a "zip bomb") costs nothing unless that member is asked for, and then
 * fails at its declared size. Supported: stored or deflated members, ZIP64 sizes; no encryption, no multi-disk.
 */
import { inflateRawSync, constants as zlibConstants } from 'node:zlib';
import { InputError } from './errors.ts';

const EOCD_SIG = 0x06054b50;
const ZIP64_EOCD_LOC_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CEN_SIG = 0x02014b50;
const LOC_SIG = 0x04034b50;

/** One member of an archive, as its central directory entry describes it. */
export interface ZipEntry {
  /** Path inside the archive. */
  readonly name: string;
  /** 0 = stored, 8 = deflate. */
  readonly method: number;
  /** Bytes of (compressed) member data in the archive. */
  readonly compressedSize: number;
  /** Declared uncompressed size, bytes. */
  readonly size: number;
  /** Offset of the member data in the archive (after its local header). */
  readonly dataStart: number;
  /** `archive:member`, for error messages. */
  readonly source: string;
}

/**
 * Read an archive's central directory (no member is inflated).
 * @param source the archive's name for error messages.
 * @throws InputError for a missing end-of-directory record (truncated or not a zip), entries or member data
 *   running past the end of the file, encryption, or a bad local header.
 */
export function zipDirectory(bytes: Uint8Array, source: string): ZipEntry[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The end-of-central-directory record sits in the last 22 + 65535 bytes (its comment is at most 64 KiB).
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new InputError(source, 'zip', 'a ZIP archive with an end-of-central-directory record', 'none found (truncated or not a zip)');
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
  const out: ZipEntry[] = [];
  let p = cdOffset;
  for (let e = 0; e < entries; e++) {
    if (p + 46 > bytes.length || dv.getUint32(p, true) !== CEN_SIG) {
      throw new InputError(source, 'zip', 'a central directory entry', `bad data at byte ${p} (truncated archive?)`);
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
      throw new InputError(member, 'zip', 'a local file header', `bad data at byte ${localOffset} (truncated archive?)`);
    }
    const start = localOffset + 30 + dv.getUint16(localOffset + 26, true) + dv.getUint16(localOffset + 28, true);
    if (start + compSize > bytes.length) throw new InputError(member, 'zip', `${compSize} bytes of member data`, 'a truncated archive');
    if (method !== 0 && method !== 8) throw new InputError(member, 'zip', 'compression method 0 (stored) or 8 (deflate)', `method ${method}`);
    if (method === 0 && compSize !== size) throw new InputError(member, 'zip', `a stored member of ${size} bytes as declared`, `${compSize} bytes`);
    out.push({ name, method, compressedSize: compSize, size, dataStart: start, source: member });
  }
  return out;
}

/**
 * The first bytes of a member, at least `atLeast` of them when the member has that many (fewer otherwise):
 * enough to read a header before deciding whether to inflate the rest. A deflate prefix expands at most
 * about 1032-fold, so a bounded slice of compressed input bounds the output too.
 */
export function zipMemberPrefix(bytes: Uint8Array, entry: ZipEntry, atLeast: number): Uint8Array {
  const raw = bytes.subarray(entry.dataStart, entry.dataStart + entry.compressedSize);
  if (entry.method === 0) return raw.subarray(0, Math.min(raw.length, atLeast));
  for (let take = Math.min(raw.length, 4096); ; take = Math.min(raw.length, take * 4)) {
    let out: Uint8Array;
    try {
      // Z_SYNC_FLUSH: return what a truncated stream decodes to instead of failing on its missing end.
      out = new Uint8Array(inflateRawSync(raw.subarray(0, take), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: Math.max(entry.size, 1) }));
    } catch (err) {
      throw inflateError(entry, err);
    }
    if (out.length >= atLeast || take === raw.length) return out.subarray(0, Math.min(out.length, atLeast));
  }
}

/**
 * Inflate (or slice, if stored) one member, never producing more than its declared size.
 * @throws InputError if the data is not valid deflate, inflates past the declared size, or to fewer bytes.
 */
export function zipMember(bytes: Uint8Array, entry: ZipEntry): Uint8Array {
  const raw = bytes.subarray(entry.dataStart, entry.dataStart + entry.compressedSize);
  if (entry.method === 0) return raw;
  let data: Uint8Array;
  try {
    data = new Uint8Array(inflateRawSync(raw, { maxOutputLength: Math.max(entry.size, 1) }));
  } catch (err) {
    throw inflateError(entry, err);
  }
  if (data.length !== entry.size) throw new InputError(entry.source, 'zip', `${entry.size} uncompressed bytes as declared`, `${data.length}`);
  return data;
}

function inflateError(entry: ZipEntry, err: unknown): InputError {
  const tooLarge = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
  return new InputError(entry.source, 'zip', `deflate data inflating to the declared ${entry.size} bytes`, tooLarge ? 'more (a zip bomb?)' : (err as Error).message);
}
