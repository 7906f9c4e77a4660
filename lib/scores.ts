/**
 * Exit utility scores, computed once per trace into a `ScoreTable` that every policy reads. No policy
 * recomputes confidence from probabilities: that is how the same rule ends up written three slightly different
 * ways in research code.
 *
 * Built-in scores, each a Float32Array laid out [sample][exit] (index n·K + k):
 * - `maxprob`: max_c p_c — the confidence of MSDNet and SDN.
 * - `margin`: top-1 minus top-2 probability.
 * - `entropy`: 1 − H(p)/log C with H(p) = −Σ p log p (0·log 0 = 0) — BranchyNet's rule as a confidence in
 *   [0, 1] (higher = more certain), the `conf` feature of EENet.
 * - `patience`: PABEE's counter — how many consecutive exits immediately before k predicted the same class as
 *   exit k (0 at exit 0; k when all of exits 0..k agree). PABEE exits once this reaches its patience t.
 * Ties in argmax go to the lowest class index (NumPy's `argmax` convention).
 */
import { InputError } from './errors.ts';
import type { ExitTrace } from './trace.ts';

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
  readonly #scores: ReadonlyMap<string, Float32Array>;

  /** Use `computeScores`; this constructor is for `withScore`. */
  constructor(nSamples: number, nExits: number, predicted: Int32Array, correct: Uint8Array, scores: ReadonlyMap<string, Float32Array>) {
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
  get(name: string): Float32Array {
    const s = this.#scores.get(name);
    if (!s) throw new InputError('ScoreTable', 'score', `one of ${this.names.join(', ')}`, JSON.stringify(name));
    return s;
  }

  /**
   * A table with one more score (e.g. EENet's learned utility), so that any threshold policy or scheduler can
   * use it by name.
   * @param values finite scores, [sample][exit], length N·K.
   */
  withScore(name: string, values: Float32Array): ScoreTable {
    if (this.#scores.has(name)) throw new InputError('ScoreTable.withScore', 'name', 'a score name not already in the table', JSON.stringify(name));
    if (!(values instanceof Float32Array) || values.length !== this.nSamples * this.nExits) {
      throw new InputError('ScoreTable.withScore', name, `a Float32Array of length N·K = ${this.nSamples * this.nExits}`);
    }
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) throw new InputError('ScoreTable.withScore', `${name}[${Math.floor(i / this.nExits)}][${i % this.nExits}]`, 'a finite score', String(values[i]));
    }
    const next = new Map(this.#scores);
    next.set(name, values);
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

/** The computation behind `scoreTrace`, without memoisation. */
export function computeScores(trace: ExitTrace): ScoreTable {
  const { nSamples: N, nExits: K, nClasses: C, probs, labels } = trace;
  const NK = N * K;
  const predicted = new Int32Array(NK);
  const correct = new Uint8Array(NK);
  const maxprob = new Float32Array(NK);
  const margin = new Float32Array(NK);
  const entropy = new Float32Array(NK);
  const patience = new Float32Array(NK);
  const invLogC = 1 / Math.log(C);
  for (let n = 0; n < N; n++) {
    const y = labels[n];
    for (let k = 0; k < K; k++) {
      const row = n * K + k;
      const base = row * C;
      let best = -1;
      let top1 = -Infinity;
      let top2 = -Infinity;
      let h = 0;
      for (let c = 0; c < C; c++) {
        const p = probs[base + c];
        if (p > top1) {
          top2 = top1;
          top1 = p;
          best = c;
        } else if (p > top2) {
          top2 = p;
        }
        if (p > 0) h -= p * Math.log(p);
      }
      predicted[row] = best;
      correct[row] = best === y ? 1 : 0;
      maxprob[row] = top1;
      margin[row] = top1 - top2;
      // Clamp: float32 rows that sum to 1 ± 1e-3 can give H slightly above log C.
      entropy[row] = Math.min(1, Math.max(0, 1 - h * invLogC));
      let agree = 0;
      for (let j = k - 1; j >= 0 && predicted[n * K + j] === best; j--) agree++;
      patience[row] = agree;
    }
  }
  const scores = new Map<string, Float32Array>([
    ['maxprob', maxprob],
    ['margin', margin],
    ['entropy', entropy],
    ['patience', patience],
  ]);
  return new ScoreTable(N, K, predicted, correct, scores);
}
