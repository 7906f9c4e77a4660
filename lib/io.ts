/**
 * Loading and writing traces: bare `.npy`/`.npz` arrays and the JSON manifest that points at them.
 *
 * Manifest format (`"format": "exitlab-trace/1"`), paths relative to the manifest's folder:
 * ```json
 * {
 *   "format": "exitlab-trace/1",
 *   "model": "fashion-mnist-cnn", "dataset": "fashion-mnist",
 *   "costMs": [0.21, 0.35, 0.52, 0.70],          // cumulative ms to each exit
 *   "flops": [1.2e5, 4.0e5, 9.1e5, 1.3e6],       // optional, cumulative
 *   "classNames": ["T-shirt/top", ...],          // optional
 *   "splits": {
 *     "validation": { "probs": "validation-probs.npy", "labels": "validation-labels.npy", "layout": "NKC" },
 *     "test": { "probs": { "file": "test.npz", "key": "probs" }, "labels": { "file": "test.npz", "key": "labels" }, "layout": "KNC" }
 *   },
 *   "metadata": { ... }                           // anything else: latency measurement, training log, machine
 * }
 * ```
 * `layout` is required: "NKC" ([sample][exit][class], exitlab's own) or "KNC" ([exit][sample][class], what the
 * EENet reference code stores). It is never guessed from the shape, because with N = K or K = C a guess would
 * silently transpose the data.
 *
 * A split gives its outputs as `"probs"` (softmax probabilities) or `"logits"` (pre-softmax), exactly one; with
 * logits every score is computed in float64 (see `lib/scores.ts`). An array reference is an `.npy` path, or
 * `{"file", "key"}` naming an `.npz` member or an object inside a `torch.save` file (`.pth`, see `lib/pth.ts`:
 * the key is a path of list indices / dict keys, "" for the whole file; a list of [N, C] tensors is stacked).
 * Unknown top-level and split fields are rejected, so a typo (`"flop"`) is an error rather than silently
 * dropping data.
 *
 * Files are read defensively: only regular files (a FIFO or `/dev/zero` is refused before it is opened for
 * reading), an `.npy` no longer than its header says, archive members only when a manifest names them.
 */
import { writeFileSync, mkdirSync, renameSync, statSync, lstatSync, openSync, fstatSync, readSync, closeSync, constants as fsConstants, type Stats } from 'node:fs';
import { dirname, resolve, join } from 'node:path';
import { InputError, describe } from './errors.ts';
import { encodeNpy, parseNpy, parseNpyHeader, type NpyArray } from './npy.ts';
import { npyMember } from './npz.ts';
import { pthObject, selectTensors, isPthArchive } from './pth.ts';
import { zipDirectory } from './zip.ts';
import { ExitTrace, type ExitTraceInit } from './trace.ts';

/** Axis order of a probability array on disk. */
export type ProbsLayout = 'NKC' | 'KNC';

/** Manifest format identifier; bump on incompatible changes. */
export const MANIFEST_FORMAT = 'exitlab-trace/1';

/** A reference to an array on disk: an `.npy` path, or a member of an `.npz` archive. */
export type ArrayRef = string | { readonly file: string; readonly key: string };

/** One split's arrays in a manifest: `probs` or `logits` (exactly one), `labels`, `layout`. */
export interface SplitEntry {
  /** Probabilities, shape [N,K,C] or [K,N,C] per `layout`; float32 or float64. */
  readonly probs?: ArrayRef;
  /** Logits (pre-softmax outputs), same shapes and dtypes as `probs`. */
  readonly logits?: ArrayRef;
  /** Labels, shape [N]; int32 or int64 (float arrays holding integers are accepted too). */
  readonly labels: ArrayRef;
  /** Axis order of `probs`. */
  readonly layout: ProbsLayout;
}

/** The parsed JSON manifest. */
export interface TraceManifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly model: string;
  readonly dataset: string;
  /** Cumulative cost to each exit, milliseconds. */
  readonly costMs: readonly number[];
  /** Cumulative FLOPs to each exit, optional. */
  readonly flops?: readonly number[];
  readonly classNames?: readonly string[];
  readonly splits: Readonly<Record<string, SplitEntry>>;
  /** Free-form provenance (how costs were measured, training settings, machine). Carried, never interpreted. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** Known top-level manifest fields; anything else is rejected. */
export const MANIFEST_FIELDS = ['format', 'model', 'dataset', 'costMs', 'flops', 'classNames', 'splits', 'metadata'] as const;
/** Known fields of a split entry. */
export const SPLIT_FIELDS = ['probs', 'logits', 'labels', 'layout'] as const;

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/** Options of `readRegularFile`. */
export interface ReadFileOptions {
  /** Refuse a symbolic link instead of following it (default: follow). */
  readonly noFollow?: boolean;
}

/**
 * Open a regular file for reading, refusing anything else before reading a byte: a FIFO would block or
 * stream forever and `/dev/zero` never ends. Opened non-blocking, and checked again on the open descriptor.
 * @returns the descriptor and the file's size in bytes.
 */
function openRegular(path: string, field: string, options: ReadFileOptions): { fd: number; size: number } {
  let st: Stats;
  try {
    st = options.noFollow ? lstatSync(path) : statSync(path);
  } catch (err) {
    throw new InputError(path, field, 'a readable file', (err as NodeJS.ErrnoException).code ?? String(err));
  }
  if (st.isSymbolicLink()) throw new InputError(path, field, 'a regular file (symbolic links are not followed here)', 'a symbolic link');
  if (!st.isFile()) throw new InputError(path, field, 'a regular file', kindOf(st));
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | (options.noFollow ? fsConstants.O_NOFOLLOW : 0));
  } catch (err) {
    throw new InputError(path, field, 'a readable regular file', (err as NodeJS.ErrnoException).code ?? String(err));
  }
  const fst = fstatSync(fd);
  if (!fst.isFile()) {
    closeSync(fd);
    throw new InputError(path, field, 'a regular file', kindOf(fst));
  }
  return { fd, size: fst.size };
}

/** Read exactly `length` bytes at `position`, or fewer if the file ends first. */
function readAt(fd: number, length: number, position: number): Uint8Array {
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/**
 * Read a whole regular file (not a FIFO, device, directory; with `noFollow`, not a symbolic link), reading no
 * more than the size it had when opened.
 * @throws InputError naming the file and what it is instead.
 */
export function readRegularFile(path: string, field: string, options: ReadFileOptions = {}): Uint8Array {
  const { fd, size } = openRegular(path, field, options);
  try {
    return readAt(fd, size, 0);
  } finally {
    closeSync(fd);
  }
}

/**
 * Read and decode an `.npy` file, reading its header first: a file whose size differs from what the header's
 * shape and dtype require is rejected before its payload is read.
 */
export function readNpyFile(path: string, field: string): NpyArray {
  const { fd, size } = openRegular(path, field, {});
  try {
    const lead = readAt(fd, Math.min(size, 12), 0);
    const v = lead.length >= 12 ? lead[6] : 0;
    const dv = new DataView(lead.buffer, lead.byteOffset, lead.byteLength);
    const headerEnd = v === 1 ? 10 + dv.getUint16(8, true) : v === 2 || v === 3 ? 12 + dv.getUint32(8, true) : lead.length;
    const header = parseNpyHeader(readAt(fd, Math.min(size, headerEnd), 0), path);
    const expected = header.dataStart + header.payloadBytes;
    if (size !== expected) {
      throw new InputError(path, 'data', `${header.payloadBytes} bytes of ${header.dtype} for shape (${header.shape.join(', ')})`, `${size - header.dataStart} bytes${size < expected ? ' (truncated file)' : ''}`);
    }
    return parseNpy(readAt(fd, size, 0), path);
  } finally {
    closeSync(fd);
  }
}

/** Archives read during one `loadTrace` (an `.npz` or `.pth` often holds both outputs and labels). */
const archiveCache = new Map<string, Uint8Array>();

function archiveBytes(path: string, field: string): Uint8Array {
  let bytes = archiveCache.get(path);
  if (!bytes) {
    bytes = readRegularFile(path, field);
    archiveCache.set(path, bytes);
  }
  return bytes;
}

/**
 * Load one array referenced from a manifest (or given directly).
 * @param ref an `.npy` path, or `{file, key}` into an `.npz` (member name) or a `.pth` (object path).
 * @param baseDir folder relative paths are resolved against.
 * @param field manifest field name, for error messages.
 */
export function loadArray(ref: ArrayRef, baseDir: string, field: string): NpyArray {
  if (typeof ref === 'string') {
    const path = resolve(baseDir, ref);
    if (path.endsWith('.npz') || path.endsWith('.pth') || path.endsWith('.pt')) {
      throw new InputError(path, field, 'an .npy file, or {"file": "x.npz" or "x.pth", "key": "..."} for an archive member', JSON.stringify(ref));
    }
    return readNpyFile(path, field);
  }
  if (typeof ref !== 'object' || ref === null || typeof ref.file !== 'string' || typeof ref.key !== 'string') {
    throw new InputError(baseDir, field, 'a path string or {"file": "...npz" or "...pth", "key": "..."}', describe(ref));
  }
  const path = resolve(baseDir, ref.file);
  const bytes = archiveBytes(path, field);
  const entries = zipDirectory(bytes, path);
  if (isPthArchive(entries)) return selectTensors(pthObject(bytes, entries, path), ref.key, `${path}:${ref.key}`);
  const entry = entries.find((e) => e.name === `${ref.key}.npy`);
  if (!entry) {
    const keys = entries.filter((e) => e.name.endsWith('.npy')).map((e) => e.name.slice(0, -4));
    throw new InputError(path, `${field}.key`, `one of the archive's arrays: ${keys.join(', ')}`, JSON.stringify(ref.key));
  }
  return npyMember(bytes, entry);
}

/**
 * Convert loaded arrays into an `ExitTrace`, transposing KNC to NKC when told so.
 * Give `probs` (probabilities) or `logits`, exactly one, with shape [N,K,C] (layout "NKC") or [K,N,C] ("KNC").
 * @param labels labels with shape [N].
 */
export function traceFromArrays(
  options: Pick<ExitTraceInit, 'costMs' | 'flops' | 'classNames' | 'provenance'> & {
    readonly probs?: NpyArray;
    readonly logits?: NpyArray;
    readonly labels: NpyArray;
    readonly layout: ProbsLayout;
    /** Name used in error messages for the probs or logits array (its file). */
    readonly probsSource?: string;
    /** Name used in error messages for the labels array (its file). */
    readonly labelsSource?: string;
    /** Name used in error messages for costMs, flops and classNames (the manifest). */
    readonly metaSource?: string;
  },
): ExitTrace {
  const { labels, layout } = options;
  const kind = options.logits !== undefined ? 'logits' : 'probs';
  if ((options.probs === undefined) === (options.logits === undefined)) {
    throw new InputError(options.probsSource ?? 'traceFromArrays', 'probs, logits', 'exactly one of probs or logits', options.probs === undefined ? 'neither' : 'both');
  }
  const probs = (options.logits ?? options.probs) as NpyArray;
  const ps = options.probsSource ?? kind;
  const ls = options.labelsSource ?? 'labels';
  if (layout !== 'NKC' && layout !== 'KNC') throw new InputError(ps, 'layout', '"NKC" ([sample][exit][class]) or "KNC" ([exit][sample][class])', describe(layout));
  if (probs.shape.length !== 3) {
    throw new InputError(ps, 'shape', `3 axes in ${layout === 'NKC' ? '[N, K, C]' : '[K, N, C]'} order`, `(${probs.shape.join(', ')})`);
  }
  if (probs.dtype !== 'float32' && probs.dtype !== 'float64') throw new InputError(ps, 'dtype', `float32 or float64 ${kind}`, probs.dtype);
  const [a, b, C] = probs.shape;
  const [N, K] = layout === 'NKC' ? [a, b] : [b, a];
  // Probabilities are stored as float32 (the trace's type); logits keep their precision (float64 stays float64).
  const keep64 = kind === 'logits' && probs.data instanceof Float64Array;
  let data: Float32Array | Float64Array;
  if (layout === 'NKC') {
    data = probs.data instanceof Float32Array || keep64 ? (probs.data as Float32Array | Float64Array) : Float32Array.from(probs.data);
  } else {
    data = keep64 ? new Float64Array(N * K * C) : new Float32Array(N * K * C);
    const src = probs.data;
    for (let k = 0; k < K; k++) {
      for (let n = 0; n < N; n++) {
        const from = (k * N + n) * C;
        const to = (n * K + k) * C;
        for (let c = 0; c < C; c++) data[to + c] = src[from + c];
      }
    }
  }
  if (labels.shape.length !== 1) throw new InputError(ls, 'shape', `one axis [N] = [${N}]`, `(${labels.shape.join(', ')})`);
  if (labels.shape[0] !== N) throw new InputError(ls, 'shape', `[N] = [${N}] to match ${kind}`, `(${labels.shape.join(', ')})`);
  const lab = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    const y = labels.data[n];
    // Range-checked before narrowing to int32, so an int64 label like 2^32 + 1 cannot wrap into a valid class.
    if (!Number.isInteger(y) || y < 0 || y >= C) throw new InputError(ls, `labels[${n}]`, `an integer class index in [0, ${C - 1}]`, String(y));
    lab[n] = y;
  }
  return new ExitTrace(
    {
      nSamples: N,
      nExits: K,
      nClasses: C,
      ...(kind === 'logits' ? { logits: data } : { probs: data as Float32Array }),
      labels: lab,
      costMs: options.costMs,
      flops: options.flops,
      classNames: options.classNames,
      provenance: options.provenance,
    },
    ps,
    options.metaSource,
  );
}

/**
 * Parse and check a manifest's JSON (not its arrays).
 * @param path the manifest file, for error messages.
 */
export function parseManifest(text: string, path: string): TraceManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InputError(path, 'JSON', 'a valid JSON manifest', (err as Error).message);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputError(path, '(root)', 'a JSON object', describe(raw));
  const m = raw as Record<string, unknown>;
  for (const key of Object.keys(m)) {
    if (!(MANIFEST_FIELDS as readonly string[]).includes(key)) {
      throw new InputError(path, key, `one of the manifest fields ${MANIFEST_FIELDS.join(', ')} (free-form data goes under "metadata")`, `an unknown field ${JSON.stringify(key)}`);
    }
  }
  if (m.format !== MANIFEST_FORMAT) throw new InputError(path, 'format', JSON.stringify(MANIFEST_FORMAT), describe(m.format));
  for (const key of ['model', 'dataset'] as const) {
    if (typeof m[key] !== 'string' || (m[key] as string).length === 0) throw new InputError(path, key, 'a non-empty string', describe(m[key]));
  }
  if (!Array.isArray(m.costMs)) throw new InputError(path, 'costMs', 'an array of cumulative per-exit costs in milliseconds', describe(m.costMs));
  if (m.flops !== undefined && !Array.isArray(m.flops)) throw new InputError(path, 'flops', 'an array of cumulative per-exit FLOPs', describe(m.flops));
  if (m.classNames !== undefined && !Array.isArray(m.classNames)) throw new InputError(path, 'classNames', 'an array of strings', describe(m.classNames));
  if (typeof m.splits !== 'object' || m.splits === null || Array.isArray(m.splits) || Object.keys(m.splits).length === 0) {
    throw new InputError(path, 'splits', 'an object mapping split names to {probs, labels, layout}', describe(m.splits));
  }
  for (const [name, s] of Object.entries(m.splits as Record<string, unknown>)) {
    if (typeof s !== 'object' || s === null) throw new InputError(path, `splits.${name}`, '{probs, labels, layout}', describe(s));
    const e = s as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if (!(SPLIT_FIELDS as readonly string[]).includes(key)) {
        throw new InputError(path, `splits.${name}.${key}`, `one of the split fields ${SPLIT_FIELDS.join(', ')}`, `an unknown field ${JSON.stringify(key)}`);
      }
    }
    if (e.layout !== 'NKC' && e.layout !== 'KNC') {
      throw new InputError(path, `splits.${name}.layout`, '"NKC" ([sample][exit][class]) or "KNC" ([exit][sample][class]); it is never guessed', describe(e.layout));
    }
    if ((e.probs === undefined) === (e.logits === undefined)) {
      throw new InputError(path, `splits.${name}`, 'exactly one of "probs" (softmax outputs) or "logits"', e.probs === undefined ? 'neither' : 'both');
    }
    if (e.labels === undefined) throw new InputError(path, `splits.${name}.labels`, 'an .npy path or {"file", "key"}', 'nothing');
  }
  if (m.metadata !== undefined && (typeof m.metadata !== 'object' || m.metadata === null)) {
    throw new InputError(path, 'metadata', 'an object', describe(m.metadata));
  }
  return m as unknown as TraceManifest;
}

/** Read a manifest file. */
export function readManifest(path: string): TraceManifest {
  return parseManifest(new TextDecoder().decode(readRegularFile(path, 'manifest')), path);
}

/**
 * Load one split of a manifest as an `ExitTrace`.
 * @param manifestPath path of the manifest JSON.
 * @param split split name, e.g. "validation" or "test".
 */
export function loadTrace(manifestPath: string, split: string): ExitTrace {
  const manifest = readManifest(manifestPath);
  const entry = manifest.splits[split];
  if (!entry) throw new InputError(manifestPath, 'splits', `a split named ${JSON.stringify(split)}; this manifest has ${Object.keys(manifest.splits).join(', ')}`);
  const base = dirname(resolve(manifestPath));
  archiveCache.clear();
  try {
    const refName = (r: ArrayRef): string => (typeof r === 'string' ? resolve(base, r) : `${resolve(base, r.file)}:${r.key}`);
    const outputs = (entry.logits ?? entry.probs) as ArrayRef;
    const kind = entry.logits !== undefined ? 'logits' : 'probs';
    return traceFromArrays({
      [kind]: loadArray(outputs, base, `splits.${split}.${kind}`),
      labels: loadArray(entry.labels, base, `splits.${split}.labels`),
      layout: entry.layout,
      costMs: manifest.costMs,
      flops: manifest.flops,
      classNames: manifest.classNames,
      provenance: { model: manifest.model, dataset: manifest.dataset, split },
      probsSource: refName(outputs),
      labelsSource: refName(entry.labels),
      metaSource: resolve(manifestPath),
    });
  } finally {
    archiveCache.clear();
  }
}

/**
 * Write traces (one per split, all from the same model) as a manifest plus `.npy` files
 * `<split>-probs.npy` (float32 [N,K,C]) or, for traces built from logits, `<split>-logits.npy` (their own
 * dtype, [N,K,C]), and `<split>-labels.npy` (int32 [N]) in `dir`.
 * Files are written to a temporary name and renamed, so an interrupted write never leaves a half file under
 * the final name.
 * @param metadata free-form provenance stored under `metadata` (e.g. how `costMs` was measured).
 * @returns the manifest's path.
 */
export function writeTraceManifest(
  dir: string,
  traces: Readonly<Record<string, ExitTrace>>,
  metadata?: Readonly<Record<string, unknown>>,
): string {
  const splits = Object.entries(traces);
  if (splits.length === 0) throw new InputError('writeTraceManifest', 'traces', 'at least one split');
  const first = splits[0][1];
  for (const [name, t] of splits) {
    if (t.nExits !== first.nExits || t.nClasses !== first.nClasses || t.costMs.some((c, k) => c !== first.costMs[k])) {
      throw new InputError('writeTraceManifest', `traces.${name}`, 'the same K, C and costs as the other splits (one model)');
    }
  }
  mkdirSync(dir, { recursive: true });
  const entries: Record<string, SplitEntry> = {};
  for (const [name, t] of splits) {
    const kind = t.logits ? 'logits' : 'probs';
    atomicWrite(join(dir, `${name}-${kind}.npy`), encodeNpy(t.logits ?? t.probs, [t.nSamples, t.nExits, t.nClasses]));
    atomicWrite(join(dir, `${name}-labels.npy`), encodeNpy(t.labels, [t.nSamples]));
    entries[name] = { [kind]: `${name}-${kind}.npy`, labels: `${name}-labels.npy`, layout: 'NKC' };
  }
  const manifest: TraceManifest = {
    format: MANIFEST_FORMAT,
    model: first.provenance.model,
    dataset: first.provenance.dataset,
    costMs: first.costMs,
    ...(first.flops ? { flops: first.flops } : {}),
    classNames: first.classNames,
    splits: entries,
    ...(metadata ? { metadata } : {}),
  };
  const path = join(dir, 'manifest.json');
  atomicWrite(path, new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n'));
  return path;
}

/** Write a file via a temporary sibling and a rename, so readers never see a partial file. */
export function atomicWrite(path: string, bytes: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}
