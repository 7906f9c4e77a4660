/**
 * Budget calibration the MSDNet way, shared by every budgeted threshold policy (and by EENet's thresholds):
 * 1. choose target exit shares for a mean-cost budget (`geometricShares`: share_k ∝ q^k, q solved exactly);
 * 2. turn shares into per-exit thresholds on a score by the sorting procedure (`thresholdsBySorting`).
 *
 * Differences from the reference code (git-disl/EENet, `utils/predict_utils.py`), on purpose:
 * - The reference scans q = p/15 over a grid and keeps the first q whose cost *exceeds* the budget; we solve
 *   for q by bisection and keep the largest q whose cost is within the budget.
 * - The reference gives exit k `floor(share_k·N)` samples and the remainder to the last exit, which moves
 *   mass to the most expensive exit and can break the budget. We round *cumulative* counts up
 *   (`ceil(N·Σ_{j≤k} share_j)`), so every sample leaves no later than its fractional share says and the
 *   budget holds exactly on the fitting data.
 * - Ties at a threshold: every sample whose score equals the threshold exits there (as `score ≥ t` at test
 *   time does), and later exits take only what is still needed. Fitting and evaluation then agree sample by
 *   sample on the fitting data. Ties are not broken by sample order, index or chance: samples a score cannot
 *   tell apart are treated alike, so tied mass makes the fitted cost undershoot the budget (all of a tied group
 *   exits early, or the threshold moves above it). That is why traces should carry logits: a float32 softmax
 *   rounds confidences above 1 − 2⁻²⁵ to 1.0 and ties most confident samples (75% of nsl-kdd-mlp's validation
 *   set at its last exit, undershooting B = 0.3358 ms at 0.2957 ms), whereas the float64 scores computed from
 *   logits (`lib/scores.ts`) only tie at logit gaps above about 36.
 */
import { InputError } from './errors.ts';

/**
 * Geometric exit shares share_k ∝ q^k (k = 0..K−1) whose expected cost Σ share_k·cost_k is the largest not
 * above `budgetMs`.
 * @param costMs cumulative per-exit cost, non-decreasing, length K.
 * @param budgetMs target mean cost; must be at least `costMs[0]` (nothing can be cheaper than the first exit).
 * @returns shares, length K, summing to 1. A budget at or above the last exit's cost gives [0, …, 0, 1].
 */
export function geometricShares(costMs: readonly number[], budgetMs: number): number[] {
  const K = costMs.length;
  if (!Number.isFinite(budgetMs) || budgetMs < costMs[0]) {
    throw new InputError('geometricShares', 'budgetMs', `a finite budget ≥ the first exit's cost ${costMs[0]} ms`, String(budgetMs));
  }
  if (budgetMs === costMs[0]) {
    // Only the first exit (and any exit exactly as cheap, which we do not need) fits: all mass there.
    const s = new Array<number>(K).fill(0);
    s[0] = 1;
    return s;
  }
  if (budgetMs >= costMs[K - 1]) {
    const s = new Array<number>(K).fill(0);
    s[K - 1] = 1;
    return s;
  }
  // Work with log q so both ends (all mass at exit 0, all at exit K−1) are reachable; cost(log q) is
  // non-decreasing in q because the family has a monotone likelihood ratio in k.
  const sharesAt = (logq: number): number[] => {
    const w = Array.from({ length: K }, (_, k) => k * logq);
    const m = Math.max(...w);
    const e = w.map((x) => Math.exp(x - m));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / z);
  };
  const cost = (s: number[]): number => s.reduce((a, p, k) => a + p * costMs[k], 0);
  let lo = -60;
  let hi = 60;
  if (cost(sharesAt(lo)) > budgetMs) {
    // Budget is barely above cost[0]: all but a negligible mass at exit 0 still overshoots; put it all there.
    const s = new Array<number>(K).fill(0);
    s[0] = 1;
    return s;
  }
  for (let i = 0; i < 200 && hi - lo > 1e-13; i++) {
    const mid = (lo + hi) / 2;
    if (cost(sharesAt(mid)) <= budgetMs) lo = mid;
    else hi = mid;
  }
  return sharesAt(lo);
}

/**
 * Per-exit thresholds that make "exit at the first k with score_k ≥ t_k" reproduce the target shares on the
 * fitting data, with cumulative counts rounded towards earlier exits (see the module comment).
 * @param scores [sample][exit] row-major, length N·K.
 * @param nExits K.
 * @param shares target shares, length K, non-negative, summing to 1 (within 1e-9).
 * @returns thresholds, length K; `t[K−1]` is −Infinity (the last exit takes everything left) and an exit that
 *   should take nobody gets +Infinity.
 */
export function thresholdsBySorting(scores: Float64Array | Float32Array, nExits: number, shares: readonly number[]): Float64Array {
  const K = nExits;
  const N = scores.length / K;
  if (!Number.isInteger(N) || N < 1) throw new InputError('thresholdsBySorting', 'scores', `length N·K for K = ${K}`, `length ${scores.length}`);
  if (shares.length !== K || shares.some((s) => !(s >= 0)) || Math.abs(shares.reduce((a, b) => a + b, 0) - 1) > 1e-9) {
    throw new InputError('thresholdsBySorting', 'shares', `${K} non-negative shares summing to 1`, `[${shares.join(', ')}]`);
  }
  const t = new Float64Array(K);
  t[K - 1] = -Infinity;
  let remaining = new Int32Array(N);
  for (let n = 0; n < N; n++) remaining[n] = n;
  let nRemaining = N;
  let cum = 0;
  // Float64 holds float32 and float64 scores exactly, so the threshold is always one of the scores themselves.
  const scratch = new Float64Array(N);
  for (let k = 0; k < K - 1; k++) {
    cum += shares[k];
    // Target cumulative count through exit k, rounded up (towards cheaper exits); 1e-9 absorbs float error in cum.
    const target = Math.min(N, Math.ceil(N * cum - 1e-9));
    const need = target - (N - nRemaining);
    if (need <= 0 || nRemaining === 0) {
      t[k] = Infinity;
      continue;
    }
    for (let i = 0; i < nRemaining; i++) scratch[i] = scores[remaining[i] * K + k];
    const thr = need >= nRemaining ? minOf(scratch, nRemaining) : kthLargest(scratch, nRemaining, need);
    t[k] = thr;
    let w = 0;
    const next = new Int32Array(nRemaining);
    for (let i = 0; i < nRemaining; i++) {
      const n = remaining[i];
      if (!(scores[n * K + k] >= thr)) next[w++] = n;
    }
    remaining = next;
    nRemaining = w;
  }
  return t;
}

function minOf(a: Float64Array | Float32Array, len: number): number {
  let m = Infinity;
  for (let i = 0; i < len; i++) if (a[i] < m) m = a[i];
  return m;
}

/**
 * The `rank`-th largest (1-based) of a[0..len), by Hoare selection; reorders `a`. Deterministic pivots
 * (median of three). Equal elements stop both scans and get swapped, so heavy ties (integer scores such as
 * patience) still split evenly.
 */
export function kthLargest(a: Float64Array | Float32Array, len: number, rank: number): number {
  // The rank-th largest is the (len − rank)-th smallest, 0-based.
  const target = len - rank;
  let lo = 0;
  let hi = len - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    const x = a[lo];
    const y = a[mid];
    const z = a[hi];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const tmp = a[i];
        a[i] = a[j];
        a[j] = tmp;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}

/**
 * Apply "exit at the first k with score_k ≥ t_k" to every sample of a score array directly (no policy object):
 * what a threshold policy decides, computed in one pass — the columnar path of the threshold policies
 * (`Policy.decideAll`). The comparison is the per-decision one (a float32 score against the threshold as given),
 * so the exits are the same sample for sample.
 * @param scores [sample][exit] row-major, length N·K.
 * @param thresholds length ≥ K−1 (t[K−1], if present, is ignored: the last exit always takes what is left).
 * @param out optional result array of length N, reused (no allocation).
 * @returns the exit of each sample, Int32Array of length N.
 */
export function exitsByThresholds(scores: Float64Array | Float32Array, nExits: number, thresholds: ArrayLike<number>, out?: Int32Array): Int32Array {
  const K = nExits;
  const N = scores.length / K;
  if (!Number.isInteger(N)) throw new InputError('exitsByThresholds', 'scores', `length N·K for K = ${K}`, `length ${scores.length}`);
  if (thresholds.length < K - 1) throw new InputError('exitsByThresholds', 'thresholds', `at least K − 1 = ${K - 1} thresholds`, `${thresholds.length}`);
  const exits = out ?? new Int32Array(N);
  if (exits.length !== N) throw new InputError('exitsByThresholds', 'out', `an Int32Array of length N = ${N}`, `length ${exits.length}`);
  // A local float64 copy: monomorphic reads whatever array type the caller holds thresholds in.
  const t = Float64Array.from({ length: K - 1 }, (_, k) => thresholds[k]);
  const last = K - 1;
  for (let n = 0, row = 0; n < N; n++, row += K) {
    let e = 0;
    while (e < last && !(scores[row + e] >= t[e])) e++;
    exits[n] = e;
  }
  return exits;
}

/** What `ThresholdCalibrator.fit` returns: the thresholds and how many fitting samples leave at each exit. */
export interface CalibratedThresholds {
  /** Length K, as `thresholdsBySorting` returns them (bit for bit). */
  readonly thresholds: Float64Array;
  /** Fitting samples leaving at each exit under these thresholds, length K (sums to N). */
  readonly counts: Float64Array;
}

/**
 * `thresholdsBySorting` for many share vectors on the same scores (a budget sweep, a ladder of budgets, a
 * risk-control path): each exit's scores are sorted once (descending, ties in sample order), and each call then
 * walks the sorted order of exit k, skipping samples that already left, until the exit's cumulative target is
 * met; every remaining sample tied at that score leaves too (the `score ≥ t` rule). This gives exactly the
 * thresholds of the selection procedure (same cumulative ceiling counts, same tie rule), with no allocation per
 * call and the per-exit counts for free, so fits need no extra pass over the data to report their cost.
 * Memory: 8 bytes per sample and exit (the order as Int32 indices, the scores in that order as Float32) and one byte
 * per sample; the radix sort itself needs 16 bytes per sample while it runs.
 */
export class ThresholdCalibrator {
  /** N: fitting samples. */
  readonly nSamples: number;
  /** K: exits. */
  readonly nExits: number;
  /** For each exit k < K−1, sample indices sorted by descending score: order[k·N + r]. */
  readonly #order: Int32Array;
  /** The scores in that order, sorted[k·N + r] = scores[order[k·N + r]·K + k]: the walk reads them sequentially. */
  readonly #sorted: Float32Array | Float64Array;
  /** 1 for a sample that already left in the current call; one byte a sample so it stays in cache. */
  readonly #left: Uint8Array;

  /**
   * @param scores [sample][exit] row-major, length N·K, float32 or float64 (scores computed from logits are
   *   float64); read once here (sorted copies are kept, so later changes to the array are not seen).
   */
  constructor(scores: Float32Array | Float64Array, nExits: number) {
    const K = nExits;
    const N = scores.length / K;
    if (!Number.isInteger(K) || K < 1 || !Number.isInteger(N) || N < 1) throw new InputError('ThresholdCalibrator', 'scores', `length N·K for K = ${K}`, `length ${scores.length}`);
    this.nSamples = N;
    this.nExits = K;
    this.#left = new Uint8Array(N);
    const order = new Int32Array(Math.max(0, K - 1) * N);
    const wide = scores instanceof Float64Array;
    const sorted = wide ? new Float64Array(order.length) : new Float32Array(order.length);
    // Per exit, an LSD radix sort (passes of 11, 11 and 10 bits per 32-bit word) of the order-preserving unsigned
    // key of the score, complemented: ascending key is descending score, and a stable sort of samples taken in
    // index order keeps ties in sample order. Float32 scores have one 32-bit word, float64 two (low word first,
    // then high, which is lexicographic order). Linear in N, no comparator calls.
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    const f64 = new Float64Array(1);
    const u64 = new Uint32Array(f64.buffer); // little-endian: [low, high]
    let hiA = new Uint32Array(N);
    let loA = new Uint32Array(wide ? N : 0);
    let idxA = new Int32Array(N);
    let hiB = new Uint32Array(N);
    let loB = new Uint32Array(wide ? N : 0);
    let idxB = new Int32Array(N);
    const hist = new Int32Array(2048);
    for (let k = 0; k < K - 1; k++) {
      for (let n = 0; n < N; n++) {
        // IEEE order: flip all bits of negatives, the sign bit of positives. NaN cannot occur (validated scores).
        if (wide) {
          f64[0] = scores[n * K + k];
          const lo = u64[0];
          const hi = u64[1];
          const neg = (hi & 0x80000000) !== 0;
          hiA[n] = (0xffffffff - (neg ? ~hi >>> 0 : (hi | 0x80000000) >>> 0)) >>> 0;
          loA[n] = (0xffffffff - (neg ? ~lo >>> 0 : lo)) >>> 0;
        } else {
          f32[0] = scores[n * K + k];
          const b = u32[0];
          hiA[n] = (0xffffffff - (b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0)) >>> 0;
        }
        idxA[n] = n;
      }
      for (let word = wide ? 0 : 1; word < 2; word++) {
        for (let shift = 0; shift < 32; shift += 11) {
          const mask = shift === 22 ? 0x3ff : 0x7ff;
          const src = word === 0 ? loA : hiA;
          hist.fill(0);
          for (let n = 0; n < N; n++) hist[(src[n] >>> shift) & mask]++;
          let sum = 0;
          for (let d = 0; d <= mask; d++) {
            const c = hist[d];
            hist[d] = sum;
            sum += c;
          }
          for (let n = 0; n < N; n++) {
            const at = hist[(src[n] >>> shift) & mask]++;
            hiB[at] = hiA[n];
            if (wide) loB[at] = loA[n];
            idxB[at] = idxA[n];
          }
          [hiA, hiB] = [hiB, hiA];
          [loA, loB] = [loB, loA];
          [idxA, idxB] = [idxB, idxA];
        }
      }
      order.set(idxA, k * N);
      for (let r = 0; r < N; r++) sorted[k * N + r] = scores[idxA[r] * K + k];
    }
    this.#order = order;
    this.#sorted = sorted;
  }

  /** Thresholds (and per-exit counts) for target shares, as `thresholdsBySorting(scores, K, shares)`. */
  fit(shares: readonly number[]): CalibratedThresholds {
    const K = this.nExits;
    const N = this.nSamples;
    if (shares.length !== K || shares.some((s) => !(s >= 0)) || Math.abs(shares.reduce((a, b) => a + b, 0) - 1) > 1e-9) {
      throw new InputError('ThresholdCalibrator.fit', 'shares', `${K} non-negative shares summing to 1`, `[${shares.join(', ')}]`);
    }
    const left = this.#left;
    left.fill(0);
    const sorted = this.#sorted;
    const order = this.#order;
    const t = new Float64Array(K);
    const counts = new Float64Array(K);
    t[K - 1] = -Infinity;
    let gone = 0;
    let cum = 0;
    for (let k = 0; k < K - 1; k++) {
      cum += shares[k];
      const target = Math.min(N, Math.ceil(N * cum - 1e-9));
      let need = target - gone;
      if (need <= 0 || gone === N) {
        t[k] = Infinity;
        continue;
      }
      const base = k * N;
      const end = base + N;
      let i = base;
      let taken = 0;
      let last = base;
      // Take the `need` highest-scoring remaining samples (or all that remain).
      for (; i < end && taken < need; i++) {
        const n = order[i];
        if (left[n] !== 0) continue;
        left[n] = 1;
        taken++;
        last = i;
      }
      const thr = sorted[last];
      // Ties at the threshold leave together (score ≥ t); the order is descending, so they come next, and the
      // first score below the threshold ends them (every later one is lower).
      for (; i < end && sorted[i] === thr; i++) {
        const n = order[i];
        if (left[n] !== 0) continue;
        left[n] = 1;
        taken++;
      }
      t[k] = thr;
      counts[k] = taken;
      gone += taken;
    }
    counts[K - 1] = N - gone;
    return { thresholds: t, counts };
  }
}

const calibrators = new WeakMap<Float32Array | Float64Array, ThresholdCalibrator>();

/**
 * One `ThresholdCalibrator` per score array, kept while the array lives: every budgeted fit on the same
 * ScoreTable score (a sweep over budgets, several policies on one trace) sorts it once. Only for arrays that
 * never change after they are made, as a ScoreTable's.
 */
export function calibratorFor(scores: Float32Array | Float64Array, nExits: number): ThresholdCalibrator {
  let c = calibrators.get(scores);
  if (!c || c.nExits !== nExits) {
    c = new ThresholdCalibrator(scores, nExits);
    calibrators.set(scores, c);
  }
  return c;
}
