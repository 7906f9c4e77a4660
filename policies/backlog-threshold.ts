/**
 * Backlog-aware thresholds (issue 17; design in shared/research/backlog-threshold.md): per-input confidence
 * thresholds, as the ordinary EEN, whose strictness follows the backlog, as the single-exit schedulers of
 * Casale & Roveri (IEEE TC 2024) do.
 *
 * Why it works: a budgeted threshold vector sends, on validation, shares π_i of the jobs to exit i, so a job served
 * under it has service time t_I with I ~ π — a known mixture, exactly what makes the schedulers' queueing models
 * usable (backlog-schedulers.md, "single-exit configuration"), but the job keeps its own confidence test.
 *
 * Fit: a ladder of "rungs", one per budget b on an even grid from the first exit's cost to the last's. Each rung
 * has the MSDNet thresholds θ(b) for that budget (`lib/calibrate.ts`, on any core score) and, from the same
 * validation run, its realised exit shares π(b), mean service p(b) = Σ π_i t_i, squared coefficient of variation
 * c²(b) = Σ π_i t_i² / p² − 1 and accuracy a(b). Only the Pareto front of (p, a) is kept, ordered by p: then
 * "dearer" always means "slower and more accurate", which the reactive control relies on, and no control can pick
 * a rung that a cheaper one beats on validation accuracy. (Deliberate: the model control could in principle
 * prefer a dominated rung with a smaller c²; checked on both fixtures, max-prob and entropy, B ∈ {5, 10, 50},
 * ε = 0.01, 400 rates from 0.1 to 3.1 μ: the front's choice is never less accurate than the unfiltered ladder's.)
 * The front is only as good as the validation split: on NSL-KDD, whose validation exits are all ≈ 99.6–99.7%
 * accurate, it keeps 2 of 30 rungs (all at exit 0, and ≈ 90% at exit 0), although on the shifted test split
 * the later exits are clearly better (docs/results/backlog-threshold.md).
 *
 * At each job start (`commit`, which returns undefined) a control picks the rung; `decide` then exits at the first
 * k with score_k ≥ θ_k(b) of that rung:
 * - `model`: the most accurate rung whose M/G/1/K predicted loss P(ρ = λ̂·p(b), c²(b)) with K = B + 1 (`mg1kLoss`,
 *   the model-based scheduler's approximation) is at most ε; none: the cheapest. Cached per λ̂ bucket (log-spaced,
 *   relative width `rateBucket`) and capacity, as the model-based scheduler caches its LP.
 * - `reactive`: a current rung, starting at the dearest; a loss moves it one cheaper, an idle server one dearer
 *   (the reactive scheduler's rule, on rungs instead of exits).
 * - `backlog`: with q jobs waiting, T = (K − q)/λ̂ is the expected time until the buffer fills; the dearest rung
 *   with (q + 1)·p(b) ≤ T (the rate-based scheduler's time budget, on rungs); none: the cheapest.
 * With no rate estimate yet (first job, offline) or an unbounded buffer, `model` and `backlog` use the dearest rung.
 *
 * `score: 'eenet'` thresholds EENet's learned utility q_k (Ilhan et al., WACV 2024; `policies/eenet/`) instead of a
 * core score: `fit` first trains EENet on the validation trace for one budget, `eenet.budgetFraction` of the way
 * from the first exit's cost to the last's (default ½; `eenet` also takes any EENet training parameter), then fits
 * the ladder on q with the same budget calibration. Only q is kept: EENet's own exit-assignment heads and thresholds
 * are trained for one budget, whereas the ladder needs thresholds for every rung. At a decision q_0..q_k are
 * recomputed from the view (g_k is linear in exit k's probabilities, max-prob, entropy confidence and the clamped
 * earlier q) and compared in float32, as the `eenet` policy does. The trained weights are memoised per validation
 * trace, training budget, configuration and stream seed, so the cells of a sweep that share them train once; the
 * memo returns what training would, bit for bit. Not combinable with `guarantee`: q is trained on the whole
 * validation trace, so no part of it is left unseen to certify on.
 *
 * `guarantee: { kind: 'cost', delta, bound?, pathFraction?, points? }` (issue 18; lib/guarantee.ts) certifies every
 * rung's budget: the validation samples are shuffled with the policy's seeded stream and split; on the path part
 * (share `pathFraction`, default 0.5) the MSDNet budget → thresholds map is fitted, and for each rung budget b its
 * thresholds are the point that Learn-then-Test chooses along that map's path from the first exit's cost to b, tested
 * on the held-out part (`fitOnPath`, Waudby-Smith–Ramdas or Hoeffding–Bentkus bound). So each rung's mean cost on new
 * data is ≤ its budget with probability ≥ 1 − δ (per rung, not simultaneously over the ladder: for all rungs at
 * once, pass δ / rungs). The rung statistics (shares, mean service, c², accuracy) and the Pareto front are then
 * measured on the held-out part under the certified thresholds, so the controls reason with numbers that the
 * thresholds were not fitted to.
 */
import { ThresholdCalibrator, calibratorFor, exitsByThresholds, geometricShares } from '../lib/calibrate.ts';
import { InputError } from '../lib/errors.ts';
import { budgetPathFrom, fitOnPath, parseCostGuarantee, subsetScored, type CostGuarantee } from '../lib/guarantee.ts';
import { canonicalJson, type Rng } from '../lib/random.ts';
import { mg1kLoss } from './mg1k.ts';
import type { Policy } from '../lib/policy.ts';
import { ParamReader, type PolicySpec } from '../lib/registry.ts';
import type { ScoredTrace } from '../lib/scores.ts';
import { eenet as eenetSpec } from './eenet/spec.ts';
import { eenetScores, scoresFromView, type EENetConfig, type EENetWeights } from './eenet/model.ts';
import { fitEENet } from './eenet/training.ts';

/** How the rung is chosen at job start. */
export type BacklogControl = 'model' | 'reactive' | 'backlog';

/** Parameters of `backlog-threshold`. */
export interface BacklogThresholdParams {
  /** Score the thresholds apply to: any core score, or `'eenet'` for EENet's learned utility (module comment). */
  readonly score: string;
  /** Rung choice at job start. */
  readonly control: BacklogControl;
  /** Budgets on the fitting grid (before the Pareto filter), ≥ 2. */
  readonly rungs: number;
  /** Loss target ε of the `model` control: the largest acceptable predicted loss probability. */
  readonly lossTarget: number;
  /** Relative width of the λ̂ buckets the `model` control caches its choice for. */
  readonly rateBucket: number;
  /** Optional: certify each rung's budget on held-out validation samples (module comment). */
  readonly guarantee?: CostGuarantee;
  /** With `score: 'eenet'`: EENet's training budget and configuration (module comment). */
  readonly eenet?: LearnedScoreParams;
}

/** How `score: 'eenet'` trains the learned score. */
export interface LearnedScoreParams {
  /** Training budget as a fraction of the way from the first exit's cost (0) to the last's (1). */
  readonly budgetFraction: number;
  /** EENet's training configuration (`DEFAULT_EENET_CONFIG` unless overridden). */
  readonly config: EENetConfig;
}

/** Trained EENet weights by validation trace, then by canonical (budget, configuration, stream seed). */
const learnedMemo = new WeakMap<ScoredTrace, Map<string, EENetWeights>>();
/** Entries kept per validation trace (oldest dropped first), so a long run's memory stays bounded. */
const LEARNED_MEMO_SIZE = 64;

/**
 * EENet's weights trained on `validation` for `budgetMs` with the stream `rng` — from the memo when the same
 * (trace object, budget, configuration, stream seed) was trained before. Training is deterministic in those, so
 * the memo changes nothing but the time.
 */
function learnedWeights(validation: ScoredTrace, budgetMs: number, config: EENetConfig, rng: Rng): EENetWeights {
  let byKey = learnedMemo.get(validation);
  if (!byKey) learnedMemo.set(validation, (byKey = new Map()));
  const key = canonicalJson([budgetMs, rng.seed, config]);
  const hit = byKey.get(key);
  if (hit) return hit;
  const weights = fitEENet(validation, budgetMs, config, rng).model.weights;
  if (byKey.size >= LEARNED_MEMO_SIZE) byKey.delete(byKey.keys().next().value as string);
  byKey.set(key, weights);
  return weights;
}

/** One rung of the ladder, measured on the validation trace it was fitted on (with `guarantee`: on its held-out part). */
export interface Rung {
  /** The budget it was calibrated to, ms. */
  readonly budgetMs: number;
  /** Per-exit thresholds, length K (t[K−1] = −∞: the last exit takes the rest). */
  readonly thresholds: Float64Array;
  /** Realised exit shares on validation, length K, summing to 1. */
  readonly shares: readonly number[];
  /** Mean service time p = Σ π_i t_i, ms. */
  readonly meanMs: number;
  /** Squared coefficient of variation of the service time, Σ π_i t_i² / p² − 1 (≥ 0). */
  readonly scv: number;
  /** Validation accuracy under these thresholds. */
  readonly accuracy: number;
}

/**
 * Fit the ladder on a validation trace: one rung per budget on an even grid of `nBudgets` points from
 * `costMs[0]` to `costMs[K−1]`, then the Pareto front of (mean service, accuracy).
 * @returns rungs with strictly increasing `meanMs` and strictly increasing `accuracy`; at least one.
 */
export function fitLadder(validation: ScoredTrace, score: string, nBudgets: number): Rung[] {
  const { nExits: K, costMs } = validation.trace;
  // One sort per exit serves every rung (the same thresholds as `thresholdsBySorting`, bit for bit).
  const calibrator = calibratorFor(validation.scores.get(score), K);
  return ladderFrom(validation, score, budgetGrid(costMs, nBudgets, K).map((b) => ({ budgetMs: b, thresholds: calibrator.fit(geometricShares(costMs, b)).thresholds })));
}

/** The rung budgets: `nBudgets` evenly spaced from the first exit's cost to the last's, ms. */
function budgetGrid(costMs: readonly number[], nBudgets: number, K: number): number[] {
  // The last grid point is the last exit's cost exactly (no rounding below it): the plain network is a candidate.
  return Array.from({ length: nBudgets }, (_, j) => (j === nBudgets - 1 ? costMs[K - 1] : costMs[0] + ((costMs[K - 1] - costMs[0]) * j) / (nBudgets - 1)));
}

/**
 * The ladder with certified budgets (module comment): rung j's thresholds are chosen by `fitOnPath` along the MSDNet
 * budget path of the path part, from the first exit's cost to budget b_j, tested on the held-out part; the rung
 * statistics and the Pareto front come from the held-out part.
 * @param rng the policy's stream (the split is forked from it).
 * With fewer than 2 validation samples nothing can be both fitted and tested: the only rung is the safe end
 * (everyone leaves at exit 0, cost exactly the first exit's ≤ every budget), measured on the whole trace.
 */
export function fitGuaranteedLadder(validation: ScoredTrace, score: string, nBudgets: number, g: CostGuarantee, rng: Rng): Rung[] {
  const { nExits: K, costMs, nSamples: N } = validation.trace;
  if (N < 2) return ladderFrom(validation, score, [{ budgetMs: costMs[0], thresholds: new Float64Array(K).fill(-Infinity) }]);
  const order = new Int32Array(N);
  for (let n = 0; n < N; n++) order[n] = n;
  rng.fork('backlog-threshold guarantee order').shuffle(order);
  // Same split rule as fitRiskControlled (lib/guarantee.ts): both parts non-empty.
  const nPath = Math.min(N - 1, Math.max(1, Math.round(g.pathFraction * N)));
  const pathPart = subsetScored(validation, order.subarray(0, nPath));
  const heldOut = subsetScored(validation, order.subarray(nPath));
  // One sort per exit of the path part serves every rung's path.
  const calibrator = new ThresholdCalibrator(pathPart.scores.get(score), K);
  const data = { scores: heldOut.scores.get(score), correct: heldOut.scores.correct, nExits: K, costMs };
  const rungs = budgetGrid(costMs, nBudgets, K).map((b) => {
    const path = budgetPathFrom((x) => calibrator.fit(geometricShares(costMs, x)).thresholds, K, costMs, costMs[0], b, b === costMs[0] ? 1 : g.points);
    return { budgetMs: b, thresholds: fitOnPath(path, data, { kind: 'cost', budgetMs: b }, { method: 'ltt', delta: g.delta, bound: g.bound }).thresholds };
  });
  return ladderFrom(heldOut, score, rungs);
}

/** Rung statistics of given thresholds measured on `trace`, then the Pareto front of (mean service, accuracy). */
function ladderFrom(trace: ScoredTrace, score: string, points: readonly { budgetMs: number; thresholds: Float64Array }[]): Rung[] {
  const { nExits: K, costMs, nSamples: N } = trace.trace;
  const values = trace.scores.get(score);
  const correct = trace.scores.correct;
  const all: Rung[] = [];
  for (const { budgetMs, thresholds } of points) {
    const exits = exitsByThresholds(values, K, thresholds);
    const counts = new Float64Array(K);
    let ok = 0;
    for (let n = 0; n < N; n++) {
      counts[exits[n]]++;
      ok += correct[n * K + exits[n]];
    }
    const shares = Array.from(counts, (c) => c / N);
    let m1 = 0;
    let m2 = 0;
    for (let i = 0; i < K; i++) {
      m1 += shares[i] * costMs[i];
      m2 += shares[i] * costMs[i] * costMs[i];
    }
    all.push({ budgetMs, thresholds, shares, meanMs: m1, scv: m1 > 0 ? Math.max(0, m2 / (m1 * m1) - 1) : 0, accuracy: ok / N });
  }
  // Pareto front: by mean service ascending (ties: most accurate first), keep a rung only if it is strictly more
  // accurate than every cheaper one kept. Equal means after the first are then never kept, so means strictly rise.
  all.sort((a, b) => a.meanMs - b.meanMs || b.accuracy - a.accuracy);
  const front: Rung[] = [];
  for (const r of all) if (front.length === 0 || r.accuracy > front[front.length - 1].accuracy) front.push(r);
  return front;
}

/**
 * The `model` control's choice: the most accurate rung (highest index) whose approximate M/G/1/K loss at arrival
 * rate `ratePerMs` and capacity K is at most `lossTarget`; 0 (the cheapest) when none.
 */
export function modelRung(ladder: readonly Rung[], ratePerMs: number, capacity: number, lossTarget: number): number {
  for (let r = ladder.length - 1; r >= 0; r--) {
    if (mg1kLoss(ratePerMs * ladder[r].meanMs, ladder[r].scv, capacity) <= lossTarget) return r;
  }
  return 0;
}

/**
 * The `backlog` control's choice: the dearest rung r with (q + 1)·p(r) ≤ T, T = (K − q)/λ̂ the expected time until
 * the buffer fills; 0 when none. `meanMs` rises along the ladder, so this is a binary search.
 */
export function backlogRung(ladder: readonly Rung[], queueLength: number, ratePerMs: number, capacity: number): number {
  const perJob = (capacity - queueLength) / ratePerMs / (queueLength + 1);
  let lo = 0;
  let hi = ladder.length - 1;
  if (ladder[0].meanMs > perJob) return 0;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (ladder[mid].meanMs <= perJob) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Registry entry `backlog-threshold`: per-input budgeted thresholds whose budget rung follows the backlog (M/G/1/K model, reactive, or time-until-full control). */
export const backlogThreshold: PolicySpec<BacklogThresholdParams> = {
  name: 'backlog-threshold',
  description: 'Ladder of budgeted thresholds; a rung picked at job start from the backlog (M/G/1/K model, reactive, or time until the buffer fills).',
  defaults: { score: 'maxprob', control: 'model', rungs: 30, lossTarget: 0.01, rateBucket: 0.05 },
  testParams: () => [
    { control: 'model' },
    { control: 'reactive', score: 'entropy' },
    { control: 'backlog', score: 'margin', rungs: 8 },
    { control: 'model', score: 'patience', rungs: 5, lossTarget: 0.1 },
    { control: 'backlog', rungs: 6, guarantee: { kind: 'cost', delta: 0.1, points: 20 } },
    { control: 'model', score: 'eenet', rungs: 6, eenet: { trials: 1, epochs: 4, patience: 2, period: 1, lr: 1e-2 } },
  ],
  budgeted: false,
  parse(raw) {
    const r = new ParamReader('policy "backlog-threshold"', raw);
    const score = r.choice('score', undefined, this.defaults.score);
    const control = r.choice<BacklogControl>('control', ['model', 'reactive', 'backlog'], this.defaults.control);
    const rungs = r.number('rungs', this.defaults.rungs, { min: 2, max: 1000, integer: true });
    const lossTarget = r.number('lossTarget', this.defaults.lossTarget, { min: 0, max: 1 });
    const rateBucket = r.number('rateBucket', this.defaults.rateBucket, { min: 1e-6, max: 1 });
    const guarantee = parseCostGuarantee('policy "backlog-threshold"', r.optionalObject('guarantee'));
    const rawLearned = r.optionalObject('eenet');
    r.done();
    const src = 'policy "backlog-threshold"';
    if (rawLearned !== undefined && score !== 'eenet') throw new InputError(src, 'params.eenet', 'absent unless score is "eenet"', JSON.stringify(rawLearned));
    let learned: LearnedScoreParams | undefined;
    if (score === 'eenet') {
      if (guarantee) throw new InputError(src, 'params.guarantee', 'absent with score "eenet" (the learned score is trained on all of validation, leaving nothing unseen to certify on)', JSON.stringify(guarantee));
      const { budgetFraction: rawFraction, ...rest } = rawLearned ?? {};
      const lr = new ParamReader(`${src} params.eenet`, { budgetFraction: rawFraction });
      const budgetFraction = lr.number('budgetFraction', 0.5, { min: 0, max: 1 });
      lr.done();
      if ('guarantee' in rest) throw new InputError(`${src} params.eenet`, 'guarantee', 'absent (see params.guarantee)', JSON.stringify(rest.guarantee));
      learned = { budgetFraction, config: eenetSpec.parse(rest) };
    }
    const base = { score, control, rungs, lossTarget, rateBucket };
    return learned ? { ...base, eenet: learned } : guarantee ? { ...base, guarantee } : base;
  },
  create(params, { model, rng }): Policy {
    const src = 'policy "backlog-threshold"';
    const learned = params.score === 'eenet' ? (params.eenet ?? { budgetFraction: 0.5, config: eenetSpec.parse({}) }) : undefined;
    if (!learned && !model.scoreNames.includes(params.score)) {
      throw new InputError(src, 'params.score', `one of ${[...model.scoreNames, 'eenet'].join(', ')}`, JSON.stringify(params.score));
    }
    // score 'eenet': the trained g_k weights, and scratch for q_0..q_k of the job being decided.
    let g: readonly Float64Array[] = [];
    let nClasses = 0;
    let q = new Float64Array(model.nExits);
    const { score, control, lossTarget } = params;
    const logBase = Math.log(1 + params.rateBucket);
    let ladder: Rung[] | undefined;
    let top = 0;
    /** Rung of the job in service (and, for `reactive`, the current rung between jobs). */
    let current = 0;
    let theta: Float64Array = new Float64Array(0);
    // `model` control: rung per λ̂ bucket for the current capacity.
    let cache = new Map<number, number>();
    let cacheCapacity = NaN;
    // Bounds (jobs/ms) of the last bucket looked up ([lo, hi], in a Float64Array: a captured `let` number would box
    // a new heap number on every write, on the per-job path), and its rung; empty until the first lookup.
    const last = new Float64Array([Infinity, -Infinity]);
    let lastRung = 0;
    const use = (r: number): undefined => {
      current = r;
      theta = ladder![r].thresholds;
      return undefined;
    };
    return {
      name: `backlog-threshold (${control}, ${score}${control === 'model' ? `, ε=${lossTarget}` : ''}${params.guarantee ? `, rungs ≤ budget w.p. ≥ ${1 - params.guarantee.delta}` : ''})`,
      fit(validation) {
        let fitOn = validation;
        let learnedDetails: Record<string, unknown> | undefined;
        if (learned) {
          const c = validation.trace.costMs;
          const budgetMs = c[0] + learned.budgetFraction * (c[c.length - 1] - c[0]);
          const w = learnedWeights(validation, budgetMs, learned.config, rng.fork('eenet score'));
          g = w.g;
          nClasses = w.nClasses;
          q = new Float64Array(w.nExits);
          fitOn = { trace: validation.trace, scores: validation.scores.withScore('eenet', eenetScores(w, validation)) };
          learnedDetails = { eenetTrainingBudgetMs: budgetMs };
        }
        ladder = params.guarantee ? fitGuaranteedLadder(fitOn, score, params.rungs, params.guarantee, rng) : fitLadder(fitOn, score, params.rungs);
        top = ladder.length - 1;
        cache = new Map();
        cacheCapacity = NaN;
        last[0] = Infinity;
        last[1] = -Infinity;
        use(top);
        return {
          details: {
            ...learnedDetails,
            rungs: ladder.map((r) => ({ budgetMs: r.budgetMs, meanMs: r.meanMs, scv: r.scv, accuracy: r.accuracy, shares: r.shares, thresholds: Array.from(r.thresholds) })),
          },
        };
      },
      commit(state) {
        if (!ladder) throw new InputError(src, 'fit', 'fit(validation) before the first job (it builds the ladder of thresholds)', 'an unfitted policy');
        if (control === 'reactive') return use(current);
        const rate = state.arrivalRatePerMs;
        const capacity = state.bufferCapacity + 1;
        if (rate === undefined || !(rate > 0) || !Number.isFinite(capacity)) return use(top);
        if (control === 'backlog') return use(backlogRung(ladder, state.queueLength, rate, capacity));
        if (capacity !== cacheCapacity) {
          cache = new Map();
          cacheCapacity = capacity;
          last[0] = Infinity;
          last[1] = -Infinity;
        }
        // The estimate moves a little at every arrival and mostly stays in its bucket: test the last bucket's
        // bounds first (with a margin far above log/exp round-off, so the answer never depends on that shortcut).
        if (rate > last[0] && rate < last[1]) return use(lastRung);
        const bucket = Math.round(Math.log(rate) / logBase);
        let r = cache.get(bucket);
        if (r === undefined) {
          r = modelRung(ladder, Math.exp(bucket * logBase), capacity, lossTarget);
          cache.set(bucket, r);
        }
        last[0] = Math.exp((bucket - 0.5) * logBase) * (1 + 1e-9);
        last[1] = Math.exp((bucket + 0.5) * logBase) * (1 - 1e-9);
        lastRung = r;
        return use(r);
      },
      decide(view) {
        if (!ladder) throw new InputError(src, 'fit', 'fit(validation) before the first decision', 'an unfitted policy');
        if (!learned) return view.score(score) >= theta[view.exit] ? 'exit' : 'continue';
        // EENet's q_k from the view, as the eenet policy decides (recomputed from exit 0: the view is the only
        // source of earlier exits' outputs); the ladder's thresholds are float32 q values, hence the fround.
        return Math.fround(scoresFromView(g, nClasses, view, q)) >= theta[view.exit] ? 'exit' : 'continue';
      },
      onEvent(event) {
        if (control !== 'reactive' || !ladder) return;
        if (event.kind === 'loss') current = Math.max(0, current - 1);
        else current = Math.min(top, current + 1);
      },
      exitDistribution: () => (ladder ? [...ladder[current].shares] : undefined),
    };
  },
};
