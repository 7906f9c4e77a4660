/**
 * Reading `torch.save` files (the zip format of PyTorch ≥ 1.6) without Python: what EENet and MSDNet cache as
 * `logits_single.pth` — a tensor, or a list/tuple/dict of tensors ([K][N][C] outputs, a targets tensor).
 *
 * Layout of such a file: a ZIP archive with `<name>/data.pkl` (a pickle, protocol 2 by default), one member
 * `<name>/data/<key>` per tensor storage (raw little-endian elements), `<name>/version`, and in newer versions
 * `<name>/byteorder`. In the pickle a tensor is `torch._utils._rebuild_tensor_v2(storage, offset, size,
 * stride, requires_grad, backward_hooks[, metadata])`, where `storage` is a persistent id
 * `('storage', torch.FloatStorage, key, location, numel)` and `backward_hooks` an empty
 * `collections.OrderedDict()`.
 *
 * A pickle can name and call any Python callable, so it is never "run": this is a small restricted unpickler,
 * a stack machine over the opcodes protocols 2–4 use for plain data, that builds tensors and plain containers
 * (list, tuple, dict, str, int, float, bool, None) and nothing else. A GLOBAL other than the tensor rebuild,
 * `collections.OrderedDict` and the float32/float64/int64 storage types is rejected at once, naming it (a pickle
 * reaching for `os.system` fails with "posix.system" before anything could be called — and nothing ever is:
 * even the allowed names are markers interpreted here, not functions looked up).
 */
import { InputError } from './errors.ts';
import type { NpyArray } from './npy.ts';
import { zipMember, type ZipEntry } from './zip.ts';

/** Element types of the storages we read, by PyTorch storage class. */
const STORAGES: Record<string, { dtype: 'float32' | 'float64' | 'int64'; size: number }> = {
  FloatStorage: { dtype: 'float32', size: 4 },
  DoubleStorage: { dtype: 'float64', size: 8 },
  LongStorage: { dtype: 'int64', size: 8 },
};

/** Storage classes PyTorch has that we refuse, with the dtype they hold (for the error message). */
const OTHER_STORAGES: Record<string, string> = {
  HalfStorage: 'float16', BFloat16Storage: 'bfloat16', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8',
  ByteStorage: 'uint8', BoolStorage: 'bool', ComplexFloatStorage: 'complex64', ComplexDoubleStorage: 'complex128',
  QInt8Storage: 'qint8', QUInt8Storage: 'quint8', QInt32Storage: 'qint32',
};

/** A Python tuple (kept apart from lists only to report shapes; both are sequences here). */
class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** An allowed global, as a marker (never a function). */
class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
}

/** A storage named by a persistent id: which archive member holds it, its dtype and element count. */
class StorageRef {
  constructor(readonly key: string, readonly dtype: 'float32' | 'float64' | 'int64', readonly itemSize: number, readonly numel: number) {}
}

/** A tensor as the pickle describes it: a view (offset, shape, strides in elements) of a storage. */
export class TensorRef {
  constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: readonly number[], readonly stride: readonly number[]) {}
}

/** A value the restricted unpickler can produce. */
export type PyValue = null | boolean | number | string | PyValue[] | PyTuple | Map<string | number, PyValue> | PyGlobal | StorageRef | TensorRef;

const MARK = Symbol('mark');
type StackItem = PyValue | typeof MARK;

/** Whether a ZIP directory is a `torch.save` archive (it has a `…/data.pkl`). */
export function isPthArchive(entries: readonly ZipEntry[]): boolean {
  return entries.some((e) => e.name === 'data.pkl' || e.name.endsWith('/data.pkl'));
}

/** The decoded object of a `torch.save` archive, with what is needed to read its storages. */
export interface PthObject {
  readonly root: PyValue;
  readonly bytes: Uint8Array;
  readonly entries: readonly ZipEntry[];
  /** Archive prefix, e.g. `archive/` (storages are `<prefix>data/<key>`). */
  readonly prefix: string;
  readonly source: string;
  readonly littleEndian: boolean;
}

/**
 * Unpickle the `data.pkl` of a `torch.save` archive with the restricted unpickler (storages are not read).
 * @param entries the archive's directory (`zipDirectory`).
 * @param source the file, for error messages.
 * @throws InputError for a non-tensor global (named), an unsupported storage dtype or opcode, or a malformed
 *   pickle.
 */
export function pthObject(bytes: Uint8Array, entries: readonly ZipEntry[], source: string): PthObject {
  const pkl = entries.find((e) => e.name === 'data.pkl' || e.name.endsWith('/data.pkl'));
  if (!pkl) throw new InputError(source, 'data.pkl', 'a torch.save archive (PyTorch ≥ 1.6 zip format) with a data.pkl member', 'none');
  const prefix = pkl.name.slice(0, pkl.name.length - 'data.pkl'.length);
  const bo = entries.find((e) => e.name === `${prefix}byteorder`);
  let littleEndian = true;
  if (bo) {
    const text = new TextDecoder().decode(zipMember(bytes, bo)).trim();
    if (text !== 'little' && text !== 'big') throw new InputError(bo.source, 'byteorder', '"little" or "big"', JSON.stringify(text.slice(0, 20)));
    littleEndian = text === 'little';
  }
  const root = unpickle(zipMember(bytes, pkl), pkl.source);
  return { root, bytes, entries, prefix, source, littleEndian };
}

/**
 * The restricted unpickler: plain data, the tensor rebuild and nothing else. Iterative (no recursion), so a
 * deeply nested pickle cannot overflow the call stack.
 */
export function unpickle(data: Uint8Array, source: string): PyValue {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stack: StackItem[] = [];
  const memo = new Map<number, PyValue>();
  let p = 0;
  const bad = (expected: string, got: string): never => {
    throw new InputError(source, 'pickle', expected, got);
  };
  const need = (n: number): void => {
    if (p + n > data.length) bad('a complete pickle', `one truncated at byte ${data.length}`);
  };
  const pop = (): PyValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) bad('a well-formed pickle', `a stack underflow at byte ${p}`);
    return v as PyValue;
  };
  const popMark = (): PyValue[] => {
    const items: PyValue[] = [];
    for (;;) {
      const v = stack.pop();
      if (v === undefined) bad('a well-formed pickle', `a missing MARK at byte ${p}`);
      if (v === MARK) return items.reverse();
      items.push(v as PyValue);
    }
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) bad('a well-formed pickle', `an empty stack at byte ${p}`);
    return v as PyValue;
  };
  const readLine = (): string => {
    const end = data.indexOf(0x0a, p);
    if (end < 0) bad('a complete pickle', 'a GLOBAL without its newline');
    const s = new TextDecoder('latin1').decode(data.subarray(p, end));
    p = end + 1;
    return s;
  };
  const str = (n: number, enc: 'utf-8' | 'latin1'): string => {
    need(n);
    const s = new TextDecoder(enc).decode(data.subarray(p, p + n));
    p += n;
    return s;
  };
  const setItems = (d: PyValue, kv: PyValue[]): void => {
    if (!(d instanceof Map)) bad('SETITEM(S) on a dict', describeValue(d));
    for (let i = 0; i + 1 < kv.length; i += 2) {
      const k = kv[i];
      if (typeof k !== 'string' && typeof k !== 'number') bad('dict keys that are strings or integers', describeValue(k));
      (d as Map<string | number, PyValue>).set(k as string | number, kv[i + 1]);
    }
  };
  const appendTo = (l: PyValue, items: PyValue[]): void => {
    if (!Array.isArray(l)) bad('APPEND(S) on a list', describeValue(l));
    (l as PyValue[]).push(...items);
  };
  while (p < data.length) {
    const op = data[p++];
    switch (op) {
      case 0x80: // PROTO
        need(1);
        if (data[p] > 5) bad('pickle protocol ≤ 5', `protocol ${data[p]}`);
        p += 1;
        break;
      case 0x95: // FRAME (protocol 4): an 8-byte length, then ordinary opcodes
        need(8);
        p += 8;
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) bad('one object on the stack at STOP', `${stack.length}`);
        return pop();
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        need(4);
        stack.push(dv.getInt32(p, true));
        p += 4;
        break;
      case 0x4b: // BININT1
        need(1);
        stack.push(data[p]);
        p += 1;
        break;
      case 0x4d: // BININT2
        need(2);
        stack.push(dv.getUint16(p, true));
        p += 2;
        break;
      case 0x8a: { // LONG1: n-byte little-endian two's complement
        need(1);
        const n = data[p++];
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[p + i]);
        if (n > 0 && data[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) bad('integers within ±2^53', String(v));
        stack.push(Number(v));
        break;
      }
      case 0x47: // BINFLOAT (big-endian float64)
        need(8);
        stack.push(dv.getFloat64(p, false));
        p += 8;
        break;
      case 0x58: { // BINUNICODE
        need(4);
        const n = dv.getUint32(p, true);
        p += 4;
        stack.push(str(n, 'utf-8'));
        break;
      }
      case 0x8c: { // SHORT_BINUNICODE (protocol 4)
        need(1);
        const n = data[p++];
        stack.push(str(n, 'utf-8'));
        break;
      }
      case 0x55: { // SHORT_BINSTRING
        need(1);
        const n = data[p++];
        stack.push(str(n, 'latin1'));
        break;
      }
      case 0x54: { // BINSTRING
        need(4);
        const n = dv.getInt32(p, true);
        p += 4;
        if (n < 0) bad('a non-negative string length', String(n));
        stack.push(str(n, 'latin1'));
        break;
      }
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x85: // TUPLE1
        stack.push(new PyTuple([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b, c]));
        break;
      }
      case 0x74: // TUPLE
        stack.push(new PyTuple(popMark()));
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: { // APPEND
        const v = pop();
        appendTo(top(), [v]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendTo(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: { // DICT
        const d = new Map<string | number, PyValue>();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x71: // BINPUT
        need(1);
        memo.set(data[p++], top());
        break;
      case 0x72: // LONG_BINPUT
        need(4);
        memo.set(dv.getUint32(p, true), top());
        p += 4;
        break;
      case 0x94: // MEMOIZE (protocol 4)
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: { // LONG_BINGET
        let i: number;
        if (op === 0x68) {
          need(1);
          i = data[p++];
        } else {
          need(4);
          i = dv.getUint32(p, true);
          p += 4;
        }
        if (!memo.has(i)) bad('a memo reference to an earlier object', `memo ${i}`);
        stack.push(memo.get(i) as PyValue);
        break;
      }
      case 0x63: { // GLOBAL "module\nname\n"
        const module = readLine();
        const name = readLine();
        stack.push(allowedGlobal(module, name, source));
        break;
      }
      case 0x93: { // STACK_GLOBAL (protocol 4)
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') bad('STACK_GLOBAL of two strings', `${describeValue(module)}, ${describeValue(name)}`);
        stack.push(allowedGlobal(module as string, name as string, source));
        break;
      }
      case 0x51: { // BINPERSID: a storage
        stack.push(storageRef(pop(), source));
        break;
      }
      case 0x52: { // REDUCE: callable(*args) — only the allowed markers are callable
        const args = pop();
        const fn = pop();
        stack.push(reduce(fn, args, source));
        break;
      }
      case 0x62: // BUILD (state on an object): only an OrderedDict's empty state is plain data
        {
          const state = pop();
          const obj = top();
          if (!(obj instanceof Map) || !(state === null || (state instanceof Map && state.size === 0))) bad('BUILD only with empty state on a dict', describeValue(state));
        }
        break;
      default:
        bad(
          'a pickle of tensors and plain containers (protocol 2–4 data opcodes)',
          `opcode 0x${op.toString(16).padStart(2, '0')} (${JSON.stringify(String.fromCharCode(op))}) at byte ${p - 1}`,
        );
    }
  }
  return bad('a pickle ending in STOP', 'its end without one');
}

function allowedGlobal(module: string, name: string, source: string): PyGlobal {
  const full = `${module}.${name}`;
  if (full === 'torch._utils._rebuild_tensor_v2' || full === 'collections.OrderedDict') return new PyGlobal(module, name);
  if (module === 'torch' && (name in STORAGES || name in OTHER_STORAGES)) {
    if (name in OTHER_STORAGES) {
      throw new InputError(source, 'dtype', 'tensors of dtype float32, float64 or int64 (convert with .float(), .double() or .long())', `a ${full} (${OTHER_STORAGES[name]})`);
    }
    return new PyGlobal(module, name);
  }
  throw new InputError(
    source,
    'pickle',
    'only tensor rebuilds (torch._utils._rebuild_tensor_v2) and plain containers; exitlab never calls anything a pickle names',
    `a reference to ${full}`,
  );
}

function storageRef(pid: PyValue, source: string): StorageRef {
  // ('storage', storage_type, key, location, numel)
  const items = pid instanceof PyTuple ? pid.items : undefined;
  if (!items || items.length !== 5 || items[0] !== 'storage') {
    throw new InputError(source, 'pickle', "a persistent id ('storage', type, key, location, numel)", describeValue(pid));
  }
  const [, type, key, , numel] = items;
  if (!(type instanceof PyGlobal) || !(type.name in STORAGES)) throw new InputError(source, 'pickle', 'a storage type torch.FloatStorage, DoubleStorage or LongStorage', describeValue(type));
  if (typeof key !== 'string' || !/^[0-9A-Za-z_]+$/.test(key)) throw new InputError(source, 'pickle', 'a storage key (a plain name)', describeValue(key));
  if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) throw new InputError(source, 'pickle', 'a storage element count', describeValue(numel));
  const info = STORAGES[type.name];
  return new StorageRef(key, info.dtype, info.size, numel);
}

function intTuple(v: PyValue): number[] | undefined {
  if (!(v instanceof PyTuple)) return undefined;
  return v.items.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) ? (v.items as number[]) : undefined;
}

function reduce(fn: PyValue, args: PyValue, source: string): PyValue {
  if (!(fn instanceof PyGlobal)) throw new InputError(source, 'pickle', 'REDUCE of an allowed global', describeValue(fn));
  if (!(args instanceof PyTuple)) throw new InputError(source, 'pickle', 'REDUCE arguments as a tuple', describeValue(args));
  const a = args.items;
  if (fn.module === 'collections' && fn.name === 'OrderedDict') {
    // OrderedDict() — the empty backward-hooks dict of every tensor — or OrderedDict([(k, v), ...]).
    const d = new Map<string | number, PyValue>();
    if (a.length === 0) return d;
    const pairs = a[0];
    if (a.length === 1 && Array.isArray(pairs)) {
      for (const kv of pairs) {
        if (!(kv instanceof PyTuple) || kv.items.length !== 2 || (typeof kv.items[0] !== 'string' && typeof kv.items[0] !== 'number')) {
          throw new InputError(source, 'pickle', 'OrderedDict of (key, value) pairs', describeValue(kv));
        }
        d.set(kv.items[0] as string | number, kv.items[1]);
      }
      return d;
    }
    throw new InputError(source, 'pickle', 'OrderedDict() or OrderedDict([(key, value), ...])', `${a.length} arguments`);
  }
  if (fn.module === 'torch._utils' && fn.name === '_rebuild_tensor_v2') {
    // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    const [storage, offset, size, stride] = a;
    const shape = intTuple(size);
    const strides = intTuple(stride);
    if (a.length < 6 || !(storage instanceof StorageRef) || typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0 || !shape || !strides || shape.length !== strides.length) {
      throw new InputError(source, 'pickle', '_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)', `arguments ${a.map(describeValue).join(', ')}`);
    }
    // The view must lie inside its storage: last element at offset + Σ (size_i − 1)·stride_i.
    if (!shape.includes(0)) {
      const last = offset + shape.reduce((acc, d, i) => acc + (d - 1) * strides[i], 0);
      if (last >= storage.numel) throw new InputError(source, 'pickle', `a tensor view within its storage of ${storage.numel} elements`, `one reaching element ${last}`);
    }
    return new TensorRef(storage, offset, shape, strides);
  }
  throw new InputError(source, 'pickle', 'a call of the tensor rebuild or OrderedDict only', `a call of ${fn.module}.${fn.name}`);
}

function describeValue(v: PyValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (v instanceof TensorRef) return `a ${v.storage.dtype} tensor of shape (${v.shape.join(', ')})`;
  if (v instanceof StorageRef) return `a ${v.dtype} storage`;
  if (v instanceof PyGlobal) return `${v.module}.${v.name}`;
  if (v instanceof PyTuple) return `a tuple of ${v.items.length}`;
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (v instanceof Map) return `a dict with keys ${[...v.keys()].slice(0, 8).map((k) => JSON.stringify(k)).join(', ')}`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v);
  return String(v);
}

/** Read a tensor's elements into a C-order typed array (int64 as exact Float64Array values). */
function materialize(obj: PthObject, t: TensorRef, source: string): NpyArray {
  const { storage } = t;
  const member = obj.entries.find((e) => e.name === `${obj.prefix}data/${storage.key}`);
  if (!member) throw new InputError(source, `storage ${storage.key}`, `an archive member ${obj.prefix}data/${storage.key}`, 'none (truncated archive?)');
  const expected = storage.numel * storage.itemSize;
  if (member.size !== expected) {
    throw new InputError(member.source, 'data', `${expected} bytes for ${storage.numel} ${storage.dtype} elements`, `${member.size} bytes`);
  }
  const raw = zipMember(obj.bytes, member);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const count = t.shape.reduce((a, b) => a * b, 1);
  const out = storage.dtype === 'float32' ? new Float32Array(count) : new Float64Array(count);
  const le = obj.littleEndian;
  const rank = t.shape.length;
  const idx = new Array<number>(rank).fill(0);
  let src = t.offset;
  for (let i = 0; i < count; i++) {
    const at = src * storage.itemSize;
    if (storage.dtype === 'float32') out[i] = dv.getFloat32(at, le);
    else if (storage.dtype === 'float64') out[i] = dv.getFloat64(at, le);
    else {
      const v = dv.getBigInt64(at, le);
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new InputError(source, `data[${i}]`, 'an int64 value within ±2^53', String(v));
      out[i] = Number(v);
    }
    // Odometer over the shape, moving `src` by the strides (handles transposed and sliced views).
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      src += t.stride[d];
      if (idx[d] < t.shape[d]) break;
      src -= t.stride[d] * t.shape[d];
      idx[d] = 0;
    }
  }
  return { dtype: storage.dtype, shape: [...t.shape], data: out };
}

/**
 * The array at `key` inside a `torch.save` object: a tensor, or a list/tuple of tensors of one shape, stacked
 * along a new first axis (EENet's list of per-exit [N, C] tensors becomes [K, N, C]).
 * @param key path of list/tuple indices and dict keys separated by "/", e.g. "0", "logits", "val/1"; "" for the
 *   saved object itself.
 * @param source `file:key`, for error messages.
 * @throws InputError naming the path step that does not exist, or what was found if it is not tensors of one
 *   shape and one dtype.
 */
export function selectTensors(obj: PthObject, key: string, source: string): NpyArray {
  let v: PyValue = obj.root;
  const steps = key === '' ? [] : key.split('/');
  for (const [i, step] of steps.entries()) {
    const at = steps.slice(0, i).join('/') || '(the saved object)';
    if (Array.isArray(v) || v instanceof PyTuple) {
      const items: PyValue[] = Array.isArray(v) ? v : v.items;
      const j = Number(step);
      if (!Number.isInteger(j) || j < 0 || j >= items.length) throw new InputError(source, 'key', `an index 0..${items.length - 1} into ${at}`, JSON.stringify(step));
      v = items[j];
    } else if (v instanceof Map) {
      const m: Map<string | number, PyValue> = v;
      const k = m.has(step) ? step : m.has(Number(step)) ? Number(step) : undefined;
      if (k === undefined) throw new InputError(source, 'key', `one of the keys of ${at}: ${[...m.keys()].map((x) => JSON.stringify(x)).join(', ')}`, JSON.stringify(step));
      v = m.get(k) as PyValue;
    } else {
      throw new InputError(source, 'key', `a list, tuple or dict at ${at}`, describeValue(v));
    }
  }
  if (v instanceof TensorRef) return materialize(obj, v, source);
  const items = Array.isArray(v) ? v : v instanceof PyTuple ? v.items : undefined;
  if (!items || items.length === 0 || !items.every((x) => x instanceof TensorRef)) {
    throw new InputError(source, 'key', 'a tensor, or a list or tuple of tensors (stacked along a new first axis)', describeValue(v));
  }
  const ts = items as TensorRef[];
  const shape0 = ts[0].shape.join(', ');
  for (const [k, t] of ts.entries()) {
    if (t.shape.join(', ') !== shape0) throw new InputError(source, `[${k}]`, `the shape (${shape0}) of element 0 (stacked tensors must agree)`, `shape (${t.shape.join(', ')})`);
    if (t.storage.dtype !== ts[0].storage.dtype) throw new InputError(source, `[${k}]`, `the dtype ${ts[0].storage.dtype} of element 0`, t.storage.dtype);
  }
  const parts = ts.map((t, k) => materialize(obj, t, `${source}[${k}]`));
  const per = parts[0].data.length;
  const data = parts[0].data instanceof Float32Array ? new Float32Array(per * parts.length) : new Float64Array(per * parts.length);
  parts.forEach((a, k) => data.set(a.data, k * per));
  return { dtype: parts[0].dtype, shape: [parts.length, ...parts[0].shape], data };
}
