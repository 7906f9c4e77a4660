/**
 * Threshold vectors with finite-sample guarantees: one-parameter paths of per-exit thresholds, and the fit that
 * picks a point on a path with `selectAlongPath` (lib/risk.ts) so that, with probability ≥ 1 − δ over an
 * exchangeable calibration set, the risk on new data is within the target:
 * - **cost**: mean cost per sample ≤ B (ms), the loss being the normalised cost (c − c₀)/(c_K − c₀);
 * - **gap**: P[early-exit prediction wrong and the full network's right] ≤ ε (RC-EENN's performance-gap risk,
 *   Jazbec et al., NeurIPS 2024, §3.2, with the 0–1 loss clipped at 0).
 *
 * Two paths:
 * - `budget`: the method's own budget → thresholds map (`geometricShares` + the sorting procedure,
 *   lib/calibrate.ts). It is fitted on data, so it must not be fitted on the samples its points are then tested
 *   on (the test would see thresholds chosen to make exactly those samples meet the budget, and the guarantee
 *   breaks). The calibration set is therefore split at random (the policy's seeded `Rng`): a share
 *   `pathFraction` of it fits the path, the rest tests it. For cost the path runs over budgets c₀..min(B, c_K),
 *   so the fitted thresholds never ask more of the path part than plain calibration at B would.
 * - `shared`: one threshold λ for every exit on a fixed grid (RC-EENN §4: the same λ on the exit confidence at
 *   every exit), data-independent, so every calibration sample tests it. Only for scores of known range
 *   (maxprob, margin, entropy in [0, 1]; patience in {0, …, K−1}).
 * Each path starts at a point whose risk is within the target with certainty (the "safe end" that
 * `selectAlongPath` never tests): cost — everyone leaves at the first exit (cost exactly c₀ ≤ B); gap — everyone
 * leaves at the last exit (gap 0). The fit never returns anything less safe than that, whatever the data.
 */
import { ThresholdCalibrator, exitsByThresholds, geometricShares } from './calibrate.ts';
import { InputError } from './errors.ts';
import type { Rng } from './random.ts';
import { ParamReader, type RawParams } from './registry.ts';
import { DEFAULT_RISK_BOUND, selectAlongPath, type PathSelection, type RiskBound, type RiskMethod } from './risk.ts';
import { ScoreTable, type ScoredTrace } from './scores.ts';
import { ExitTrace } from './trace.ts';

/** The risk to control and its target. */
export type RiskTarget =
  /** Mean cost per sample on new data ≤ `budgetMs` (milliseconds). */
  | { readonly kind: 'cost'; readonly budgetMs: number }
  /** Share of samples whose early-exit prediction is wrong while the last exit's is right ≤ `epsilon` ∈ [0, 1]. */
  | { readonly kind: 'gap'; readonly epsilon: number };

/**
 * A sequence of per-exit threshold vectors ordered from the cheapest (point 0) to the dearest (point
 * `length − 1`). Rule for every point: exit at the first k with score_k ≥ t_k; t[K−1] is ignored.
 */
export interface ThresholdPath {
  /** Number of points. */
  readonly length: number;
  /** Thresholds of point j, length K. */
  at(j: number): Float64Array;
  /** The path parameter of point j, for reports: a budget in ms (`budget`) or the shared threshold λ (`shared`). */
  parameter(j: number): number;
}

/**
 * A budget path from any method's budget → thresholds map (MSDNet's sorting, EENet's `thresholdsFor`, …): point
 * j is `thresholdsAt(b_j)` for b_j = loMs + (hiMs − loMs)·j/(points − 1). Point 0 is forced to "everyone exits at
 * exit 0" when loMs is the first exit's cost: a map fitted on data puts exit 0's threshold at the least fitted
 * score there, which new samples can undercut, and the safe end must be safe with certainty.
 * @param thresholdsAt thresholds (length K) for a budget in ms; must not depend on the data the path is tested on.
 * @param points ≥ 2 (1 only when loMs = hiMs).
 */
export function budgetPathFrom(thresholdsAt: (budgetMs: number) => Float64Array, nExits: number, costMs: readonly number[], loMs: number, hiMs: number, points: number): ThresholdPath {
  const src = 'budgetPath';
  if (!Number.isSafeInteger(points) || points < 1 || (points === 1 && loMs !== hiMs)) throw new InputError(src, 'points', 'an integer ≥ 2 (1 only when loMs = hiMs)', String(points));
  if (!(loMs >= costMs[0]) || !(hiMs >= loMs)) throw new InputError(src, 'loMs/hiMs', `first exit's cost ${costMs[0]} ≤ loMs ≤ hiMs`, `${loMs}, ${hiMs}`);
  const budgetAt = (j: number) => (points === 1 ? loMs : j === points - 1 ? hiMs : loMs + ((hiMs - loMs) * j) / (points - 1));
  const cache = new Map<number, Float64Array>();
  return {
    length: points,
    parameter: budgetAt,
    at(j) {
      let t = cache.get(j);
      if (!t) {
        const b = budgetAt(j);
        t = b === costMs[0] ? new Float64Array(nExits).fill(-Infinity) : thresholdsAt(b);
        cache.set(j, t);
      }
      return t;
    },
  };
}

/**
 * The MSDNet budget path: `budgetPathFrom` with `geometricShares` then `thresholdsBySorting` on `scores`; a
 * budget at or above the last exit's cost gives "everyone at the last exit" by construction.
 * @param scores [sample][exit] row-major, the data the path is fitted on (at least one sample).
 */
export function budgetPath(scores: Float32Array | Float64Array, nExits: number, costMs: readonly number[], loMs: number, hiMs: number, points: number): ThresholdPath {
  if (scores.length < nExits && hiMs > costMs[0]) throw new InputError('budgetPath', 'scores', 'at least one sample to fit the path on', 'none');
  // Sorted once per exit, then one walk per budget (the same thresholds as `thresholdsBySorting`, bit for bit).
  let calibrator: ThresholdCalibrator | undefined;
  return budgetPathFrom((b) => (calibrator ??= new ThresholdCalibrator(scores, nExits)).fit(geometricShares(costMs, b)).thresholds, nExits, costMs, loMs, hiMs, points);
}

/** Scores `sharedPath` has a fixed grid for, and that grid's inner values for a K-exit model. */
function sharedGrid(score: string, nExits: number, points: number): number[] | undefined {
  if (score === 'maxprob' || score === 'margin' || score === 'entropy') return Array.from({ length: points }, (_, i) => i / (points - 1));
  if (score === 'patience') return Array.from({ length: nExits - 1 }, (_, i) => i + 1);
  return undefined;
}

/**
 * The shared-threshold path: −∞ (everyone at exit 0), then λ on a fixed grid (for maxprob, margin, entropy:
 * `points` values evenly spaced on [0, 1]; for patience: 1..K−1), then +∞ (everyone at the last exit); every exit
 * but the last gets the same λ.
 * @throws InputError for a score without a known range (e.g. a learned one): use the budget path.
 */
export function sharedPath(score: string, nExits: number, points: number): ThresholdPath {
  const grid = sharedGrid(score, nExits, Math.max(2, points));
  if (!grid) throw new InputError('sharedPath', 'score', 'a score of known range (maxprob, margin, entropy, patience) for a fixed shared grid', JSON.stringify(score));
  const lambdas = [-Infinity, ...grid, Infinity];
  return {
    length: lambdas.length,
    parameter: (j) => lambdas[j],
    at(j) {
      const t = new Float64Array(nExits).fill(lambdas[j]);
      t[nExits - 1] = -Infinity;
      return t;
    },
  };
}

/** What the path's points are tested on: one score, correctness and costs of the calibration (test-part) samples. */
export interface PathTestData {
  /** The score the thresholds apply to, [sample][exit] row-major, samples in a fixed order. */
  readonly scores: Float32Array | Float64Array;
  /** 1 where the prediction at [sample][exit] is right, same layout. */
  readonly correct: Uint8Array;
  /** K. */
  readonly nExits: number;
  /** Cumulative cost per exit, ms, length K. */
  readonly costMs: readonly number[];
}

/** Per-sample losses in [0, 1] of a threshold vector on test-part data. */
export function riskLosses(t: ArrayLike<number>, data: PathTestData, kind: RiskTarget['kind']): Float64Array {
  const K = data.nExits;
  const exits = exitsByThresholds(data.scores, K, t);
  const out = new Float64Array(exits.length);
  if (kind === 'cost') {
    const c0 = data.costMs[0];
    const range = data.costMs[K - 1] - c0;
    for (let n = 0; n < exits.length; n++) out[n] = range > 0 ? Math.min(1, Math.max(0, (data.costMs[exits[n]] - c0) / range)) : 0;
  } else {
    for (let n = 0; n < exits.length; n++) out[n] = data.correct[n * K + K - 1] === 1 && data.correct[n * K + exits[n]] === 0 ? 1 : 0;
  }
  return out;
}

/** The target as a normalised risk level α (module comment of lib/risk.ts). */
export function normalisedTarget(target: RiskTarget, costMs: readonly number[]): number {
  if (target.kind === 'gap') return target.epsilon;
  const c0 = costMs[0];
  const range = costMs[costMs.length - 1] - c0;
  return range > 0 ? (target.budgetMs - c0) / range : Infinity;
}

/** Selection settings of a guaranteed fit. */
export interface SelectionSettings {
  readonly method: RiskMethod;
  /** δ ∈ (0, 1). */
  readonly delta: number;
  readonly bound?: RiskBound;
}

/** A point chosen on a path. */
export interface PathFit {
  /** The chosen thresholds, length K. */
  readonly thresholds: Float64Array;
  /** Its index on the path (0 = cheapest). */
  readonly pathIndex: number;
  /** The path parameter there (budget ms or λ). */
  readonly parameter: number;
  /** Normalised target α. */
  readonly alpha: number;
  /** The walk's statistics (in testing order, from the safe end). */
  readonly selection: PathSelection;
}

/**
 * Choose a point on a path whose risk on new data is within the target (with probability ≥ 1 − δ for `ltt`;
 * lib/risk.ts). Cost is tested from the cheap end, the gap from the dear end (each risk's safe end).
 * @throws InputError when the gap path's last point is not "everyone at the last exit" (its safe end).
 */
export function fitOnPath(path: ThresholdPath, data: PathTestData, target: RiskTarget, settings: SelectionSettings): PathFit {
  const L = path.length;
  const K = data.nExits;
  const alpha = normalisedTarget(target, data.costMs);
  const pathIndexOf = target.kind === 'cost' ? (j: number) => j : (j: number) => L - 1 - j;
  if (target.kind === 'gap') {
    const last = path.at(L - 1);
    for (let k = 0; k < K - 1; k++) {
      if (last[k] !== Infinity) throw new InputError('fitOnPath', 'path', "a last point that sends everyone to the last exit (the gap's safe end)", `threshold ${last[k]} at exit ${k}`);
    }
  }
  const selection = selectAlongPath(L, (j) => riskLosses(path.at(pathIndexOf(j)), data, target.kind), {
    alpha,
    delta: settings.delta,
    method: settings.method,
    bound: settings.bound ?? DEFAULT_RISK_BOUND,
  });
  const pathIndex = pathIndexOf(selection.index);
  return { thresholds: path.at(pathIndex), pathIndex, parameter: path.parameter(pathIndex), alpha, selection };
}

/** Options of `fitRiskControlled` (the policies' parameters). */
export interface RiskControlSettings extends SelectionSettings {
  /** Which path (module comment). */
  readonly path: 'budget' | 'shared';
  /** Budget path only: share of the calibration samples that fit the path, in (0, 1); the rest test it. */
  readonly pathFraction: number;
  /** Points on the path (budget path: budgets; shared path: grid values of a [0, 1] score). */
  readonly points: number;
}

/** Rows `idx` of a [sample][exit] array. */
function rows<T extends Float32Array | Float64Array | Uint8Array>(a: T, K: number, idx: Int32Array, make: (n: number) => T): T {
  const out = make(idx.length * K);
  for (let i = 0; i < idx.length; i++) out.set(a.subarray(idx[i] * K, idx[i] * K + K), i * K);
  return out;
}

/** A guaranteed fit on a scored calibration trace, with what it used. */
export interface RiskControlledFit extends PathFit {
  /** Samples that fitted the path (0 for the shared path). */
  readonly nPath: number;
  /** Samples the path's points were tested on. */
  readonly nTest: number;
}

/**
 * The whole guaranteed fit of a threshold policy on one score: shuffle the calibration samples with `rng`
 * (fixing the order WSR bets in and, for the budget path, the path/test split), build the path, choose a point.
 * With fewer than 2 samples the budget path cannot be both fitted and tested: the safe end is returned.
 */
export function fitRiskControlled(calibration: ScoredTrace, score: string, target: RiskTarget, settings: RiskControlSettings, rng: Rng): RiskControlledFit {
  const src = 'fitRiskControlled';
  const { nSamples: N, nExits: K, costMs } = calibration.trace;
  if (target.kind === 'cost' && !(target.budgetMs >= costMs[0])) throw new InputError(src, 'budgetMs', `a budget ≥ the first exit's cost ${costMs[0]} ms`, String(target.budgetMs));
  if (target.kind === 'gap' && !(target.epsilon >= 0 && target.epsilon <= 1)) throw new InputError(src, 'epsilon', 'a number in [0, 1]', String(target.epsilon));
  if (!(settings.pathFraction > 0 && settings.pathFraction < 1)) throw new InputError(src, 'pathFraction', 'a number in (0, 1)', String(settings.pathFraction));
  const values = calibration.scores.get(score);
  const correct = calibration.scores.correct;
  const order = new Int32Array(N);
  for (let n = 0; n < N; n++) order[n] = n;
  rng.fork('risk-control order').shuffle(order);
  let path: ThresholdPath;
  let testIdx: Int32Array;
  let nPath = 0;
  if (settings.path === 'shared') {
    path = sharedPath(score, K, settings.points);
    testIdx = order;
  } else {
    nPath = N < 2 ? N : Math.min(N - 1, Math.max(1, Math.round(settings.pathFraction * N)));
    const pathIdx = order.subarray(0, nPath);
    testIdx = order.subarray(nPath);
    const hi = target.kind === 'cost' ? Math.min(target.budgetMs, costMs[K - 1]) : costMs[K - 1];
    const pathScores = rows(values, K, pathIdx, (n) => new Float64Array(n));
    path = budgetPath(pathScores, K, costMs, costMs[0], hi, hi === costMs[0] ? 1 : Math.max(2, settings.points));
  }
  const data: PathTestData = {
    scores: rows(values, K, testIdx, (n) => new Float64Array(n)),
    correct: rows(correct, K, testIdx, (n) => new Uint8Array(n)),
    nExits: K,
    costMs,
  };
  const fit = fitOnPath(path, data, target, settings);
  return { ...fit, nPath, nTest: testIdx.length };
}

/**
 * The `guarantee` option of a budgeted policy: `{ kind: 'cost', delta, bound?, pathFraction?, points? }`.
 * With it, `fit(validation, { budgetMs: B })` returns thresholds whose mean cost on new data is ≤ B with
 * probability ≥ 1 − δ over the calibration draw (Learn-then-Test along the policy's own budget path).
 */
export interface CostGuarantee {
  readonly kind: 'cost';
  /** δ ∈ (0, 1). */
  readonly delta: number;
  /** Bound of the p-values. Default `DEFAULT_RISK_BOUND` ('wsr'). */
  readonly bound: RiskBound;
  /** Share of the calibration samples that fit the budget path; the rest test it. Default 0.5. */
  readonly pathFraction: number;
  /** Budgets on the path, from the first exit's cost to B. Default 100. */
  readonly points: number;
}

/** Defaults of the optional fields of a guarantee. */
export const GUARANTEE_DEFAULTS = { bound: DEFAULT_RISK_BOUND, pathFraction: 0.5, points: 100 } as const;

/**
 * Parse a `guarantee` parameter (undefined when absent), naming the bad field in the error.
 * @param source e.g. 'policy "budgeted-threshold"'.
 */
export function parseCostGuarantee(source: string, raw: RawParams | undefined): CostGuarantee | undefined {
  if (raw === undefined) return undefined;
  const r = new ParamReader(`${source} params.guarantee`, raw);
  const kind = r.choice('kind', ['cost'] as const, undefined);
  const delta = r.number('delta', undefined, { min: 1e-12, max: 1 - 1e-12 });
  const bound = r.choice('bound', ['wsr', 'hb'] as const, GUARANTEE_DEFAULTS.bound);
  const pathFraction = r.number('pathFraction', GUARANTEE_DEFAULTS.pathFraction, { min: 0.01, max: 0.99 });
  const points = r.number('points', GUARANTEE_DEFAULTS.points, { min: 2, max: 100000, integer: true });
  r.done();
  return { kind, delta, bound, pathFraction, points };
}

/**
 * The samples `idx` of a scored trace, as a new scored trace (every score, learned ones included, is carried
 * over rather than recomputed).
 */
export function subsetScored(scored: ScoredTrace, idx: ArrayLike<number>): ScoredTrace {
  const { nExits: K, nClasses: C } = scored.trace;
  const n = idx.length;
  const probs = new Float32Array(n * K * C);
  const labels = new Int32Array(n);
  const pick = <T extends Float32Array | Float64Array | Int32Array | Uint8Array>(a: T, out: T): T => {
    for (let i = 0; i < n; i++) out.set(a.subarray(idx[i] * K, idx[i] * K + K), i * K);
    return out;
  };
  for (let i = 0; i < n; i++) {
    probs.set(scored.trace.probs.subarray(idx[i] * K * C, (idx[i] + 1) * K * C), i * K * C);
    labels[i] = scored.trace.labels[idx[i]];
  }
  const t = scored.trace;
  const trace = new ExitTrace(
    { nSamples: n, nExits: K, nClasses: C, probs, labels, costMs: t.costMs, flops: t.flops, classNames: t.classNames, provenance: { ...t.provenance, split: `${t.provenance.split} (subset of ${n})` } },
    'subsetScored',
  );
  const s = scored.scores;
  const map = new Map<string, Float64Array>();
  for (const name of s.names) map.set(name, pick(s.get(name), new Float64Array(n * K)));
  const table = new ScoreTable(n, K, pick(s.predicted, new Int32Array(n * K)), pick(s.correct, new Uint8Array(n * K)), map);
  return { trace, scores: table };
}
