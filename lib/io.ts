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
 */
import { readFileSync, writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, resolve, join } from 'node:path';
import { InputError, describe } from './errors.ts';
import { encodeNpy, parseNpy, type NpyArray } from './npy.ts';
import { parseNpz } from './npz.ts';
import { ExitTrace, type ExitTraceInit } from './trace.ts';

/** Axis order of a probability array on disk. */
export type ProbsLayout = 'NKC' | 'KNC';

/** Manifest format identifier; bump on incompatible changes. */
export const MANIFEST_FORMAT = 'exitlab-trace/1';

/** A reference to an array on disk: an `.npy` path, or a member of an `.npz` archive. */
export type ArrayRef = string | { readonly file: string; readonly key: string };

/** One split's arrays in a manifest. */
export interface SplitEntry {
  /** Probabilities, shape [N,K,C] or [K,N,C] per `layout`; float32 or float64. */
  readonly probs: ArrayRef;
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

/** Read a file, turning a missing file into an `InputError` that names it. */
function readBytes(path: string, field: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (err) {
    throw new InputError(path, field, 'a readable file', (err as NodeJS.ErrnoException).code ?? String(err));
  }
}

const npzCache = new Map<string, Map<string, NpyArray>>();

/**
 * Load one array referenced from a manifest (or given directly).
 * @param ref an `.npy` path or `{file, key}` into an `.npz`.
 * @param baseDir folder relative paths are resolved against.
 * @param field manifest field name, for error messages.
 */
export function loadArray(ref: ArrayRef, baseDir: string, field: string): NpyArray {
  if (typeof ref === 'string') {
    const path = resolve(baseDir, ref);
    if (path.endsWith('.npz')) throw new InputError(path, field, 'an .npy file, or {"file": "x.npz", "key": "name"} for an .npz member', JSON.stringify(ref));
    return parseNpy(readBytes(path, field), path);
  }
  if (typeof ref !== 'object' || ref === null || typeof ref.file !== 'string' || typeof ref.key !== 'string') {
    throw new InputError(baseDir, field, 'a path string or {"file": "...npz", "key": "..."}', describe(ref));
  }
  const path = resolve(baseDir, ref.file);
  // One .npz often holds both probs and labels: parse it once per load call sequence.
  let members = npzCache.get(path);
  if (!members) {
    members = parseNpz(readBytes(path, field), path);
    npzCache.set(path, members);
  }
  const arr = members.get(ref.key);
  if (!arr) throw new InputError(path, `${field}.key`, `one of the archive's arrays: ${[...members.keys()].join(', ')}`, JSON.stringify(ref.key));
  return arr;
}

/**
 * Convert loaded arrays into an `ExitTrace`, transposing KNC to NKC when told so.
 * @param probs probabilities with shape [N,K,C] (layout "NKC") or [K,N,C] (layout "KNC").
 * @param labels labels with shape [N].
 */
export function traceFromArrays(
  options: Pick<ExitTraceInit, 'costMs' | 'flops' | 'classNames' | 'provenance'> & {
    readonly probs: NpyArray;
    readonly labels: NpyArray;
    readonly layout: ProbsLayout;
    /** Name used in error messages for the probs array (its file). */
    readonly probsSource?: string;
    /** Name used in error messages for the labels array (its file). */
    readonly labelsSource?: string;
  },
): ExitTrace {
  const { probs, labels, layout } = options;
  const ps = options.probsSource ?? 'probs';
  const ls = options.labelsSource ?? 'labels';
  if (layout !== 'NKC' && layout !== 'KNC') throw new InputError(ps, 'layout', '"NKC" ([sample][exit][class]) or "KNC" ([exit][sample][class])', describe(layout));
  if (probs.shape.length !== 3) {
    throw new InputError(ps, 'shape', `3 axes in ${layout === 'NKC' ? '[N, K, C]' : '[K, N, C]'} order`, `(${probs.shape.join(', ')})`);
  }
  if (probs.dtype !== 'float32' && probs.dtype !== 'float64') throw new InputError(ps, 'dtype', 'float32 or float64 probabilities', probs.dtype);
  const [a, b, C] = probs.shape;
  const [N, K] = layout === 'NKC' ? [a, b] : [b, a];
  let data: Float32Array;
  if (layout === 'NKC') {
    data = probs.data instanceof Float32Array ? probs.data : Float32Array.from(probs.data);
  } else {
    data = new Float32Array(N * K * C);
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
  if (labels.shape[0] !== N) throw new InputError(ls, 'shape', `[N] = [${N}] to match probs`, `(${labels.shape.join(', ')})`);
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
      probs: data,
      labels: lab,
      costMs: options.costMs,
      flops: options.flops,
      classNames: options.classNames,
      provenance: options.provenance,
    },
    ps,
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
    if (e.layout !== 'NKC' && e.layout !== 'KNC') {
      throw new InputError(path, `splits.${name}.layout`, '"NKC" ([sample][exit][class]) or "KNC" ([exit][sample][class]); it is never guessed', describe(e.layout));
    }
    for (const f of ['probs', 'labels'] as const) {
      if (e[f] === undefined) throw new InputError(path, `splits.${name}.${f}`, 'an .npy path or {"file", "key"}', 'nothing');
    }
  }
  if (m.metadata !== undefined && (typeof m.metadata !== 'object' || m.metadata === null)) {
    throw new InputError(path, 'metadata', 'an object', describe(m.metadata));
  }
  return m as unknown as TraceManifest;
}

/** Read a manifest file. */
export function readManifest(path: string): TraceManifest {
  return parseManifest(new TextDecoder().decode(readBytes(path, 'manifest')), path);
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
  npzCache.clear();
  try {
    const refName = (r: ArrayRef): string => (typeof r === 'string' ? resolve(base, r) : `${resolve(base, r.file)}:${r.key}`);
    return traceFromArrays({
      probs: loadArray(entry.probs, base, `splits.${split}.probs`),
      labels: loadArray(entry.labels, base, `splits.${split}.labels`),
      layout: entry.layout,
      costMs: manifest.costMs,
      flops: manifest.flops,
      classNames: manifest.classNames,
      provenance: { model: manifest.model, dataset: manifest.dataset, split },
      probsSource: refName(entry.probs),
      labelsSource: refName(entry.labels),
    });
  } finally {
    npzCache.clear();
  }
}

/**
 * Write traces (one per split, all from the same model) as a manifest plus `.npy` files
 * `<split>-probs.npy` (float32 [N,K,C]) and `<split>-labels.npy` (int32 [N]) in `dir`.
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
    atomicWrite(join(dir, `${name}-probs.npy`), encodeNpy(t.probs, [t.nSamples, t.nExits, t.nClasses]));
    atomicWrite(join(dir, `${name}-labels.npy`), encodeNpy(t.labels, [t.nSamples]));
    entries[name] = { probs: `${name}-probs.npy`, labels: `${name}-labels.npy`, layout: 'NKC' };
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
