/**
 * Summary statistics of an experiment's records (issue 13): intervals over test samples and seeds, paired tests
 * against baselines with Holm's correction, and budget curves. Reads records (and, for parts whose records carry
 * per-sample exits, the test split's correctness and exit costs); never runs a policy. The methods are in
 * lib/stats.ts and docs/statistics.md.
 *
 * - Rows with per-sample exits (offline): seeded paired bootstrap over test samples, two-level with the seeds, one
 *   generator per trace shared by every row of that trace; accuracy, mean cost, relative cost and the test
 *   overshoot of the budget in percent.
 * - Other rows: a binary (0/1 per run) metric gets a Wilson interval on the count over seeds, any other metric a
 *   Student-t interval over seeds (independent replications). One seed: no interval (method "one seed").
 * - Comparisons with a baseline at the same trace and axis values: accuracy by the exact McNemar test when both
 *   rows are deterministic (one exit vector), else by the paired bootstrap of the difference; other metrics with
 *   sample-level replicates by the paired bootstrap; rows without (queue, online) by Welch's t-test over seeds.
 *   Holm's correction runs across all comparisons of one table (one part, one metric).
 */
import { InputError } from '../../lib/errors.ts';
import { Rng } from '../../lib/random.ts';
import {
  PairedBootstrap,
  bootstrapPValue,
  commonCostRange,
  costGrid,
  costToReach,
  accuracyAtCost,
  decodeExits,
  derive,
  exitCodes,
  holm,
  mcnemarTest,
  normalisedAuc,
  percentileInterval,
  studentTQuantile,
  tInterval,
  wilsonInterval,
  incompleteBeta,
  type CurvePoint,
  type Estimate,
} from '../../lib/stats.ts';

/** How an interval was computed. */
export type IntervalMethod = 'bootstrap' | 'bootstrap×seeds' | 'wilson' | 't' | 'batch means' | 'one seed';

/** A summary value: point estimate and 95% interval (NaN ends when there is none), and how it was computed. */
export interface SummaryStat {
  readonly mean: number;
  readonly lo: number;
  readonly hi: number;
  /** Seeds (runs) the value pools. */
  readonly n: number;
  readonly method: IntervalMethod;
}

/** The record fields these statistics read (a subset of the harness's `CellRecord`). */
export interface StatRecord {
  readonly part: string;
  readonly trace: string;
  readonly label: string;
  readonly axes: Readonly<Record<string, number | string>>;
  readonly seed: number;
  readonly budgetMs: number | null;
  readonly metrics: Readonly<Record<string, number>>;
  /** Per-sample exits on the test split, `encodeExits` (offline records). */
  readonly exits?: string;
}

/** What the statistics need of a trace's test split for rows with per-sample exits. */
export interface TestSplit {
  /** Samples N. */
  readonly nSamples: number;
  /** Cumulative cost of each exit, ms, length K. */
  readonly costMs: readonly number[];
  /** Correctness, [sample][exit] row-major, 0/1, length N·K. */
  readonly correct: ArrayLike<number>;
  /** Cumulative FLOPs of each exit, when the manifest has them (adds the metric `meanFlops`). */
  readonly flops?: readonly number[];
}

/** Resamples of every bootstrap in a summary. */
export const RESAMPLES = 2000;
/** Family-wise error rate of each comparison table. */
export const ALPHA = 0.05;

/** A group of records: one row of a summary (a cell without its seed). */
export interface StatGroup {
  readonly records: readonly StatRecord[];
}

/** Sample-level estimates of one row (rows with per-sample exits). */
export interface RowEstimates {
  readonly estimates: Readonly<Record<string, Estimate>>;
  /** Per-sample correctness (0/1) when the row is deterministic (all seeds the same exits), for McNemar. */
  readonly correct: Uint8Array | undefined;
  /** The full network's accuracy on the same resamples (every sample at the last exit), and its cost, ms. */
  readonly fullAccuracy: Estimate;
  readonly fullCostMs: number;
}

/** The bootstrap seed of a trace: fixed, so a report is reproducible, and distinct per trace. */
export function bootstrapSeed(trace: string): number {
  return new Rng(13).fork(`bootstrap:${trace}`).seed;
}

/**
 * Sample-level estimates of every group of one trace (groups whose records all carry exits), on one shared
 * `PairedBootstrap`. Metrics: `accuracy`, `meanCostMs`, `relativeCost` (mean cost / last exit's cost), `meanFlops`
 * when the split has FLOPs, and for budgeted rows `testOvershootPct` = (test mean cost / budget − 1)·100 (negative: under budget).
 * @returns estimates per group (same order as `groups`; undefined for groups without exits) and the full network's
 *   accuracy (every sample at the last exit) as an Estimate on the same resamples.
 */
export function traceEstimates(trace: string, groups: readonly StatGroup[], split: TestSplit, resamples = RESAMPLES): { rows: (RowEstimates | undefined)[]; fullAccuracy: Estimate; fullCostMs: number } {
  const { nSamples: N, costMs } = split;
  const K = costMs.length;
  const bs = new PairedBootstrap(N, { resamples, seed: bootstrapSeed(trace) });
  const fullAccuracy = bs.means('full network', exitCodes([new Uint8Array(N).fill(K - 1)], split.correct, costMs)).accuracy;
  const fullCostMs = costMs[K - 1];
  const rows = groups.map((g, i): RowEstimates | undefined => {
    if (g.records.length === 0 || g.records.some((r) => typeof r.exits !== 'string')) return undefined;
    const exits = g.records.map((r) => decodeExits(r.exits!, N, K, `record of "${r.label}" on ${trace}`));
    const coded = exitCodes(exits, split.correct, costMs);
    const flops = split.flops;
    const values = flops ? { ...coded.values, meanFlops: Float64Array.from({ length: 2 * K }, (_, c) => flops[c >> 1]) } : coded.values;
    const e = bs.means(`${i}:${g.records[0].label}`, { codes: coded.codes, values });
    const estimates: Record<string, Estimate> = { accuracy: e.accuracy, meanCostMs: e.meanCostMs, relativeCost: derive([e.meanCostMs], (c) => c / costMs[K - 1]) };
    if (e.meanFlops) estimates.meanFlops = e.meanFlops;
    const B = g.records[0].budgetMs;
    if (B !== null && B > 0) estimates.testOvershootPct = derive([e.meanCostMs], (c) => (c / B - 1) * 100);
    const deterministic = exits.every((x) => sameBytes(x, exits[0]));
    const correct = deterministic ? Uint8Array.from(exits[0], (k, n) => (split.correct[n * K + k] ? 1 : 0)) : undefined;
    return { estimates, correct, fullAccuracy, fullCostMs };
  });
  return { rows, fullAccuracy, fullCostMs };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return a.length === b.length;
}

/**
 * The summary value of a sample-level estimate pooling `n` seeds; `stochastic`: the seeds' exits differ, so the
 * interval is the two-level one (default: n > 1).
 */
export function fromEstimate(e: Estimate, n: number, stochastic = n > 1): SummaryStat {
  const ci = percentileInterval(e);
  return { mean: ci.mean, lo: ci.lo, hi: ci.hi, n, method: stochastic ? 'bootstrap×seeds' : 'bootstrap' };
}

/**
 * The summary value of a metric from its per-seed values (no sample-level data): with `binary` (a metric that is
 * 0 or 1 per run by definition, e.g. "budget met"), the Wilson interval of the count over seeds; else the
 * Student-t interval over seeds (independent replications). With one value, no interval ("one seed"). A share
 * that happens to be 0 in every seed (a loss ratio at light load) is not binary: its t-interval is [0, 0].
 */
export function overSeeds(values: readonly number[], binary = false): SummaryStat {
  const xs = values.filter((v) => Number.isFinite(v));
  const n = xs.length;
  if (n === 0) return { mean: NaN, lo: NaN, hi: NaN, n, method: 'one seed' };
  if (binary && xs.every((x) => x === 0 || x === 1)) {
    const w = wilsonInterval(xs.filter((x) => x === 1).length, n);
    return { mean: w.mean, lo: w.lo, hi: w.hi, n, method: 'wilson' };
  }
  const t = tInterval(xs);
  return { mean: t.mean, lo: t.lo, hi: t.hi, n, method: n > 1 ? 't' : 'one seed' };
}

/**
 * Interval of a one-seed run's metric from its batch means (`batches`: the metric in each batch after the
 * warm-up): the recorded whole-run value ± the t half-width of the batch means.
 */
export function fromBatches(value: number, batches: readonly number[]): SummaryStat {
  const t = tInterval(batches);
  const half = (t.hi - t.lo) / 2;
  return { mean: value, lo: value - half, hi: value + half, n: 1, method: 'batch means' };
}

/** One comparison of a row with a baseline on one metric. */
export interface Comparison {
  readonly metric: string;
  /** Row value minus baseline value, with its 95% interval (paired where the rows have sample-level data). */
  readonly diff: SummaryStat;
  /** Unadjusted two-sided p-value (NaN: no test possible, e.g. one seed without sample-level data). */
  readonly pValue: number;
  /** Holm-adjusted p-value within the table. */
  adjusted: number;
  /** The test used. */
  readonly test: 'McNemar (exact)' | 'paired bootstrap' | 'Welch t over seeds' | 'Welch t over batch means' | 'none';
  /** better / worse (significant at α after Holm, in the metric's better direction) or tie. */
  verdict: 'better' | 'worse' | 'tie';
}

/**
 * Compare a row with a baseline on one metric. `a` and `b` are the rows' sample-level estimates when both have
 * them; otherwise their `values` are compared with Welch's t-test: per-seed values, or (`batches`, one-seed queue
 * runs) the batch means of the one run.
 */
export function compareRows(
  metric: string,
  a: { est?: RowEstimates; values: readonly number[]; batches?: boolean },
  b: { est?: RowEstimates; values: readonly number[]; batches?: boolean },
): Omit<Comparison, 'adjusted' | 'verdict'> {
  const ea = a.est?.estimates[metric];
  const eb = b.est?.estimates[metric];
  if (ea && eb) {
    const d = derive([ea, eb], (x, y) => x - y);
    const ci = percentileInterval(d);
    const diff: SummaryStat = { mean: ci.mean, lo: ci.lo, hi: ci.hi, n: 0, method: 'bootstrap' };
    if (metric === 'accuracy' && a.est!.correct && b.est!.correct) return { metric, diff, pValue: mcnemarTest(a.est!.correct, b.est!.correct).pValue, test: 'McNemar (exact)' };
    return { metric, diff, pValue: bootstrapPValue(d), test: 'paired bootstrap' };
  }
  const w = welch(a.values, b.values);
  return { metric, diff: w.diff, pValue: w.pValue, test: Number.isNaN(w.pValue) ? 'none' : a.batches && b.batches ? 'Welch t over batch means' : 'Welch t over seeds' };
}

/** Welch's unequal-variance t-test and interval of mean(a) − mean(b); NaN when either side has < 2 values. */
function welch(a: readonly number[], b: readonly number[]): { diff: SummaryStat; pValue: number } {
  const m = (x: readonly number[]) => x.reduce((s, v) => s + v, 0) / x.length;
  const v = (x: readonly number[], mx: number) => x.reduce((s, y) => s + (y - mx) ** 2, 0) / (x.length - 1);
  const ma = m(a);
  const mb = m(b);
  const mean = ma - mb;
  if (a.length < 2 || b.length < 2) return { diff: { mean, lo: NaN, hi: NaN, n: Math.min(a.length, b.length), method: 'one seed' }, pValue: NaN };
  const sa = v(a, ma) / a.length;
  const sb = v(b, mb) / b.length;
  const se = Math.sqrt(sa + sb);
  const n = Math.min(a.length, b.length);
  if (se === 0) return { diff: { mean, lo: mean, hi: mean, n, method: 't' }, pValue: mean === 0 ? 1 : 0 };
  const df = (sa + sb) ** 2 / (sa ** 2 / (a.length - 1) + sb ** 2 / (b.length - 1));
  const t = Math.abs(mean) / se;
  const pValue = incompleteBeta(df / (df + t * t), df / 2, 0.5);
  const q = studentTQuantile(0.975, df);
  return { diff: { mean, lo: mean - q * se, hi: mean + q * se, n, method: 't' }, pValue };
}

/**
 * Holm's correction over one table's comparisons, then the verdicts: better/worse when the adjusted p ≤ α and the
 * difference points that way (`better`: which direction is better for the metric), else tie. Mutates and returns
 * the comparisons.
 */
export function decide(comparisons: Comparison[], better: 'higher' | 'lower'): Comparison[] {
  const { adjusted, reject } = holm(comparisons.map((c) => c.pValue), ALPHA);
  comparisons.forEach((c, i) => {
    c.adjusted = adjusted[i];
    const up = c.diff.mean > 0;
    c.verdict = !reject[i] || c.diff.mean === 0 ? 'tie' : (up === (better === 'higher') ? 'better' : 'worse');
  });
  return comparisons;
}

/** Budget-curve summaries of one trace. */
export interface CurveSummary {
  /** The common cost range of the compared curves, ms (lo > hi: none). */
  readonly range: { readonly lo: number; readonly hi: number };
  /** Costs of the matched-accuracy grid, ms. */
  readonly grid: readonly number[];
  /** Per curve label: accuracy at each grid cost, normalised AUC over the range, cost to reach 99% of the full
   *  network's accuracy (ms) and the saving against the full network's cost (percent). */
  readonly curves: readonly {
    readonly label: string;
    readonly atCost: readonly SummaryStat[];
    readonly auc: SummaryStat;
    readonly costTo99: SummaryStat;
    readonly savingPct: SummaryStat;
  }[];
}

/**
 * Accuracy at matched cost, normalised AUC and cost to 99% of the full network's accuracy, for every label with at
 * least two points (budgets) of sample-level estimates.
 * @param curves label → points (their `meanCostMs` and `accuracy` estimates), in any order.
 */
export function curveSummary(curves: ReadonlyMap<string, readonly CurvePoint[]>, fullAccuracy: Estimate, fullCostMs: number, nSeeds: (label: string) => number, gridSize = 5): CurveSummary {
  const list = [...curves].filter(([, pts]) => pts.length >= 2);
  if (list.length === 0) return { range: { lo: NaN, hi: NaN }, grid: [], curves: [] };
  const range = commonCostRange(list.map(([, p]) => p));
  const grid = range.lo <= range.hi ? costGrid(range.lo, range.hi, gridSize) : [];
  const target = derive([fullAccuracy], (a) => 0.99 * a);
  return {
    range,
    grid,
    curves: list.map(([label, pts]) => {
      const n = nSeeds(label);
      const reach = costToReach(pts, target);
      return {
        label,
        atCost: grid.length ? accuracyAtCost(pts, grid).map((e) => fromEstimate(e, n)) : [],
        auc: grid.length ? fromEstimate(normalisedAuc(pts, range.lo, range.hi), n) : { mean: NaN, lo: NaN, hi: NaN, n, method: 'bootstrap' },
        costTo99: fromEstimate(reach, n),
        savingPct: fromEstimate(derive([reach], (c) => (1 - c / fullCostMs) * 100), n),
      };
    }),
  };
}

/** Check a record's exits field before use (a clear error for a hand-edited cells.jsonl). */
export function checkExitsField(r: StatRecord, source: string): void {
  if (r.exits !== undefined && typeof r.exits !== 'string') throw new InputError(source, `record "${r.label}".exits`, 'a base64 string (encodeExits)', typeof r.exits);
}

/** One line of the per-exit table of a model: accuracy of exit k on one split (Wilson interval), cost and FLOPs. */
export interface ExitRow {
  readonly split: string;
  readonly exit: number;
  readonly accuracy: SummaryStat;
  /** Cumulative cost of running through exit k, ms. */
  readonly costMs: number;
  /** Cumulative FLOPs through exit k, when the manifest has them. */
  readonly flops: number | undefined;
}

/**
 * Per-exit accuracy of every exit on a split (every sample leaving at exit k), with its Wilson interval over the
 * split's samples, and the exit's cumulative cost and FLOPs.
 * @param correct [sample][exit] row-major 0/1, length N·K; `costMs`, `flops` cumulative per exit.
 */
export function perExitRows(split: string, correct: ArrayLike<number>, costMs: readonly number[], flops: readonly number[] | undefined): ExitRow[] {
  const K = costMs.length;
  const N = correct.length / K;
  return costMs.map((c, k) => {
    let right = 0;
    for (let n = 0; n < N; n++) right += correct[n * K + k] ? 1 : 0;
    const w = wilsonInterval(right, N);
    return { split, exit: k, accuracy: { mean: w.mean, lo: w.lo, hi: w.hi, n: 1, method: 'wilson' }, costMs: c, flops: flops?.[k] };
  });
}
