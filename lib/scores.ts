/**
 * Exit utility scores, computed once per trace into a `ScoreTable` that every policy reads. No policy
 * recomputes confidence from probabilities: that is how the same rule ends up written three slightly different
 * ways in research code.
 *
 * Built-in scores, each a Float64Array laid out [sample][exit] (index n·K + k):
 * - `maxprob`: max_c p_c — the confidence of MSDNet and SDN.
 * - `margin`: top-1 minus top-2 probability.
 * - `entropy`: 1 − H(p)/log C with H(p) = −Σ p log p (0·log 0 = 0) — BranchyNet's rule as a confidence in
 *   [0, 1] (higher = more certain), the `conf` feature of EENet.
 * - `patience`: PABEE's counter — how many consecutive exits immediately before k predicted the same class as
 *   exit k (0 at exit 0; k when all of exits 0..k agree). PABEE exits once this reaches its patience t.
 * Ties in argmax go to the lowest class index (NumPy's `argmax` convention).
 *
 * All of them come from one fused pass over the trace's outputs. From logits z (row maximum m, second largest
 * z₂, s = Σ_c e^{z_c − m}, u = Σ_c (z_c − m)·e^{z_c − m}), in float64:
 *   maxprob = 1/s,  margin = (1 − e^{z₂ − m})/s,  H = log s − u/s,
 * which needs one exp per class and one log per row, and keeps confidences ordered up to a logit gap of about
 * 36 (where 1/s rounds to 1 in float64), against about 17 for a float32 softmax (rounding to 1 above 1 − 2⁻²⁵).
 * From probabilities the scores are those of the stored float32 values, computed in float64.
 *
 * The exps and logs are table-driven (lib/fastmath.ts: a 256-entry table and a short Taylor polynomial, inlined
 * into the loop, instead of an out-of-line Math.exp/Math.log call per class that cost most of the pass). They are
 * within 4 ulps of Math.exp/Math.log, so the scores agree with these formulas evaluated with Math.exp/Math.log to
 * ~1e-15 (entropy in absolute terms, the others relative; test/scores.test.ts holds them to 1e-14); argmax,
 * correctness and patience are exactly the same. On the repository's fixtures no two samples' scores change
 * order or tie against the Math.exp/Math.log results, so every threshold calibration picks the same exits.
 */
import { InputError } from './errors.ts';
import { expNonPositive, logFloat32Bits, logFloat64 } from './fastmath.ts';
import type { ExitTrace } from './trace.ts';

/** A score array: [sample][exit] row-major, length N·K, float64. */
export type ScoreArray = Float64Array;

/** Names of the scores every `ScoreTable` has. */
export const BUILTIN_SCORES = ['maxprob', 'margin', 'entropy', 'patience'] as const;

/** One of the built-in score names. */
export type BuiltinScore = (typeof BUILTIN_SCORES)[number];

/**
 * Per-(sample, exit) scores, predictions and correctness of one trace. All arrays are [sample][exit],
 * row-major, length N·K. Immutable: `withScore` returns a new table sharing the existing arrays.
 */
export class ScoreTable {
  /** Number of samples N. */
  readonly nSamples: number;
  /** Number of exits K. */
  readonly nExits: number;
  /** Predicted class (argmax) per [sample][exit]. */
  readonly predicted: Int32Array;
  /** 1 where the prediction at [sample][exit] equals the label, else 0. */
  readonly correct: Uint8Array;
  readonly #scores: ReadonlyMap<string, ScoreArray>;

  /** Use `computeScores`; this constructor is for `withScore`. */
  constructor(nSamples: number, nExits: number, predicted: Int32Array, correct: Uint8Array, scores: ReadonlyMap<string, ScoreArray>) {
    this.nSamples = nSamples;
    this.nExits = nExits;
    this.predicted = predicted;
    this.correct = correct;
    this.#scores = scores;
  }

  /** Names of all scores in this table, built-ins first. */
  get names(): string[] {
    return [...this.#scores.keys()];
  }

  /** Whether a score of this name exists. */
  has(name: string): boolean {
    return this.#scores.has(name);
  }

  /**
   * The score array [sample][exit] of the given name.
   * @throws InputError naming the available scores if there is none of that name.
   */
  get(name: string): ScoreArray {
    const s = this.#scores.get(name);
    if (!s) throw new InputError('ScoreTable', 'score', `one of ${this.names.join(', ')}`, JSON.stringify(name));
    return s;
  }

  /**
   * A table with one more score (e.g. EENet's learned utility), so that any threshold policy or scheduler can
   * use it by name.
   * @param values finite scores, [sample][exit], length N·K. A Float64Array is kept as is (not copied); a
   *   Float32Array is widened to a new Float64Array holding the same values exactly.
   */
  withScore(name: string, values: Float32Array | Float64Array): ScoreTable {
    if (this.#scores.has(name)) throw new InputError('ScoreTable.withScore', 'name', 'a score name not already in the table', JSON.stringify(name));
    if (!(values instanceof Float32Array || values instanceof Float64Array) || values.length !== this.nSamples * this.nExits) {
      throw new InputError('ScoreTable.withScore', name, `a Float64Array or Float32Array of length N·K = ${this.nSamples * this.nExits}`);
    }
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) throw new InputError('ScoreTable.withScore', `${name}[${Math.floor(i / this.nExits)}][${i % this.nExits}]`, 'a finite score', String(values[i]));
    }
    const next = new Map(this.#scores);
    next.set(name, values instanceof Float64Array ? values : Float64Array.from(values));
    return new ScoreTable(this.nSamples, this.nExits, this.predicted, this.correct, next);
  }

  /** Accuracy of every exit if all samples left there, length K. */
  exitAccuracy(): number[] {
    const K = this.nExits;
    const acc = new Array<number>(K).fill(0);
    for (let i = 0; i < this.correct.length; i++) acc[i % K] += this.correct[i];
    return acc.map((a) => a / this.nSamples);
  }
}

/** A trace together with its score table: what policies are fitted on and evaluated against. */
export interface ScoredTrace {
  readonly trace: ExitTrace;
  readonly scores: ScoreTable;
}

const cache = new WeakMap<ExitTrace, ScoredTrace>();

/**
 * Compute all built-in scores, predictions and correctness of a trace in one pass over `probs`.
 * Memoised per trace object, so calling it again is free.
 */
export function scoreTrace(trace: ExitTrace): ScoredTrace {
  const hit = cache.get(trace);
  if (hit) return hit;
  const scored = { trace, scores: computeScores(trace) };
  cache.set(trace, scored);
  return scored;
}

/** The computation behind `scoreTrace`, without memoisation: one fused pass over the logits or probabilities. */
export function computeScores(trace: ExitTrace): ScoreTable {
  const { nSamples: N, nExits: K, nClasses: C, labels } = trace;
  const NK = N * K;
  const out: Outputs = {
    predicted: new Int32Array(NK),
    correct: new Uint8Array(NK),
    maxprob: new Float64Array(NK),
    margin: new Float64Array(NK),
    entropy: new Float64Array(NK),
    patience: new Float64Array(NK),
  };
  if (trace.logits) scoreLogits(trace.logits, labels, N, K, C, out);
  else scoreProbs(trace.probs, labels, N, K, C, out);
  const scores = new Map<string, ScoreArray>([
    ['maxprob', out.maxprob],
    ['margin', out.margin],
    ['entropy', out.entropy],
    ['patience', out.patience],
  ]);
  return new ScoreTable(N, K, out.predicted, out.correct, scores);
}

interface Outputs {
  readonly predicted: Int32Array;
  readonly correct: Uint8Array;
  readonly maxprob: Float64Array;
  readonly margin: Float64Array;
  readonly entropy: Float64Array;
  readonly patience: Float64Array;
}

// The two kernels below are written out in full rather than sharing a per-row callback: this is the hot path
// of every trace load (N·K·C values), and a call per row costs as much as the arithmetic.
//
// Top-2 search without branches. The running maximum changes at unpredictable classes, so an if/else per class
// mispredicts about once a row and cost more than all the arithmetic. Instead the comparisons are taken on
// integer keys whose order is the float order (float32 bit patterns, see `scoreProbs` and `scoreLogits`), turned
// into all-ones/all-zeros masks, and the maximum, its class and the runner-up selected by masking:
//   gt1 = −[key > top1], gt2 = −[key > top2],
//   top2 ← gt1 ? top1 : (gt2 ? key : top2),  top1 ← gt1 ? key : top1,  best ← gt1 ? c : best.
// Strict comparisons, so a tie keeps the lower class index (NumPy's argmax), exactly as the float comparisons
// did; the class of the runner-up is carried the same way where its value is needed.

function scoreProbs(probs: Float32Array, labels: Int32Array, N: number, K: number, C: number, o: Outputs): void {
  const { predicted, correct, maxprob, margin, entropy, patience } = o;
  const invLogC = 1 / Math.log(C);
  // The same memory read as float32 bit patterns: for a probability (≥ 0) the bit pattern, with the sign bit of
  // −0 masked off so that −0 and +0 tie as floats do, orders like the value. Also the table log's input.
  const bits = new Int32Array(probs.buffer, probs.byteOffset, probs.length);
  let row = 0;
  for (let n = 0; n < N; n++) {
    const y = labels[n];
    let prev = -1;
    let agree = 0;
    for (let k = 0; k < K; k++, row++) {
      const base = row * C;
      let best = 0;
      let top1 = -1;
      let top2 = -1;
      let second = -1;
      let h = 0;
      for (let c = 0; c < C; c++) {
        const b = bits[base + c];
        const key = b & 0x7fffffff;
        const gt1 = -(+(key > top1));
        const gt2 = -(+(key > top2));
        top2 = (top1 & gt1) | (((key & gt2) | (top2 & ~gt2)) & ~gt1);
        second = (best & gt1) | (((c & gt2) | (second & ~gt2)) & ~gt1);
        top1 = (key & gt1) | (top1 & ~gt1);
        best = (c & gt1) | (best & ~gt1);
        // H = −Σ p log p. A positive normal float32 (bits ≥ 0x00800000; probabilities are ≤ 1, never Inf/NaN)
        // takes the table log (lib/fastmath.ts, within a few ulps of Math.log); 0 contributes nothing
        // (0·log 0 = 0); subnormals take Math.log.
        if (b >= 0x00800000) h -= probs[base + c] * logFloat32Bits(b);
        else if (b > 0) h -= probs[base + c] * Math.log(probs[base + c]);
      }
      const p1 = probs[base + best];
      predicted[row] = best;
      correct[row] = best === y ? 1 : 0;
      maxprob[row] = p1;
      // (second < 0 only without a runner-up, C = 1, which the trace does not allow; kept as p1 − (−∞).)
      margin[row] = p1 - (second < 0 ? -Infinity : probs[base + second]);
      // Clamp: float32 rows that sum to 1 ± 1e-3 can give H slightly above log C.
      const e = 1 - h * invLogC;
      entropy[row] = e < 0 ? 0 : e > 1 ? 1 : e;
      // PABEE's counter: the run of equal predictions ending at exit k, carried from exit k − 1.
      agree = best === prev ? agree + 1 : 0;
      patience[row] = agree;
      prev = best;
    }
  }
}

function scoreLogits(z: Float32Array | Float64Array, labels: Int32Array, N: number, K: number, C: number, o: Outputs): void {
  const { predicted, correct, maxprob, margin, entropy, patience } = o;
  const invLogC = 1 / Math.log(C);
  // Float32 logits: integer keys in float order. A negative float's bit pattern orders backwards, so its 31 low
  // bits are flipped (b ^ 0x7fffffff); then every negative key is raised by one (key − (key >> 31)), which makes
  // −0 (key −1) tie with +0 (key 0) and keeps every other order strict. Float64 logits (no 32-bit view of their
  // order) take the plain float comparisons.
  const bits = z instanceof Float32Array ? new Int32Array(z.buffer, z.byteOffset, z.length) : undefined;
  let row = 0;
  for (let n = 0; n < N; n++) {
    const y = labels[n];
    let prev = -1;
    let agree = 0;
    for (let k = 0; k < K; k++, row++) {
      const base = row * C;
      let best = 0;
      let second = -1;
      if (bits) {
        let top1 = -0x80000000;
        let top2 = -0x80000000;
        for (let c = 0; c < C; c++) {
          const b = bits[base + c];
          const f = b ^ ((b >> 31) & 0x7fffffff);
          const key = f - (f >> 31);
          const gt1 = -(+(key > top1));
          const gt2 = -(+(key > top2));
          top2 = (top1 & gt1) | (((key & gt2) | (top2 & ~gt2)) & ~gt1);
          second = (best & gt1) | (((c & gt2) | (second & ~gt2)) & ~gt1);
          top1 = (key & gt1) | (top1 & ~gt1);
          best = (c & gt1) | (best & ~gt1);
        }
      } else {
        // best = −1 until the first class, so that the first maximum hands no runner-up down to `second`.
        best = -1;
        let m = -Infinity;
        let z2 = -Infinity;
        for (let c = 0; c < C; c++) {
          const v = z[base + c];
          if (v > m) {
            z2 = m;
            second = best;
            m = v;
            best = c;
          } else if (v > z2) {
            z2 = v;
            second = c;
          }
        }
      }
      const m = z[base + best];
      const z2 = second < 0 ? -Infinity : z[base + second];
      let s = 0;
      let u = 0;
      for (let c = 0; c < C; c++) {
        // d ≤ 0: the table exp (lib/fastmath.ts, within a few ulps of Math.exp; exactly 1 at d = 0).
        const d = z[base + c] - m;
        const e = expNonPositive(d);
        s += e;
        u += d * e;
      }
      const inv = 1 / s;
      predicted[row] = best;
      correct[row] = best === y ? 1 : 0;
      maxprob[row] = inv;
      // The per-row exp and log by the same tables: a Math.exp/Math.log call per row costs as much as the C
      // table exps of the row. z₂ − m ≤ 0 (−∞ when C = 1: e⁻∞ = 0, margin = maxprob).
      margin[row] = (1 - expNonPositive(z2 - m)) * inv;
      // H = −Σ p_c log p_c with log p_c = (z_c − m) − log s; clamped against rounding at the ends.
      const e = 1 - (logFloat64(s) - u * inv) * invLogC;
      entropy[row] = e < 0 ? 0 : e > 1 ? 1 : e;
      agree = best === prev ? agree + 1 : 0;
      patience[row] = agree;
      prev = best;
    }
  }
}

/**
 * How many samples share the top value of a score at each exit: the samples no threshold on that score can
 * separate from each other (a budgeted calibration must let all of them exit together or none of them).
 * @param scores [sample][exit] row-major, length N·K.
 * @returns per exit, the number of samples whose score equals that exit's maximum, length K.
 */
export function tiesAtTop(scores: ArrayLike<number>, nExits: number): number[] {
  const K = nExits;
  const N = scores.length / K;
  const top = new Array<number>(K).fill(-Infinity);
  const count = new Array<number>(K).fill(0);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const v = scores[n * K + k];
      if (v > top[k]) {
        top[k] = v;
        count[k] = 1;
      } else if (v === top[k]) {
        count[k]++;
      }
    }
  }
  return count;
}
