/**
 * `ExitTrace`: the recorded outputs of one multi-exit network on one data split. Everything downstream (scores,
 * policies, simulators) reads traces, so construction validates every field once and the rest of the code can
 * trust them.
 */
import { InputError, describe } from './errors.ts';

/** Where a trace came from. Free-form strings, carried into every result for provenance. */
export interface TraceProvenance {
  /** Model identifier, e.g. "fashion-mnist-cnn" or "resnet56". */
  readonly model: string;
  /** Dataset identifier, e.g. "fashion-mnist". */
  readonly dataset: string;
  /** Split name, e.g. "validation" or "test". */
  readonly split: string;
}

/**
 * Everything needed to build an `ExitTrace`; see the field docs on `ExitTrace`. Give the exits' outputs either
 * as `probs` or as `logits`, exactly one of the two.
 */
export interface ExitTraceInit {
  readonly nSamples: number;
  readonly nExits: number;
  readonly nClasses: number;
  /** Softmax outputs, [sample][exit][class] row-major, length N·K·C. */
  readonly probs?: Float32Array;
  /**
   * Pre-softmax outputs (logits), [sample][exit][class] row-major, length N·K·C, finite. Prefer these to
   * `probs`: a float32 softmax rounds every confidence above 1 − 2⁻²⁵ to exactly 1.0, so confident samples tie
   * and no threshold can order them; from logits the scores are computed in float64.
   */
  readonly logits?: Float32Array | Float64Array;
  /** True class per sample, length N, each in [0, C). */
  readonly labels: Int32Array;
  /** Cumulative cost to reach each exit in milliseconds, length K, positive and non-decreasing. */
  readonly costMs: readonly number[];
  /** Optional cumulative FLOPs to each exit, length K, positive and non-decreasing. */
  readonly flops?: readonly number[];
  /** Optional class names, length C. */
  readonly classNames?: readonly string[];
  readonly provenance: TraceProvenance;
}

/** Allowed deviation of a probability row's sum from 1: float32 softmax rows exported by frameworks drift. */
export const PROB_SUM_TOLERANCE = 1e-3;

/**
 * The outputs of a K-exit network on N samples of a C-class problem.
 *
 * Layout: `probs[(n·K + k)·C + c]` is the softmax probability of class c at exit k for sample n
 * ([sample][exit][class], row-major). Costs are cumulative: `costMs[k]` is the time to run the network up to and
 * including exit k's classifier, so a job that leaves at exit k costs `costMs[k]` in total.
 *
 * A trace is built from probabilities or from logits (same layout). From logits, `lib/scores.ts` computes the
 * softmax and every score in float64, so confidences near 1 keep their order; `probs` is then derived.
 *
 * Invariants checked at construction (each violation throws an `InputError` naming the field):
 * N ≥ 1, K ≥ 2 (a one-exit network leaves no decision to a policy), C ≥ 2; exactly one of probs and logits;
 * every probability finite and in [0, 1], every row summing to 1 within `PROB_SUM_TOLERANCE`; every logit
 * finite; labels integers in [0, C); costs finite, positive,
 * non-decreasing; FLOPs likewise when given; class names of length C when given.
 *
 * Instances are immutable by convention: the arrays are not copied (traces can be large), so do not write to
 * them after construction.
 */
export class ExitTrace {
  /** Number of samples N. */
  readonly nSamples: number;
  /** Number of exits K (the last exit is the full network). */
  readonly nExits: number;
  /** Number of classes C. */
  readonly nClasses: number;
  /**
   * The logits as given, [sample][exit][class] row-major, length N·K·C; `undefined` for a trace built from
   * probabilities. When present, every score is computed from these (in float64), not from `probs`.
   */
  readonly logits: Float32Array | Float64Array | undefined;
  #probs: Float32Array | undefined;
  /** True class of each sample, Int32Array of length N. */
  readonly labels: Int32Array;
  /** Cumulative cost to each exit, milliseconds, length K, positive and non-decreasing. */
  readonly costMs: readonly number[];
  /** Cumulative FLOPs to each exit, length K, if known. */
  readonly flops: readonly number[] | undefined;
  /** Class names, length C; defaults to "0".."C-1". */
  readonly classNames: readonly string[];
  /** Model, dataset and split this trace was recorded from. */
  readonly provenance: TraceProvenance;

  /**
   * @param init the trace's fields.
   * @param source name of the file or API the data came from, used in error messages.
   * @param metaSource name used in errors about costMs, flops, classNames and provenance (e.g. the manifest
   *   these came from, when the arrays came from other files); defaults to `source`.
   */
  constructor(init: ExitTraceInit, source = 'ExitTrace', metaSource: string = source) {
    // Checked before destructuring, so JavaScript callers passing nothing get an InputError, not a TypeError.
    if (typeof init !== 'object' || init === null) {
      throw new InputError(source, '(argument)', 'an object {nSamples, nExits, nClasses, probs or logits, labels, costMs, provenance}', describe(init));
    }
    const { nSamples: N, nExits: K, nClasses: C } = init;
    checkCount(source, 'nSamples', N, 1, 'an integer ≥ 1 (a trace needs at least one sample)');
    checkCount(source, 'nExits', K, 2, 'an integer ≥ 2 (with one exit there is no exit decision to make)');
    checkCount(source, 'nClasses', C, 2, 'an integer ≥ 2');
    const hasProbs = init.probs !== undefined;
    const hasLogits = init.logits !== undefined;
    if (hasProbs === hasLogits) {
      throw new InputError(source, hasProbs ? 'probs, logits' : 'probs', 'exactly one of probs (softmax outputs) or logits', hasProbs ? 'both' : 'neither');
    }
    if (hasLogits) {
      const z = init.logits;
      if (!(z instanceof Float32Array) && !(z instanceof Float64Array)) {
        throw new InputError(source, 'logits', 'a Float32Array or Float64Array laid out [sample][exit][class]', describe(z));
      }
      if (z.length !== N * K * C) throw new InputError(source, 'logits', `length N·K·C = ${N}·${K}·${C} = ${N * K * C}`, `length ${z.length}`);
      for (let i = 0; i < z.length; i++) {
        if (!Number.isFinite(z[i])) {
          const row = Math.floor(i / C);
          throw new InputError(source, `logits[${Math.floor(row / K)}][${row % K}][${i % C}]`, 'a finite logit', String(z[i]));
        }
      }
    } else {
      if (!(init.probs instanceof Float32Array)) {
        throw new InputError(source, 'probs', 'a Float32Array laid out [sample][exit][class]', describe(init.probs));
      }
      if (init.probs.length !== N * K * C) {
        throw new InputError(source, 'probs', `length N·K·C = ${N}·${K}·${C} = ${N * K * C}`, `length ${init.probs.length}`);
      }
    }
    if (!(init.labels instanceof Int32Array)) throw new InputError(source, 'labels', 'an Int32Array of length N', describe(init.labels));
    if (init.labels.length !== N) throw new InputError(source, 'labels', `length N = ${N}`, `length ${init.labels.length}`);
    const probs = init.probs ?? new Float32Array(0);
    for (let row = 0; hasProbs && row < N * K; row++) {
      let sum = 0;
      const base = row * C;
      for (let c = 0; c < C; c++) {
        const p = probs[base + c];
        // `!(p >= 0 && p <= 1)` is also true for NaN, so one comparison catches both.
        if (!(p >= 0 && p <= 1)) {
          const n = Math.floor(row / K);
          throw new InputError(
            source,
            `probs[${n}][${row % K}][${c}]`,
            Number.isNaN(p) ? 'a finite probability (softmax output, not NaN)' : 'a probability in [0, 1] (softmax output; give pre-softmax outputs as logits instead)',
            String(p),
          );
        }
        sum += p;
      }
      if (Math.abs(sum - 1) > PROB_SUM_TOLERANCE) {
        throw new InputError(
          source,
          `probs[${Math.floor(row / K)}][${row % K}]`,
          `a row summing to 1 within ${PROB_SUM_TOLERANCE} (apply softmax before export)`,
          `sum ${sum}`,
        );
      }
    }
    const labels = init.labels;
    for (let n = 0; n < N; n++) {
      const y = labels[n];
      if (y < 0 || y >= C) throw new InputError(source, `labels[${n}]`, `a class index in [0, ${C})`, String(y));
    }
    this.costMs = checkCumulative(metaSource, 'costMs', init.costMs, K, 'milliseconds');
    this.flops = init.flops === undefined ? undefined : checkCumulative(metaSource, 'flops', init.flops, K, 'FLOPs');
    if (init.classNames !== undefined) {
      if (!Array.isArray(init.classNames) || init.classNames.length !== C || init.classNames.some((s) => typeof s !== 'string')) {
        throw new InputError(metaSource, 'classNames', `an array of ${C} strings`, describe(init.classNames));
      }
      this.classNames = Object.freeze([...init.classNames]);
    } else {
      this.classNames = Object.freeze(Array.from({ length: C }, (_, i) => String(i)));
    }
    const prov = init.provenance;
    for (const key of ['model', 'dataset', 'split'] as const) {
      if (typeof prov?.[key] !== 'string' || prov[key].length === 0) {
        throw new InputError(metaSource, `provenance.${key}`, 'a non-empty string', describe(prov?.[key]));
      }
    }
    this.nSamples = N;
    this.nExits = K;
    this.nClasses = C;
    this.logits = init.logits;
    this.#probs = hasProbs ? probs : undefined;
    this.labels = labels;
    this.provenance = Object.freeze({ model: prov.model, dataset: prov.dataset, split: prov.split });
  }

  /**
   * Softmax probabilities, [sample][exit][class] row-major, Float32Array of length N·K·C: as given, or for a
   * logit trace the softmax of the logits computed in float64 and rounded to float32 (on first use, then kept).
   * Float32 is enough to show or to use as features; confidence scores come from `lib/scores.ts`, which works
   * from the logits.
   */
  get probs(): Float32Array {
    this.#probs ??= softmaxRows(this.logits as Float32Array | Float64Array, this.nClasses);
    return this.#probs;
  }

  /** Cost of the last exit (the full network), milliseconds. */
  get fullCostMs(): number {
    return this.costMs[this.nExits - 1];
  }

  /** A short human-readable label, e.g. "fashion-mnist-cnn/test (N=10000, K=4, C=10)". */
  toString(): string {
    return `${this.provenance.model}/${this.provenance.split} (N=${this.nSamples}, K=${this.nExits}, C=${this.nClasses})`;
  }
}

function checkCount(source: string, field: string, value: number, min: number, expected: string): void {
  if (!Number.isSafeInteger(value) || value < min) throw new InputError(source, field, expected, describe(value));
}

function checkCumulative(source: string, field: string, values: readonly number[], K: number, unit: string): readonly number[] {
  if (!Array.isArray(values) && !ArrayBuffer.isView(values)) {
    throw new InputError(source, field, `an array of ${K} cumulative ${unit}`, describe(values));
  }
  if (values.length !== K) throw new InputError(source, field, `length nExits = ${K}`, `length ${values.length}`);
  const out: number[] = [];
  for (let k = 0; k < K; k++) {
    const v = values[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new InputError(source, `${field}[${k}]`, `a positive finite cumulative cost in ${unit}`, describe(v));
    }
    if (k > 0 && v < out[k - 1]) {
      throw new InputError(source, `${field}[${k}]`, `a cumulative cost ≥ ${field}[${k - 1}] = ${out[k - 1]} (costs are cumulative, non-decreasing)`, String(v));
    }
    out.push(v);
  }
  return Object.freeze(out);
}

/**
 * Row-wise softmax of [row][class] logits in float64 (max subtracted first, so no exp overflows), rounded to
 * float32 on store.
 */
export function softmaxRows(logits: Float32Array | Float64Array, C: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let base = 0; base < logits.length; base += C) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) if (logits[base + c] > m) m = logits[base + c];
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(logits[base + c] - m);
    const inv = 1 / s;
    for (let c = 0; c < C; c++) out[base + c] = Math.exp(logits[base + c] - m) * inv;
  }
  return out;
}
