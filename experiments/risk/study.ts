/**
 * The violation study: how often a calibrated policy breaks its target on new data, over many seeded
 * calibration/test draws. Each split draws a calibration set (and a test set) from the pools, fits every entry on
 * the calibration set, runs it on the test set through the offline harness (`runPolicy`), and records whether the
 * test risk exceeds the entry's target: mean cost per sample > B (cost targets) or the performance gap — share of
 * test samples the policy gets wrong while the last exit gets right — > ε (gap targets).
 *
 * Two designs:
 * - one pool (exchangeable): calibration and test are disjoint random subsets of the same trace (e.g. the
 *   Fashion-MNIST test split cut in halves), so every guarantee's assumption holds;
 * - two pools (shift): calibration drawn from one trace (e.g. NSL-KDD validation), test from another
 *   (KDDTest+): the assumption fails and the rate is reported as it comes out.
 *
 * What "violated" measures: the guarantees bound the *expected* risk of a new sample, i.e. the risk over the
 * population; a test set's mean adds its own sampling noise of order σ/√m (m test samples). When the test half is
 * as large as the calibration set, that noise is as large as the calibration noise the bound absorbs, so even an
 * exact test violates on the test half more often than δ (for a test just at the edge, about
 * P[Z > z_δ/√2]: 0.18 for δ = 0.1). Each record therefore also carries the risk over the whole *pool* — the
 * population the splits are drawn from (one pool: calibration ∪ test; two pools: the whole test pool) — and
 * whether that exceeds the target: the quantity the guarantee is about. (Calibration samples are drawn without
 * replacement from the pool, which concentrates their mean more than i.i.d. draws, so the bounds stay valid.)
 */
import { runPolicy } from '../../lib/offline.ts';
import { InputError } from '../../lib/errors.ts';
import type { RiskTarget } from '../../lib/guarantee.ts';
import { modelInfo, type ModelInfo, type Policy } from '../../lib/policy.ts';
import { workloadRng } from '../../lib/random.ts';
import { instantiate, type AnyPolicySpec, type RawParams } from '../../lib/registry.ts';
import type { ScoredTrace } from '../../lib/scores.ts';
import { subsetScored } from '../../lib/guarantee.ts';

/** One policy of the study with the target its violations are counted against. */
export interface StudyEntry {
  /** Row label, unique within a study. */
  readonly label: string;
  readonly spec: AnyPolicySpec;
  readonly params: RawParams;
  /** The risk whose excess counts as a violation. */
  readonly target: RiskTarget;
  /** Budget handed to `fit`, ms; default the target's budget when the target is a cost (budgeted specs need one). */
  readonly budgetMs?: number;
}

/** Options of `violationStudy`. */
export interface StudyOptions {
  /** Pool the calibration sets are drawn from. */
  readonly calibrationPool: ScoredTrace;
  /** Pool the test sets are drawn from; omitted = the calibration pool (disjoint splits). */
  readonly testPool?: ScoredTrace;
  /** Calibration samples per split (≥ 1). */
  readonly calibrationSize: number;
  /** Test samples per split; default: the rest of the one pool, or all of the test pool. */
  readonly testSize?: number;
  /** Number of splits R (≥ 1). */
  readonly splits: number;
  /** Seed of the split draws and of every policy's stream. */
  readonly seed: number;
  readonly entries: readonly StudyEntry[];
  /**
   * How a policy is built for split `split`. Default: the core's `instantiate` with the run seed
   * `workloadRng(seed, "risk policies").fork(split).seed`, so the policy's stream depends on the split, its
   * registry name and parameters (never on a label).
   */
  readonly create?: (entry: StudyEntry, params: object, split: number, model: ModelInfo) => Policy;
}

/** One entry on one split. Costs in ms; gap and accuracy as shares of the test samples. */
export interface SplitRecord {
  readonly split: number;
  readonly label: string;
  readonly testCostMs: number;
  readonly testAccuracy: number;
  /** Performance gap on test: share wrong where the last exit is right. */
  readonly testGap: number;
  /** Test risk in the target's unit (ms for cost, share for gap). */
  readonly testRisk: number;
  readonly violated: boolean;
  /** Risk over the whole population pool (module comment), in the target's unit. */
  readonly poolRisk: number;
  /** poolRisk > target. */
  readonly poolViolated: boolean;
  /** Share of test samples leaving at each exit, length K. */
  readonly exitShares: readonly number[];
}

/** One entry over all splits. */
export interface StudySummary {
  readonly label: string;
  readonly target: RiskTarget;
  readonly splits: number;
  readonly violations: number;
  /** violations / splits. */
  readonly violationRate: number;
  /** Share of splits whose risk over the whole pool exceeds the target. */
  readonly poolViolationRate: number;
  readonly meanTestRisk: number;
  readonly meanAccuracy: number;
  readonly meanCostMs: number;
  readonly meanGap: number;
  /** Mean over splits of the share of test samples leaving at each exit, length K. */
  readonly exitShares: readonly number[];
}

/** What `violationStudy` returns: one record per split and entry (split-major), and one summary per entry. */
export interface StudyResult {
  readonly records: readonly SplitRecord[];
  readonly summary: readonly StudySummary[];
}

/** Accuracy, mean cost (ms) and performance gap of exits on a scored trace. */
export function exitStats(exits: Int32Array, scored: ScoredTrace): { accuracy: number; meanCostMs: number; gap: number; exitShares: number[] } {
  const K = scored.trace.nExits;
  const correct = scored.scores.correct;
  const shares = new Array<number>(K).fill(0);
  let right = 0;
  let cost = 0;
  let gap = 0;
  for (let n = 0; n < exits.length; n++) {
    const c = correct[n * K + exits[n]];
    right += c;
    cost += scored.trace.costMs[exits[n]];
    shares[exits[n]]++;
    if (c === 0 && correct[n * K + K - 1] === 1) gap++;
  }
  const N = exits.length;
  return { accuracy: right / N, meanCostMs: cost / N, gap: gap / N, exitShares: shares.map((x) => x / N) };
}

/**
 * Run the study (module comment). Deterministic: the same options give the same records bit for bit. The
 * calibration/test draws depend only on the seed and the split index, so every entry sees the same draws.
 */
export function violationStudy(opts: StudyOptions): StudyResult {
  const src = 'violationStudy';
  const cal = opts.calibrationPool;
  const test = opts.testPool;
  const Nc = cal.trace.nSamples;
  if (!Number.isSafeInteger(opts.splits) || opts.splits < 1) throw new InputError(src, 'splits', 'an integer ≥ 1', String(opts.splits));
  const maxCal = test ? Nc : Nc - 1;
  if (!Number.isSafeInteger(opts.calibrationSize) || opts.calibrationSize < 1 || opts.calibrationSize > maxCal) {
    throw new InputError(src, 'calibrationSize', `an integer in [1, ${maxCal}]`, String(opts.calibrationSize));
  }
  const maxTest = test ? test.trace.nSamples : Nc - opts.calibrationSize;
  const testSize = opts.testSize ?? maxTest;
  if (!Number.isSafeInteger(testSize) || testSize < 1 || testSize > maxTest) throw new InputError(src, 'testSize', `an integer in [1, ${maxTest}]`, String(testSize));
  if (test && (test.trace.nExits !== cal.trace.nExits || test.trace.costMs.some((c, k) => c !== cal.trace.costMs[k]))) {
    throw new InputError(src, 'testPool', 'a trace of the same model (same exits and costs) as the calibration pool', String(test.trace));
  }
  const labels = new Set<string>();
  for (const e of opts.entries) {
    if (labels.has(e.label)) throw new InputError(src, 'entries', 'unique labels', JSON.stringify(e.label));
    labels.add(e.label);
  }
  const splitRoot = workloadRng(opts.seed, 'risk splits');
  const policyRoot = workloadRng(opts.seed, 'risk policies');
  const records: SplitRecord[] = [];
  const parsed = opts.entries.map((e) => ({ e, params: e.spec.parse(e.params) }));
  for (let r = 0; r < opts.splits; r++) {
    const rng = splitRoot.fork(r);
    const order = rng.shuffle(Int32Array.from({ length: Nc }, (_, i) => i));
    const calSet = subsetScored(cal, order.subarray(0, opts.calibrationSize));
    let testSet: ScoredTrace;
    if (test) {
      const Nt = test.trace.nSamples;
      testSet = testSize === Nt ? test : subsetScored(test, rng.fork('test').shuffle(Int32Array.from({ length: Nt }, (_, i) => i)).subarray(0, testSize));
    } else {
      testSet = subsetScored(cal, order.subarray(opts.calibrationSize, opts.calibrationSize + testSize));
    }
    for (const { e, params } of parsed) {
      const model = modelInfo(calSet);
      const policy = opts.create ? opts.create(e, params, r, model) : instantiate(e.spec, e.params, { seed: policyRoot.fork(r).seed, model });
      const budgetMs = e.budgetMs ?? (e.target.kind === 'cost' ? e.target.budgetMs : undefined);
      policy.fit?.(calSet, budgetMs === undefined ? {} : { budgetMs });
      const stats = exitStats(runPolicy(policy, testSet), testSet);
      const riskOf = (x: { meanCostMs: number; gap: number }) => (e.target.kind === 'cost' ? x.meanCostMs : x.gap);
      const testRisk = riskOf(stats);
      const limit = e.target.kind === 'cost' ? e.target.budgetMs : e.target.epsilon;
      const population = test ?? cal;
      const poolRisk = population === testSet ? testRisk : riskOf(exitStats(runPolicy(policy, population), population));
      records.push({ split: r, label: e.label, testCostMs: stats.meanCostMs, testAccuracy: stats.accuracy, testGap: stats.gap, testRisk, violated: testRisk > limit, poolRisk, poolViolated: poolRisk > limit, exitShares: stats.exitShares });
    }
  }
  const summary = opts.entries.map((e): StudySummary => {
    const mine = records.filter((x) => x.label === e.label);
    const mean = (f: (x: SplitRecord) => number) => mine.reduce((a, x) => a + f(x), 0) / mine.length;
    const violations = mine.filter((x) => x.violated).length;
    return {
      label: e.label,
      target: e.target,
      splits: mine.length,
      violations,
      violationRate: violations / mine.length,
      poolViolationRate: mine.filter((x) => x.poolViolated).length / mine.length,
      meanTestRisk: mean((x) => x.testRisk),
      meanAccuracy: mean((x) => x.testAccuracy),
      meanCostMs: mean((x) => x.testCostMs),
      meanGap: mean((x) => x.testGap),
      exitShares: cal.trace.costMs.map((_, k) => mean((x) => x.exitShares[k])),
    };
  });
  return { records, summary };
}

