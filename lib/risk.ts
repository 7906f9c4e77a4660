/**
 * Finite-sample risk control for early-exit thresholds: upper confidence bounds and p-values for the mean of a
 * loss bounded in [0, 1], and the selection rules that pick a point on a one-parameter path of threshold vectors
 * (Learn-then-Test fixed-sequence testing, conformal risk control, and the naive empirical rule), as used for
 * early exit by Jazbec et al., "Fast yet Safe: Early-Exiting with Risk Control" (NeurIPS 2024, §3–4).
 *
 * Losses are normalised to [0, 1] by the caller: a per-sample cost c ∈ [c₀, c_K] (first and last exit's cost)
 * becomes (c − c₀)/(c_K − c₀) and a budget B becomes α = (B − c₀)/(c_K − c₀); the accuracy-gap loss
 * 1{early exit wrong and full network right} is already in {0, 1}.
 *
 * ## The bounds
 * Both test H₀: μ ≥ α for the mean μ of n i.i.d. (or exchangeable) losses in [0, 1] with empirical mean μ̂.
 *
 * **Hoeffding–Bentkus** (Bates et al., "Distribution-free, risk-controlling prediction sets", JACM 2021, §3.1.2
 * and Prop. 3; the p-value form of Angelopoulos et al., "Learn then Test", 2021, eq. (8)):
 *
 *     p_HB(α) = min( exp(−n·h(μ̂ ∧ α, α)),  e·P[Bin(n, α) ≤ ⌈n·μ̂⌉] ),
 *     h(a, b) = a·log(a/b) + (1 − a)·log((1 − a)/(1 − b)).
 *
 * For losses in {0, 1} (the accuracy gap) n·μ̂ is a Binomial(n, μ) count and the exact tail
 * p_bin(α) = P[Bin(n, α) ≤ n·μ̂] is valid and smaller than either term; `pValue` uses it for binary losses.
 *
 * **Waudby-Smith–Ramdas betting** (Waudby-Smith & Ramdas, "Estimating means of bounded random variables by
 * betting", JRSS-B 2023, §3–4, the predictable plug-in "hedged" capital, one-sided): against H₀: μ ≥ m a gambler
 * who bets λ_t on "the next loss is below m" holds the capital
 *
 *     K_t(m) = Π_{i ≤ t} (1 − λ_i·(x_i − m)),   λ_i = min( √(2·log(1/δ) / (n·σ̂²_{i−1})), 1/2 ),
 *     μ̂_i = (1/2 + Σ_{j ≤ i} x_j)/(i + 1),     σ̂²_i = (1/4 + Σ_{j ≤ i} (x_j − μ̂_j)²)/(i + 1),
 *
 * a non-negative supermartingale under H₀ (λ_i ≥ 0 depends only on x_1..x_{i−1}, and λ_i ≤ 1/2 keeps every factor
 * ≥ 1/2 > 0 for every m ∈ [0, 1]). By Ville's inequality P[max_t K_t(m) ≥ 1/δ] ≤ δ, so
 * p_WSR(m) = min(1, 1/max_{t ≤ n} K_t(m)) is a valid p-value and UCB_WSR = inf{m : max_t K_t(m) ≥ 1/δ} a valid
 * (1 − δ) upper bound. Each factor grows with m, so the bound is found by bisection. The capital depends on the
 * order of the losses; callers pass them in an order fixed before looking at them (here: the seeded shuffle of
 * the calibration split).
 *
 * **Default: WSR.** Hoeffding–Bentkus is tight for a Bernoulli loss (its Bentkus term is the binomial tail, the
 * worst case among [0, 1] variables of mean α), but a mean cost is not Bernoulli: most samples leave at one of the
 * first exits, so the normalised cost has variance well below α(1 − α), and the betting bound adapts to that
 * variance through σ̂² (its width is about σ·√(2·log(1/δ)/n) instead of √(α(1−α))·√(2·log(1/δ)/n)). On both fixtures
 * it certifies a higher budget point than HB at the same δ (docs/results/risk-control.md). For binary losses the
 * exact binomial tail is used whatever the bound, since no bound can beat the exact test of a Bernoulli mean by
 * more than a hair and WSR's betting loses a little to it.
 *
 * ## Selection along a path (`selectAlongPath`)
 * A path is a sequence of threshold vectors λ_0, λ_1, …, ordered from the *safe end* λ_0, whose risk is ≤ α with
 * certainty (for cost: everyone leaves at the first exit, cost exactly c₀ ≤ B; for the gap: everyone leaves at the
 * last exit, gap 0), towards riskier points. The path must not depend on the losses it is tested on.
 * - `ltt` (Learn then Test, fixed-sequence testing, Angelopoulos et al. 2021 §4 / Prop. 4 with a fixed order):
 *   test H_j: R(λ_j) > α for j = 1, 2, … at level δ each, stop at the first j not rejected; every λ_j before it is
 *   risk-controlling, jointly, with probability ≥ 1 − δ (family-wise error ≤ δ without a multiplicity
 *   correction, because a null is only tested once all earlier ones were rejected). We keep the last rejected
 *   point. A point is also required to have μ̂ ≤ α: rejecting fewer hypotheses keeps the error control, and it
 *   keeps the fitted risk on the calibration data within the target, as plain calibration promises.
 * - `crc` (Conformal Risk Control, Angelopoulos, Bates, Fisch, Lei & Schuster, ICLR 2024, Thm. 1 with loss bound
 *   1): keep walking while (n·μ̂_j + 1)/(n + 1) ≤ α. For losses monotone along the path this controls the risk in
 *   *expectation over the calibration draw* (E[R(λ̂)] ≤ α), not with probability 1 − δ: about half the draws may
 *   still exceed α. RC-EENN's baseline.
 * - `naive`: keep walking while μ̂_j ≤ α, i.e. plain calibration on the path; no guarantee.
 * All three stop at the first failure (for a non-monotone empirical risk this is the conservative reading of
 * "the largest λ with R̂ ≤ α"), so they differ only in the acceptance test.
 */
import { InputError } from './errors.ts';

/** Which concentration bound LTT's p-values come from (see the module comment; binary losses always use the exact binomial tail). */
export type RiskBound = 'wsr' | 'hb';

/** How a point on the path is chosen: Learn-then-Test (probability ≥ 1 − δ), conformal risk control (in expectation), naive (none). */
export type RiskMethod = 'ltt' | 'crc' | 'naive';

/** The bound used when none is named. */
export const DEFAULT_RISK_BOUND: RiskBound = 'wsr';

function checkUnit(source: string, field: string, x: number, open = false): void {
  const ok = open ? x > 0 && x < 1 : x >= 0 && x <= 1;
  if (!(typeof x === 'number' && ok)) throw new InputError(source, field, open ? 'a number in (0, 1)' : 'a number in [0, 1]', String(x));
}

function checkCount(source: string, field: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new InputError(source, field, 'a non-negative integer', String(n));
}

/**
 * P[X ≤ k] for X ~ Binomial(n, p), summed in log space from the probability mass function (exact up to
 * floating-point rounding; O(k) time).
 * @param k any real; the CDF is evaluated at ⌊k⌋.
 */
export function binomialCdf(k: number, n: number, p: number): number {
  checkCount('binomialCdf', 'n', n);
  checkUnit('binomialCdf', 'p', p);
  const kk = Math.floor(k);
  if (kk < 0) return 0;
  if (kk >= n) return 1;
  if (p === 0) return 1;
  if (p === 1) return 0;
  // log pmf(j) by the recurrence pmf(j+1)/pmf(j) = (n−j)/(j+1) · p/(1−p); log-sum-exp against the largest term.
  const logRatio = Math.log(p) - Math.log1p(-p);
  const logs = new Float64Array(kk + 1);
  let lp = n * Math.log1p(-p);
  let max = -Infinity;
  for (let j = 0; j <= kk; j++) {
    logs[j] = lp;
    if (lp > max) max = lp;
    lp += Math.log(n - j) - Math.log(j + 1) + logRatio;
  }
  let sum = 0;
  for (let j = 0; j <= kk; j++) sum += Math.exp(logs[j] - max);
  return Math.min(1, Math.exp(max + Math.log(sum)));
}

/** Kullback–Leibler divergence h(a, b) between Bernoulli(a) and Bernoulli(b), with 0·log 0 = 0. */
function bernoulliKl(a: number, b: number): number {
  const t1 = a === 0 ? 0 : a * Math.log(a / b);
  const t2 = a === 1 ? 0 : (1 - a) * Math.log((1 - a) / (1 - b));
  return t1 + t2;
}

/**
 * Hoeffding–Bentkus p-value for H₀: μ ≥ α, from the empirical mean of n losses in [0, 1] (module comment,
 * Bates et al. 2021 Prop. 3). Returns 1 when n = 0 or α = 0 (H₀ then always holds). For α ≥ 1, H₀ says every
 * loss is 1, which a single loss below 1 (μ̂ < 1) refutes: 0 then, else 1.
 */
export function hoeffdingBentkusPValue(meanLoss: number, n: number, alpha: number): number {
  checkUnit('hoeffdingBentkusPValue', 'meanLoss', meanLoss);
  checkCount('hoeffdingBentkusPValue', 'n', n);
  if (!(alpha >= 0)) throw new InputError('hoeffdingBentkusPValue', 'alpha', 'a number ≥ 0', String(alpha));
  if (n === 0) return 1;
  if (alpha >= 1) return meanLoss < 1 ? 0 : 1;
  if (alpha === 0) return 1; // H₀: μ ≥ 0 always holds.
  const hoeffding = Math.exp(-n * bernoulliKl(Math.min(meanLoss, alpha), alpha));
  // ⌈n·μ̂⌉ with a guard against n·μ̂ landing a rounding error above an integer.
  const k = Math.ceil(n * meanLoss - 1e-9);
  const bentkus = Math.E * binomialCdf(k, n, alpha);
  return Math.min(1, hoeffding, bentkus);
}

/**
 * Exact binomial p-value for H₀: μ ≥ α when every loss is 0 or 1: P[Bin(n, α) ≤ ones].
 * @param ones number of losses equal to 1.
 */
export function binomialPValue(ones: number, n: number, alpha: number): number {
  checkCount('binomialPValue', 'ones', ones);
  checkCount('binomialPValue', 'n', n);
  if (ones > n) throw new InputError('binomialPValue', 'ones', `a count ≤ n = ${n}`, String(ones));
  if (!(alpha >= 0)) throw new InputError('binomialPValue', 'alpha', 'a number ≥ 0', String(alpha));
  if (n === 0) return 1;
  if (alpha >= 1) return ones < n ? 0 : 1;
  return binomialCdf(ones, n, alpha);
}

/** Per-step betting fractions λ_i of the WSR capital (module comment), predictable: λ_i uses x_1..x_{i−1} only. */
function wsrBets(losses: ArrayLike<number>, delta: number): Float64Array {
  const n = losses.length;
  const bets = new Float64Array(n);
  const logTerm = 2 * Math.log(1 / delta);
  let sum = 0;
  let sumSq = 0.25;
  let prevVar = 0.25; // σ̂²_0
  for (let i = 0; i < n; i++) {
    bets[i] = Math.min(Math.sqrt(logTerm / (n * prevVar)), 0.5);
    const x = losses[i];
    sum += x;
    const muHat = (0.5 + sum) / (i + 2);
    sumSq += (x - muHat) * (x - muHat);
    prevVar = sumSq / (i + 2);
  }
  return bets;
}

/** log max_{t ≤ n} K_t(m) for the given bets (0 at t = 0: the gambler may stop before betting). */
function wsrLogMaxCapital(losses: ArrayLike<number>, bets: Float64Array, m: number): number {
  let log = 0;
  let best = 0;
  for (let i = 0; i < losses.length; i++) {
    log += Math.log1p(-bets[i] * (losses[i] - m));
    if (log > best) best = log;
  }
  return best;
}

function checkLosses(source: string, losses: ArrayLike<number>): void {
  for (let i = 0; i < losses.length; i++) {
    const x = losses[i];
    if (!(x >= 0 && x <= 1)) throw new InputError(source, `losses[${i}]`, 'a loss in [0, 1] (normalise costs first)', String(x));
  }
}

/**
 * Waudby-Smith–Ramdas betting p-value for H₀: μ ≥ α (module comment), with the bets tuned for a test at level
 * `delta` (any fixed δ gives a valid p-value; tuning for the level the test is run at makes it most powerful there).
 * @param losses in [0, 1], in an order fixed independently of their values.
 */
export function wsrPValue(losses: ArrayLike<number>, alpha: number, delta: number): number {
  checkLosses('wsrPValue', losses);
  checkUnit('wsrPValue', 'delta', delta, true);
  if (!(alpha >= 0)) throw new InputError('wsrPValue', 'alpha', 'a number ≥ 0', String(alpha));
  if (losses.length === 0 || alpha === 0) return 1;
  if (alpha > 1) return 0;
  const bets = wsrBets(losses, delta);
  return Math.min(1, Math.exp(-wsrLogMaxCapital(losses, bets, alpha)));
}

/**
 * Waudby-Smith–Ramdas (1 − δ) upper confidence bound on the mean of losses in [0, 1] (module comment):
 * inf{m : max_t K_t(m) ≥ 1/δ}, by bisection to 1e-10. 1 when no m < 1 is excluded (e.g. n = 0).
 */
export function wsrUcb(losses: ArrayLike<number>, delta: number): number {
  checkLosses('wsrUcb', losses);
  checkUnit('wsrUcb', 'delta', delta, true);
  if (losses.length === 0) return 1;
  const bets = wsrBets(losses, delta);
  const target = Math.log(1 / delta);
  const excluded = (m: number) => wsrLogMaxCapital(losses, bets, m) >= target;
  if (!excluded(1)) return 1;
  let lo = 0;
  let hi = 1;
  if (excluded(0)) return 0;
  while (hi - lo > 1e-10) {
    const mid = (lo + hi) / 2;
    if (excluded(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * Hoeffding–Bentkus (1 − δ) upper confidence bound on a mean of n losses in [0, 1]: the smallest α with
 * p_HB(α) ≤ δ, by bisection to 1e-10 (p_HB falls as α grows). 1 when n = 0.
 */
export function hoeffdingBentkusUcb(meanLoss: number, n: number, delta: number): number {
  checkUnit('hoeffdingBentkusUcb', 'meanLoss', meanLoss);
  checkCount('hoeffdingBentkusUcb', 'n', n);
  checkUnit('hoeffdingBentkusUcb', 'delta', delta, true);
  if (n === 0) return 1;
  let lo = meanLoss;
  let hi = 1;
  if (hoeffdingBentkusPValue(meanLoss, n, hi - 1e-12) > delta) return 1;
  while (hi - lo > 1e-10) {
    const mid = (lo + hi) / 2;
    if (hoeffdingBentkusPValue(meanLoss, n, mid) <= delta) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Whether every loss is exactly 0 or 1 (then p-values use the exact binomial tail). */
export function isBinary(losses: ArrayLike<number>): boolean {
  for (let i = 0; i < losses.length; i++) if (losses[i] !== 0 && losses[i] !== 1) return false;
  return true;
}

/**
 * p-value for H₀: E[loss] ≥ α from losses in [0, 1]: the exact binomial tail for {0, 1} losses, else the named
 * bound's (see the module comment).
 */
export function riskPValue(losses: ArrayLike<number>, alpha: number, delta: number, bound: RiskBound = DEFAULT_RISK_BOUND): number {
  const n = losses.length;
  checkLosses('riskPValue', losses);
  if (isBinary(losses)) {
    let ones = 0;
    for (let i = 0; i < n; i++) ones += losses[i];
    return binomialPValue(ones, n, alpha);
  }
  if (bound === 'wsr') return wsrPValue(losses, alpha, delta);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += losses[i];
  return hoeffdingBentkusPValue(n === 0 ? 0 : Math.min(1, sum / n), n, alpha);
}

/** Options of `selectAlongPath`. */
export interface PathSelectionOptions {
  /** Target risk α (normalised, in [0, 1]; ≥ 1 accepts every point). */
  readonly alpha: number;
  /** Error level δ ∈ (0, 1) of `ltt` (ignored by `crc` and `naive`). */
  readonly delta: number;
  /** Selection rule. */
  readonly method: RiskMethod;
  /** Bound for `ltt` p-values on non-binary losses. Default `DEFAULT_RISK_BOUND`. */
  readonly bound?: RiskBound;
}

/** What `selectAlongPath` chose, and the statistics of every point it looked at. */
export interface PathSelection {
  /** Index of the chosen point: the last accepted, 0 (the safe end) when none was. */
  readonly index: number;
  /** Empirical mean loss of points 1..(first failure), in order (index j−1 holds point j). */
  readonly meanLoss: readonly number[];
  /** p-values of the same points (`ltt` only; empty otherwise). */
  readonly pValues: readonly number[];
}

/**
 * Walk a path from its safe end (point 0, never tested: its risk is ≤ α with certainty) and keep the last point
 * the rule accepts, stopping at the first it does not (module comment).
 * @param nPoints points on the path, ≥ 1.
 * @param lossesAt losses in [0, 1] of point j on the n calibration samples, in a fixed sample order; called for
 *   j = 1, 2, … up to the first rejection only.
 */
export function selectAlongPath(nPoints: number, lossesAt: (j: number) => ArrayLike<number>, opts: PathSelectionOptions): PathSelection {
  const src = 'selectAlongPath';
  if (!Number.isSafeInteger(nPoints) || nPoints < 1) throw new InputError(src, 'nPoints', 'an integer ≥ 1', String(nPoints));
  if (!(opts.alpha >= 0)) throw new InputError(src, 'alpha', 'a number ≥ 0', String(opts.alpha));
  if (opts.method === 'ltt') checkUnit(src, 'delta', opts.delta, true);
  const bound = opts.bound ?? DEFAULT_RISK_BOUND;
  const meanLoss: number[] = [];
  const pValues: number[] = [];
  let index = 0;
  for (let j = 1; j < nPoints; j++) {
    const losses = lossesAt(j);
    const n = losses.length;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += losses[i];
    const mean = n === 0 ? NaN : sum / n;
    meanLoss.push(mean);
    let accept: boolean;
    if (n === 0) accept = opts.alpha >= 1;
    else if (opts.alpha >= 1) accept = true;
    else if (opts.method === 'naive') accept = mean <= opts.alpha;
    else if (opts.method === 'crc') accept = (n * mean + 1) / (n + 1) <= opts.alpha;
    else {
      const p = riskPValue(losses, opts.alpha, opts.delta, bound);
      pValues.push(p);
      accept = p <= opts.delta && mean <= opts.alpha;
    }
    if (!accept) break;
    index = j;
  }
  return { index, meanLoss, pValues };
}
