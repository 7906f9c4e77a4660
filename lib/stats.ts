/**
 * Statistics for comparing exit policies on the same test split (see docs of issue 13 and
 * shared/research/statistics.md): a seeded paired bootstrap over test samples combined with the spread over a
 * stochastic policy's seeds, the exact McNemar test, Holm's step-down correction, Wilson and Clopper–Pearson
 * intervals for proportions, Student-t intervals over replications, batch means inside one long run, budget
 * curves (accuracy at matched cost, normalised area under the accuracy–cost curve, cost to reach a target
 * accuracy) and a compact encoding of per-sample exits for records.
 *
 * Reporting code computes these from records; nothing here runs a policy.
 */
import { InputError, describe } from './errors.ts';
import { Rng } from './random.ts';

// ---------------------------------------------------------------------------------------------------------------
// Intervals and distributions
// ---------------------------------------------------------------------------------------------------------------

/** A point estimate with a two-sided interval at `level` (e.g. 0.95), in the unit of the estimate. */
export interface Interval {
  /** The point estimate (not necessarily the interval's midpoint). */
  readonly mean: number;
  /** Lower end. */
  readonly lo: number;
  /** Upper end. */
  readonly hi: number;
}

function checkLevel(source: string, level: number): void {
  if (!(level > 0 && level < 1)) throw new InputError(source, 'level', 'a confidence level in (0, 1), e.g. 0.95', String(level));
}

/**
 * Quantile of the standard normal distribution (Acklam's rational approximation, relative error < 1.2e-9).
 * @param p probability in (0, 1).
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new InputError('normalQuantile', 'p', 'a probability in (0, 1)', String(p));
  const a = [-39.69683028665376, 220.9460984245205, -275.928510446969, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lowTail = 0.02425;
  let x: number;
  if (p < lowTail) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - lowTail) {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  return x;
}

/** log Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error ~1e-15). */
function logGamma(x: number): number {
  const g = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  x -= 1;
  let s = g[0];
  for (let i = 1; i < 9; i++) s += g[i] / (x + i);
  const t = x + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(s);
}

/** Continued fraction of the regularised incomplete beta (modified Lentz; Numerical Recipes §6.4). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** Regularised incomplete beta I_x(a, b) for a, b > 0 and x in [0, 1]. */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0) || !(b > 0)) throw new InputError('incompleteBeta', 'a, b', 'positive shape parameters', `${a}, ${b}`);
  if (!(x >= 0 && x <= 1)) throw new InputError('incompleteBeta', 'x', 'a number in [0, 1]', String(x));
  if (x === 0 || x === 1) return x;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
  // The continued fraction converges fast for x < (a+1)/(a+b+2); use the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) beyond.
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaContinuedFraction(a, b, x)) / a;
  return 1 - (Math.exp(lnFront) * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** Quantile of Beta(a, b) by bisection on `incompleteBeta` (60 halvings: exact to double precision on [0, 1]). */
function betaQuantile(p: number, a: number, b: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (incompleteBeta(mid, a, b) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * Quantile of Student's t distribution with `df` degrees of freedom, from the incomplete beta
 * (P[|T| > t] = I_{df/(df+t²)}(df/2, 1/2)), by bisection.
 * @param p probability in (0, 1); @param df degrees of freedom > 0.
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new InputError('studentTQuantile', 'p', 'a probability in (0, 1)', String(p));
  if (!(df > 0)) throw new InputError('studentTQuantile', 'df', 'degrees of freedom > 0', String(df));
  if (p === 0.5) return 0;
  const tail = p < 0.5 ? p : 1 - p; // one-sided tail mass beyond |t|
  // Bracket: the t quantile is at least the normal one; double the upper end until the tail is small enough.
  const tailAt = (t: number) => 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  let lo = 0;
  let hi = Math.max(1, -normalQuantile(tail));
  while (tailAt(hi) > tail) hi *= 2;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (tailAt(mid) > tail) lo = mid;
    else hi = mid;
  }
  const t = (lo + hi) / 2;
  return p < 0.5 ? -t : t;
}

/**
 * Wilson score interval for a binomial proportion (Wilson 1927): (p̂ + z²/2n ± z·sqrt(p̂(1−p̂)/n + z²/4n²)) /
 * (1 + z²/n). Stays inside [0, 1] and is sensible at 0 or n successes, unlike a t- or Wald interval; use it for
 * every 0/1 metric and share (accuracy of one run, share of seeds meeting a budget, exit shares).
 * @param successes count in [0, n]; @param n trials ≥ 1; @param level confidence level, default 0.95.
 */
export function wilsonInterval(successes: number, n: number, level = 0.95): Interval {
  checkCounts('wilsonInterval', successes, n);
  checkLevel('wilsonInterval', level);
  const z = normalQuantile(1 - (1 - level) / 2);
  const p = successes / n;
  const z2n = (z * z) / n;
  const centre = (p + z2n / 2) / (1 + z2n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / (1 + z2n);
  return { mean: p, lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) };
}

/**
 * Clopper–Pearson exact interval for a binomial proportion: the Beta(k, n−k+1) and Beta(k+1, n−k) quantiles.
 * Conservative (coverage ≥ level for every p); prefer it for very small n.
 */
export function clopperPearsonInterval(successes: number, n: number, level = 0.95): Interval {
  checkCounts('clopperPearsonInterval', successes, n);
  checkLevel('clopperPearsonInterval', level);
  const a = (1 - level) / 2;
  return {
    mean: successes / n,
    lo: successes === 0 ? 0 : betaQuantile(a, successes, n - successes + 1),
    hi: successes === n ? 1 : betaQuantile(1 - a, successes + 1, n - successes),
  };
}

function checkCounts(source: string, k: number, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new InputError(source, 'n', 'an integer number of trials ≥ 1', String(n));
  if (!Number.isInteger(k) || k < 0 || k > n) throw new InputError(source, 'successes', `an integer in [0, ${n}]`, String(k));
}

/**
 * Student-t interval of the mean of independent replications (e.g. one value per seed of a queue run).
 * With one value the interval is undefined: `lo` and `hi` are NaN (the caller should say "one seed").
 */
export function tInterval(values: ArrayLike<number>, level = 0.95): Interval & { readonly n: number } {
  checkLevel('tInterval', level);
  const n = values.length;
  if (n === 0) return { mean: NaN, lo: NaN, hi: NaN, n };
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i];
  mean /= n;
  if (n === 1) return { mean, lo: NaN, hi: NaN, n };
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  const half = (studentTQuantile(1 - (1 - level) / 2, n - 1) * Math.sqrt(ss / (n - 1))) / Math.sqrt(n);
  return { mean, lo: mean - half, hi: mean + half, n };
}

/**
 * Batch means for one long, autocorrelated run (a queue simulation): drop the warm-up, cut the rest into
 * `batches` contiguous batches of equal length (the remainder at the end is dropped), and give the t-interval of
 * the batch means. Batches long compared with the correlation time are nearly independent (Law & Kelton,
 * *Simulation Modeling and Analysis*, §9.5.3); 20 batches is the usual choice.
 * @param series per-job (or per-time-step) values in run order.
 * @param opts.warmup leading values to discard (default 0); opts.batches (default 20, ≥ 2).
 */
export function batchMeans(series: ArrayLike<number>, opts: { warmup?: number; batches?: number; level?: number } = {}): Interval & { readonly batches: number; readonly batchLength: number } {
  const { warmup = 0, batches = 20, level = 0.95 } = opts;
  if (!Number.isInteger(warmup) || warmup < 0) throw new InputError('batchMeans', 'warmup', 'an integer ≥ 0', String(warmup));
  if (!Number.isInteger(batches) || batches < 2) throw new InputError('batchMeans', 'batches', 'an integer ≥ 2', String(batches));
  const len = Math.floor((series.length - warmup) / batches);
  if (len < 1) throw new InputError('batchMeans', 'series', `at least warmup + batches = ${warmup + batches} values`, `${series.length}`);
  const means = new Float64Array(batches);
  for (let b = 0; b < batches; b++) {
    let s = 0;
    const start = warmup + b * len;
    for (let i = 0; i < len; i++) s += series[start + i];
    means[b] = s / len;
  }
  const t = tInterval(means, level);
  return { mean: t.mean, lo: t.lo, hi: t.hi, batches, batchLength: len };
}

// ---------------------------------------------------------------------------------------------------------------
// Paired tests and multiple comparisons
// ---------------------------------------------------------------------------------------------------------------

/** Result of an exact McNemar test. */
export interface McNemarResult {
  /** Samples only A gets right. */
  readonly b: number;
  /** Samples only B gets right. */
  readonly c: number;
  /** Two-sided p-value; 1 when b + c = 0 (the policies agree on every sample). */
  readonly pValue: number;
}

/**
 * Exact McNemar test on the discordant counts (Dietterich 1998): under H0, b ~ Binomial(b + c, 1/2); two-sided
 * p = min(1, 2·P[X ≤ min(b, c)]). Computed in log space, so b + c in the tens of thousands is exact.
 */
export function mcnemarExact(b: number, c: number): number {
  if (!Number.isInteger(b) || b < 0) throw new InputError('mcnemarExact', 'b', 'a count ≥ 0', String(b));
  if (!Number.isInteger(c) || c < 0) throw new InputError('mcnemarExact', 'c', 'a count ≥ 0', String(c));
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  // log P[X = i] for i = 0..k, accumulated with log-sum-exp from the largest term (i = k).
  const logC = (i: number) => logGamma(n + 1) - logGamma(i + 1) - logGamma(n - i + 1);
  const top = logC(k) - n * Math.LN2;
  let s = 0;
  for (let i = 0; i <= k; i++) s += Math.exp(logC(i) - n * Math.LN2 - top);
  return Math.min(1, 2 * Math.exp(top) * s);
}

/**
 * McNemar's test of two policies' per-sample correctness on the same samples.
 * @param correctA 0/1 per sample (Uint8Array, length N); @param correctB the same samples in the same order.
 */
export function mcnemarTest(correctA: ArrayLike<number>, correctB: ArrayLike<number>): McNemarResult {
  if (correctA.length !== correctB.length) throw new InputError('mcnemarTest', 'correctB', `length ${correctA.length} (paired with correctA)`, String(correctB.length));
  let b = 0;
  let c = 0;
  for (let n = 0; n < correctA.length; n++) {
    const x = correctA[n] ? 1 : 0;
    const y = correctB[n] ? 1 : 0;
    if (x > y) b++;
    else if (y > x) c++;
  }
  return { b, c, pValue: mcnemarExact(b, c) };
}

/**
 * Holm's step-down correction (Holm 1979): sort the m p-values, compare the i-th smallest (1-based) with
 * α/(m − i + 1), and stop at the first that fails. Controls the family-wise error at α and is never less powerful
 * than Bonferroni. Adjusted p-values are max_{j ≤ i} min(1, (m − j + 1)·p_(j)), in the input order; `reject[i]`
 * is `adjusted[i] ≤ alpha`. NaN p-values (no test) are left out of m and never rejected.
 */
export function holm(pValues: readonly number[], alpha = 0.05): { adjusted: number[]; reject: boolean[] } {
  const idx = pValues.map((_, i) => i).filter((i) => !Number.isNaN(pValues[i]));
  for (const i of idx) {
    const p = pValues[i];
    if (!(p >= 0 && p <= 1)) throw new InputError('holm', `pValues[${i}]`, 'a p-value in [0, 1]', String(p));
  }
  idx.sort((i, j) => pValues[i] - pValues[j] || i - j);
  const m = idx.length;
  const adjusted = pValues.map(() => NaN);
  let running = 0;
  idx.forEach((i, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * pValues[i]));
    adjusted[i] = running;
  });
  return { adjusted, reject: adjusted.map((p) => !Number.isNaN(p) && p <= alpha) };
}

// ---------------------------------------------------------------------------------------------------------------
// The paired bootstrap
// ---------------------------------------------------------------------------------------------------------------

/**
 * A statistic with its bootstrap replicates: `point` is the estimate on the data as observed, `replicates[r]` its
 * value on resample r. Estimates from the same `PairedBootstrap` share resample indices, so a difference of two
 * (`derive`) is a paired difference.
 */
export interface Estimate {
  readonly point: number;
  /** One value per resample, Float64Array of length R. */
  readonly replicates: Float64Array;
}

/**
 * One policy's runs on a test split, as per-sample codes: `codes[s][n]` is a small integer in [0, C) describing
 * what happened to sample n under seed s (offline: exit·2 + correct, see `exitCodes`), and `values[m][code]` is
 * metric m's per-sample value for that code. Per-sample metrics that take few values (0/1 correctness, the cost of
 * one of K exits) make resampling a histogram over C codes, which is what keeps 2,000 resamples of 10,000 samples
 * for a hundred policies within a second or two.
 */
export interface CodedRuns {
  /** One Uint8Array of length N per seed (seeds whose codes are identical may be passed once). */
  readonly codes: readonly Uint8Array[];
  /** Metric name → per-code value, length C (≤ 256). */
  readonly values: Readonly<Record<string, ArrayLike<number>>>;
}

/** Options of `PairedBootstrap`. */
export interface BootstrapOptions {
  /** Number of resamples R (default 2000; at least 100). */
  readonly resamples?: number;
  /** Seed of the resample indices (default 0). One generator per (trace, split), shared by every policy. */
  readonly seed?: number;
}

/**
 * Seeded paired bootstrap over test samples (Efron & Tibshirani 1993, ch. 6; percentile intervals ch. 13).
 *
 * Resample r draws N sample indices with replacement from one generator (`new Rng(seed).fork('samples')`),
 * stored as a count per sample; every policy of the comparison is evaluated on those same counts, so differences
 * between policies are paired by sample.
 *
 * **Combination with seeds.** A stochastic policy run with S seeds has one code vector per seed. Its point estimate
 * is the mean over seeds; on resample r its replicate is the mean over S seeds drawn *with replacement* from its
 * seeds (a two-level bootstrap: samples, then seeds; Davison & Hinkley 1997, §3.8), so the interval carries both
 * the test-sample variation and the seed-to-seed variation of the S-seed mean. The seed draws come from
 * `new Rng(seed).fork('seeds:' + name)`, so adding a policy changes no other policy's replicates. A policy whose
 * seeds all give the same codes is deterministic and reduces to the one-level bootstrap.
 *
 * **Speed.** What a resample needs of a code vector is its histogram: for each code, the summed counts of the
 * samples with that code. Each distinct vector's histograms (one per resample) are kept, and a new vector's are
 * derived from the nearest kept one (fewest samples with a different code) or from a constant vector (whose
 * histogram is N on every resample, since counts sum to N), moving only the differing samples' counts. Policies
 * of a budget sweep differ from their neighbours on a small share of samples, so this is several times cheaper
 * than summing all N counts per resample. The result is the same as the direct sum (integer arithmetic).
 */
export class PairedBootstrap {
  /** Test samples N. */
  readonly nSamples: number;
  /** Resamples R. */
  readonly resamples: number;
  /** Seed of the resample indices. */
  readonly seed: number;
  // Per-sample counts over resamples, [sample][resample] row-major (a sample's row is contiguous, which is what
  // moving a sample between codes reads). Uint16: a count ≥ 65,536 in one resample has probability < 1e-100 for
  // any N; the constructor checks anyway.
  private readonly counts: Uint16Array;
  // Kept histograms: code vector and, per code present, Int32Array(R) of summed counts.
  private readonly kept: { codes: Uint8Array; hist: (Int32Array | undefined)[] }[] = [];

  /** @param nSamples test samples N ≥ 1. */
  constructor(nSamples: number, opts: BootstrapOptions = {}) {
    const { resamples = 2000, seed = 0 } = opts;
    if (!Number.isInteger(nSamples) || nSamples < 1) throw new InputError('PairedBootstrap', 'nSamples', 'an integer ≥ 1', String(nSamples));
    if (!Number.isInteger(resamples) || resamples < 100) throw new InputError('PairedBootstrap', 'resamples', 'an integer ≥ 100', String(resamples));
    if (!Number.isInteger(seed)) throw new InputError('PairedBootstrap', 'seed', 'an integer', String(seed));
    this.nSamples = nSamples;
    this.resamples = resamples;
    this.seed = seed;
    const R = resamples;
    const N = nSamples;
    const counts = new Uint16Array(N * R);
    const draw = new Rng(seed).fork('samples').intSampler(N);
    // Resamples are drawn in order (resample r's N indices, then r + 1's), but counted into a block of 16
    // resamples laid out [sample][16] first: the [sample][resample] array is too large for the cache, so writing
    // it one random sample at a time would miss on nearly every draw.
    const B = 16;
    const block = new Uint16Array(N * B);
    for (let r0 = 0; r0 < R; r0 += B) {
      const width = Math.min(B, R - r0);
      block.fill(0);
      for (let j = 0; j < width; j++) {
        for (let i = 0; i < N; i++) {
          const at = draw() * B + j;
          if (block[at] === 65535) throw new RangeError('PairedBootstrap: a sample count overflowed 16 bits');
          block[at]++;
        }
      }
      for (let n = 0; n < N; n++) {
        const to = n * R + r0;
        const from = n * B;
        for (let j = 0; j < width; j++) counts[to + j] = block[from + j];
      }
    }
    this.counts = counts;
  }

  /** Per-resample histograms of one code vector (cached; see the class comment). */
  private histograms(codes: Uint8Array): (Int32Array | undefined)[] {
    const N = this.nSamples;
    const R = this.resamples;
    // Reference: the constant vector at this vector's most common code, or the nearest kept vector.
    const freq = new Int32Array(256);
    for (let n = 0; n < N; n++) freq[codes[n]]++;
    let mode = 0;
    for (let c = 1; c < 256; c++) if (freq[c] > freq[mode]) mode = c;
    let best = N - freq[mode];
    let ref: { codes: Uint8Array; hist: (Int32Array | undefined)[] } | undefined;
    // (best = 0: the vector is constant, and its histogram is exact without a search.)
    for (const k of best === 0 ? [] : this.kept) {
      let d = 0;
      const kc = k.codes;
      for (let n = 0; n < N && d < best; n++) if (kc[n] !== codes[n]) d++;
      if (d < best) {
        best = d;
        ref = k;
      }
      if (d === 0) return k.hist;
    }
    const hist: (Int32Array | undefined)[] = new Array(256).fill(undefined);
    const row = (c: number) => (hist[c] ??= new Int32Array(R));
    let from: Uint8Array;
    if (ref) {
      ref.hist.forEach((h, c) => (hist[c] = h && Int32Array.from(h)));
      from = ref.codes;
    } else {
      row(mode).fill(N);
      from = new Uint8Array(N).fill(mode);
    }
    const counts = this.counts;
    for (let n = 0; n < N; n++) {
      const a = from[n];
      const b = codes[n];
      if (a === b) continue;
      const ha = row(a);
      const hb = row(b);
      const base = n * R;
      for (let r = 0; r < R; r++) {
        const w = counts[base + r];
        ha[r] -= w;
        hb[r] += w;
      }
    }
    this.kept.push({ codes, hist });
    return hist;
  }

  /**
   * Bootstrap estimates of the mean of each metric of `runs` (see `CodedRuns`), with the two-level rule for
   * several seeds described on the class.
   * @param name the policy's name in the comparison (labels its seed-draw stream).
   * @returns metric name → Estimate of the per-sample mean.
   */
  means(name: string, runs: CodedRuns): Record<string, Estimate> {
    const source = `PairedBootstrap.means("${name}")`;
    const N = this.nSamples;
    const R = this.resamples;
    const S = runs.codes.length;
    if (S === 0) throw new InputError(source, 'codes', 'at least one seed', 'none');
    const metrics = Object.keys(runs.values);
    let C = 0;
    for (const m of metrics) C = Math.max(C, runs.values[m].length);
    if (C < 1 || C > 256) throw new InputError(source, 'values', 'per-code arrays of length 1..256', String(C));
    for (const m of metrics) {
      if (runs.values[m].length !== C) throw new InputError(source, `values.${m}`, `length ${C} like the other metrics`, String(runs.values[m].length));
    }
    runs.codes.forEach((codes, s) => {
      if (codes.length !== N) throw new InputError(source, `codes[${s}]`, `length N = ${N}`, describe(codes));
      for (let n = 0; n < N; n++) if (codes[n] >= C) throw new InputError(source, `codes[${s}][${n}]`, `a code < ${C}`, String(codes[n]));
    });
    // Collapse identical seeds (a deterministic policy run with several seeds) to one vector, keeping which
    // vector each original seed had, so the seed draw below still picks among the S original seeds.
    const distinct: Uint8Array[] = [];
    const seedOf = new Int32Array(S);
    for (let s = 0; s < S; s++) {
      const c = runs.codes[s];
      let found = distinct.findIndex((d) => sameBytes(d, c));
      if (found < 0) {
        found = distinct.length;
        distinct.push(c);
      }
      seedOf[s] = found;
    }
    const hists = distinct.map((c) => this.histograms(c));
    const fulls = distinct.map((codes) => {
      const f = new Float64Array(C);
      for (let n = 0; n < N; n++) f[codes[n]]++;
      return f;
    });
    const pick = distinct.length === 1 ? undefined : new Rng(this.seed).fork(`seeds:${name}`).intSampler(S);
    const seedDraws = new Int32Array(R * S);
    for (let i = 0; i < R * S; i++) seedDraws[i] = pick ? seedOf[pick()] : 0;
    const out: Record<string, Estimate> = {};
    for (const m of metrics) {
      const v = runs.values[m];
      let point = 0;
      for (let s = 0; s < S; s++) {
        const f = fulls[seedOf[s]];
        for (let c = 0; c < C; c++) point += f[c] * v[c];
      }
      point /= S * N;
      // perResample[d][r]: metric mean of distinct vector d on resample r.
      const perResample = hists.map((h) => {
        const x = new Float64Array(R);
        for (let c = 0; c < C; c++) {
          const hc = h[c];
          if (!hc || v[c] === 0) continue;
          const vc = v[c];
          for (let r = 0; r < R; r++) x[r] += hc[r] * vc;
        }
        for (let r = 0; r < R; r++) x[r] /= N;
        return x;
      });
      const replicates = new Float64Array(R);
      if (perResample.length === 1) replicates.set(perResample[0]);
      else {
        for (let r = 0; r < R; r++) {
          let acc = 0;
          for (let j = 0; j < S; j++) acc += perResample[seedDraws[r * S + j]][r];
          replicates[r] = acc / S;
        }
      }
      out[m] = { point, replicates };
    }
    return out;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Offline per-sample codes: code = exit·2 + correct(sample, exit), with per-code metric values `accuracy` (0/1)
 * and `meanCostMs` (the exit's cumulative cost, ms). Feed to `PairedBootstrap.means`.
 * @param exits per seed, the exit of each test sample (Int32Array or Uint8Array, length N).
 * @param correct the trace's correctness, [sample][exit] row-major, 0/1, length N·K.
 * @param costMs cumulative cost of each exit, ms, length K ≤ 128.
 */
export function exitCodes(exits: readonly ArrayLike<number>[], correct: ArrayLike<number>, costMs: readonly number[]): CodedRuns {
  const K = costMs.length;
  if (K < 1 || K > 128) throw new InputError('exitCodes', 'costMs', 'between 1 and 128 exits', String(K));
  const codes = exits.map((e, s) => {
    const N = e.length;
    if (correct.length !== N * K) throw new InputError('exitCodes', 'correct', `length N·K = ${N * K}`, String(correct.length));
    const out = new Uint8Array(N);
    for (let n = 0; n < N; n++) {
      const k = e[n];
      if (!Number.isInteger(k) || k < 0 || k >= K) throw new InputError('exitCodes', `exits[${s}][${n}]`, `an exit in [0, ${K - 1}]`, String(k));
      out[n] = k * 2 + (correct[n * K + k] ? 1 : 0);
    }
    return out;
  });
  const accuracy = new Float64Array(2 * K);
  const meanCostMs = new Float64Array(2 * K);
  for (let k = 0; k < K; k++) {
    accuracy[2 * k + 1] = 1;
    meanCostMs[2 * k] = meanCostMs[2 * k + 1] = costMs[k];
  }
  return { codes, values: { accuracy, meanCostMs } };
}

/**
 * A statistic of other estimates, computed on the point estimates and on every resample with the same function
 * (e.g. a paired difference `derive([a, b], (x, y) => x - y)`, a relative overshoot `derive([cost], c => c / B - 1)`).
 * All inputs must come from the same `PairedBootstrap` (same R).
 */
export function derive(inputs: readonly Estimate[], f: (...xs: number[]) => number): Estimate {
  if (inputs.length === 0) throw new InputError('derive', 'inputs', 'at least one estimate', 'none');
  const R = inputs[0].replicates.length;
  for (const e of inputs) if (e.replicates.length !== R) throw new InputError('derive', 'inputs', `estimates with R = ${R} replicates`, String(e.replicates.length));
  const xs = new Array<number>(inputs.length);
  const replicates = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < inputs.length; i++) xs[i] = inputs[i].replicates[r];
    replicates[r] = f(...xs);
  }
  return { point: f(...inputs.map((e) => e.point)), replicates };
}

/** A constant as an Estimate (every replicate equal), for mixing fixed numbers into `derive` and curves. */
export function constantEstimate(value: number, resamples: number): Estimate {
  return { point: value, replicates: new Float64Array(resamples).fill(value) };
}

/**
 * Percentile interval of an estimate (Efron & Tibshirani 1993, §13.3): the (1−level)/2 and (1+level)/2 quantiles
 * of the replicates (linear interpolation between order statistics). Infinite replicates (a target never reached)
 * sort to the ends; NaN replicates are an error.
 */
export function percentileInterval(e: Estimate, level = 0.95): Interval {
  checkLevel('percentileInterval', level);
  const sorted = Float64Array.from(e.replicates).sort();
  if (sorted.length === 0 || Number.isNaN(sorted[sorted.length - 1])) {
    if (sorted.length > 0 && Number.isNaN(e.point)) return { mean: NaN, lo: NaN, hi: NaN };
    if (sorted.length > 0) throw new InputError('percentileInterval', 'replicates', 'no NaN values', 'NaN');
  }
  const q = (p: number) => {
    const x = p * (sorted.length - 1);
    const i = Math.floor(x);
    const f = x - i;
    if (f === 0 || i + 1 >= sorted.length) return sorted[i];
    const a = sorted[i];
    const b = sorted[i + 1];
    return a === b ? a : a + f * (b - a);
  };
  return { mean: e.point, lo: q((1 - level) / 2), hi: q((1 + level) / 2) };
}

/**
 * Two-sided bootstrap p-value of H0 "the statistic is 0" (for a paired difference). With enough replicates on the
 * far side of 0 (≥ 10) it is the counted share, doubled, with the +1 correction: min(1, 2·(min(#≤0, #≥0) + 1) /
 * (R + 1)). Beyond that the count cannot resolve the tail — its floor 2/(R + 1) ≈ 0.001 would make any difference
 * a tie after Holm over more than ~50 comparisons — so the tail is read from a normal fit to the replicates,
 * 2·Φ(−|point| / sd(replicates)) (Efron & Tibshirani 1993, §16.4's normal approximation of the bootstrap
 * distribution). Two identical policies (every replicate exactly 0) get p = 1.
 */
export function bootstrapPValue(diff: Estimate): number {
  const R = diff.replicates.length;
  let le = 0;
  let ge = 0;
  let sum = 0;
  for (const x of diff.replicates) {
    if (x <= 0) le++;
    if (x >= 0) ge++;
    sum += x;
  }
  if (le === R && ge === R) return 1;
  const far = Math.min(le, ge);
  if (far >= 10) return Math.min(1, (2 * (far + 1)) / (R + 1));
  const mean = sum / R;
  let ss = 0;
  for (const x of diff.replicates) ss += (x - mean) ** 2;
  const sd = Math.sqrt(ss / (R - 1));
  if (!(sd > 0)) return diff.point === 0 ? 1 : 0;
  return Math.min(1, 2 * normalCdf(-Math.abs(diff.point) / sd));
}

/** Standard normal CDF Φ(z), from the regularised incomplete gamma of ½z² (exact to double precision). */
function normalCdf(z: number): number {
  // Φ(−|z|) = ½·Q(½, z²/2) = ½·(1 − P(½, z²/2)); P via its series, Q via its continued fraction (NR §6.2).
  const x = (z * z) / 2;
  let q: number;
  if (x < 1.5) {
    let term = 1 / 0.5;
    let sum = term;
    for (let n = 1; n < 200; n++) {
      term *= x / (0.5 + n);
      sum += term;
      if (term < sum * 1e-16) break;
    }
    q = 1 - sum * Math.exp(-x + 0.5 * Math.log(x) - logGamma(0.5));
  } else {
    const tiny = 1e-300;
    let b = x + 0.5;
    let c = 1 / tiny;
    let d = 1 / b;
    let h = d;
    for (let i = 1; i < 300; i++) {
      const an = -i * (i - 0.5);
      b += 2;
      d = an * d + b;
      if (Math.abs(d) < tiny) d = tiny;
      c = b + an / c;
      if (Math.abs(c) < tiny) c = tiny;
      d = 1 / d;
      const del = d * c;
      h *= del;
      if (Math.abs(del - 1) < 1e-16) break;
    }
    q = Math.exp(-x + 0.5 * Math.log(x) - logGamma(0.5)) * h;
  }
  const tail = q / 2;
  return z < 0 ? tail : 1 - tail;
}

// ---------------------------------------------------------------------------------------------------------------
// Budget curves
// ---------------------------------------------------------------------------------------------------------------

/** One point of an accuracy–cost curve: mean cost (ms, or FLOPs) and accuracy, each with replicates. */
export interface CurvePoint {
  readonly cost: Estimate;
  readonly accuracy: Estimate;
}

/** Linear interpolation of y at x on points (xs, ys) sorted by x; flat beyond the ends. */
function interpolate(xs: ArrayLike<number>, ys: ArrayLike<number>, x: number): number {
  const n = xs.length;
  if (x <= xs[0]) return ys[0];
  if (x >= xs[n - 1]) return ys[n - 1];
  let i = 1;
  while (xs[i] < x) i++;
  const x0 = xs[i - 1];
  const x1 = xs[i];
  return x1 === x0 ? Math.max(ys[i - 1], ys[i]) : ys[i - 1] + ((ys[i] - ys[i - 1]) * (x - x0)) / (x1 - x0);
}

/** Points of one replicate (or of the point estimates when r < 0), sorted by cost. */
function curveAt(curve: readonly CurvePoint[], r: number): { xs: Float64Array; ys: Float64Array } {
  const pts = curve.map((p) => (r < 0 ? [p.cost.point, p.accuracy.point] : [p.cost.replicates[r], p.accuracy.replicates[r]]));
  pts.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return { xs: Float64Array.from(pts, (p) => p[0]), ys: Float64Array.from(pts, (p) => p[1]) };
}

function checkCurve(source: string, curve: readonly CurvePoint[]): number {
  if (curve.length < 1) throw new InputError(source, 'curve', 'at least one point', 'none');
  return curve[0].cost.replicates.length;
}

/**
 * The cost range every curve covers on the point estimates: [max of the curves' lowest costs, min of their highest].
 * Empty (lo > hi) when some curve lies entirely to one side of another; then there is no matched-cost comparison.
 */
export function commonCostRange(curves: readonly (readonly CurvePoint[])[]): { lo: number; hi: number } {
  let lo = -Infinity;
  let hi = Infinity;
  for (const c of curves) {
    const xs = c.map((p) => p.cost.point);
    lo = Math.max(lo, Math.min(...xs));
    hi = Math.min(hi, Math.max(...xs));
  }
  return { lo, hi };
}

/** `count` costs evenly spaced on [lo, hi] inclusive (one point when lo = hi). */
export function costGrid(lo: number, hi: number, count: number): number[] {
  if (!Number.isInteger(count) || count < 1) throw new InputError('costGrid', 'count', 'an integer ≥ 1', String(count));
  if (!(lo <= hi)) throw new InputError('costGrid', 'lo, hi', 'lo ≤ hi', `${lo}, ${hi}`);
  if (count === 1 || lo === hi) return [lo];
  return Array.from({ length: count }, (_, i) => lo + ((hi - lo) * i) / (count - 1));
}

/**
 * Accuracy at matched cost: the curve (points sorted by cost, joined linearly) read at each cost of `grid`, on the
 * point estimates and on every resample. The grid is fixed (from the point estimates, e.g. `costGrid` over
 * `commonCostRange`); a resample whose curve ends a little inside a grid cost is read flat from its end point.
 * @returns one Estimate per grid cost.
 */
export function accuracyAtCost(curve: readonly CurvePoint[], grid: readonly number[]): Estimate[] {
  const R = checkCurve('accuracyAtCost', curve);
  const p = curveAt(curve, -1);
  const out = grid.map((x) => ({ point: interpolate(p.xs, p.ys, x), replicates: new Float64Array(R) }));
  for (let r = 0; r < R; r++) {
    const c = curveAt(curve, r);
    grid.forEach((x, i) => (out[i].replicates[r] = interpolate(c.xs, c.ys, x)));
  }
  return out;
}

/** ∫ of the piecewise-linear curve over [lo, hi] divided by (hi − lo) (flat beyond its ends); y at lo if lo = hi. */
function meanOver(xs: Float64Array, ys: Float64Array, lo: number, hi: number): number {
  if (hi <= lo) return interpolate(xs, ys, lo);
  const cuts = [lo, ...Array.from(xs).filter((x) => x > lo && x < hi), hi];
  let area = 0;
  for (let i = 1; i < cuts.length; i++) area += ((interpolate(xs, ys, cuts[i - 1]) + interpolate(xs, ys, cuts[i])) / 2) * (cuts[i] - cuts[i - 1]);
  return area / (hi - lo);
}

/**
 * Normalised area under the accuracy–cost curve over [lo, hi] (normally `commonCostRange` of the compared
 * curves): ∫ accuracy d(cost) / (hi − lo), i.e. the mean accuracy over the range, with replicates.
 */
export function normalisedAuc(curve: readonly CurvePoint[], lo: number, hi: number): Estimate {
  const R = checkCurve('normalisedAuc', curve);
  if (!(lo <= hi)) throw new InputError('normalisedAuc', 'lo, hi', 'lo ≤ hi', `${lo}, ${hi}`);
  const p = curveAt(curve, -1);
  const replicates = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    const c = curveAt(curve, r);
    replicates[r] = meanOver(c.xs, c.ys, lo, hi);
  }
  return { point: meanOver(p.xs, p.ys, lo, hi), replicates };
}

/** Lowest cost at which the piecewise-linear curve reaches y ≥ target (linear within a segment); ∞ if never. */
function firstReach(xs: Float64Array, ys: Float64Array, target: number): number {
  if (ys[0] >= target) return xs[0];
  for (let i = 1; i < xs.length; i++) {
    if (ys[i] >= target) return xs[i - 1] + ((target - ys[i - 1]) * (xs[i] - xs[i - 1])) / (ys[i] - ys[i - 1]);
  }
  return Infinity;
}

/**
 * Cost to reach a target accuracy (e.g. 0.99 × the full network's accuracy, itself an Estimate from the same
 * bootstrap so that the target moves with each resample): the lowest cost on the curve where accuracy ≥ target.
 * Infinity on the point estimate or on a resample where the curve never reaches it (the interval's upper end is
 * then ∞: "not reached with 95% confidence").
 */
export function costToReach(curve: readonly CurvePoint[], target: Estimate): Estimate {
  const R = checkCurve('costToReach', curve);
  if (target.replicates.length !== R) throw new InputError('costToReach', 'target', `an estimate with R = ${R} replicates`, String(target.replicates.length));
  const p = curveAt(curve, -1);
  const replicates = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    const c = curveAt(curve, r);
    replicates[r] = firstReach(c.xs, c.ys, target.replicates[r]);
  }
  return { point: firstReach(p.xs, p.ys, target.point), replicates };
}

// ---------------------------------------------------------------------------------------------------------------
// Per-sample exits in records
// ---------------------------------------------------------------------------------------------------------------

/**
 * Encode per-sample exits compactly for a JSON record: base64 of one byte per sample (exits 0..255), about 1.33
 * characters per sample (13 kB for 10,000 samples).
 * @param exits exit of each sample (Int32Array or Uint8Array), each an integer in [0, 255].
 */
export function encodeExits(exits: ArrayLike<number>): string {
  const bytes = new Uint8Array(exits.length);
  for (let n = 0; n < exits.length; n++) {
    const e = exits[n];
    if (!Number.isInteger(e) || e < 0 || e > 255) throw new InputError('encodeExits', `exits[${n}]`, 'an exit index in [0, 255]', String(e));
    bytes[n] = e;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * Decode `encodeExits`'s string back to one exit per sample.
 * @param nSamples the expected N (checked); @param nExits K, every exit must be < K (checked).
 * @returns Uint8Array of length N.
 */
export function decodeExits(encoded: string, nSamples: number, nExits: number, source = 'decodeExits'): Uint8Array {
  if (typeof encoded !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) throw new InputError(source, 'exits', 'a base64 string', describe(encoded));
  const buf = Buffer.from(encoded, 'base64');
  if (buf.length !== nSamples) throw new InputError(source, 'exits', `${nSamples} encoded samples`, String(buf.length));
  const out = new Uint8Array(buf.buffer, buf.byteOffset, buf.length).slice();
  for (let n = 0; n < out.length; n++) if (out[n] >= nExits) throw new InputError(source, `exits[${n}]`, `an exit index in [0, ${nExits - 1}]`, String(out[n]));
  return out;
}
