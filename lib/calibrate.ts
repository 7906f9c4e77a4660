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
 * what a threshold policy decides, computed in one pass. Used by fits to report the cost they achieve.
 * @param scores [sample][exit] row-major.
 * @param thresholds length K (t[K−1] is ignored: the last exit always takes what is left).
 * @returns the exit of each sample.
 */
export function exitsByThresholds(scores: Float64Array | Float32Array, nExits: number, thresholds: ArrayLike<number>): Int32Array {
  const K = nExits;
  const N = scores.length / K;
  const exits = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    let e = K - 1;
    for (let k = 0; k < K - 1; k++) {
      if (scores[n * K + k] >= thresholds[k]) {
        e = k;
        break;
      }
    }
    exits[n] = e;
  }
  return exits;
}
