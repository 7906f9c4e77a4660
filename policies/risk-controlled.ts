/**
 * Risk-controlled thresholds (Jazbec et al., "Fast yet Safe: Early-Exiting with Risk Control", NeurIPS 2024):
 * threshold vectors chosen on a calibration set so that a risk on new data stays within a target.
 * - `risk-cost`: mean cost per sample ≤ the fit's budget B (ms). Budgeted: `fit(validation, { budgetMs })`.
 * - `risk-gap`: the share of samples whose early-exit prediction is wrong while the full network's is right
 *   ≤ `epsilon` (the paper's performance-gap risk with the 0–1 loss, §3.2). Not budgeted: its cost is whatever
 *   the gap allows.
 * Selection (`method`, lib/risk.ts): `ltt` — Learn-then-Test fixed-sequence testing from the risk's safe end,
 * risk ≤ target with probability ≥ 1 − `delta` over the calibration draw; `crc` — conformal risk control, risk ≤
 * target in expectation over the draw; `naive` — empirical risk ≤ target (plain calibration), no guarantee. The
 * last two are the paper's baselines. Paths (`path`, lib/guarantee.ts): `budget` — the MSDNet budget →
 * thresholds map fitted on a random `pathFraction` of the calibration samples and tested on the rest; `shared` —
 * one threshold on every exit over a fixed grid (the paper's setting), tested on every sample.
 * Every method uses the same path and the same split, so they differ only in the acceptance rule.
 */
import { InputError } from '../lib/errors.ts';
import { fitRiskControlled, GUARANTEE_DEFAULTS, type RiskControlSettings, type RiskTarget } from '../lib/guarantee.ts';
import { exitsByThresholds } from '../lib/calibrate.ts';
import type { ModelInfo, Policy, PolicyContext } from '../lib/policy.ts';
import type { ScoredTrace } from '../lib/scores.ts';
import { ParamReader, type PolicySpec, type RawParams } from '../lib/registry.ts';
import { checkScoreName } from '../lib/reward.ts';
import type { RiskBound, RiskMethod } from '../lib/risk.ts';

/** Parameters shared by `risk-cost` and `risk-gap`. */
export interface RiskControlledParams {
  /** Score the thresholds apply to. */
  readonly score: string;
  /** Selection rule. Default 'ltt'. */
  readonly method: RiskMethod;
  /** δ ∈ (0, 1): the probability `ltt` may fail. Default 0.1. Recorded (unused) for `crc` and `naive`. */
  readonly delta: number;
  /** Bound of `ltt`'s p-values on non-binary losses (costs). Default 'wsr'. */
  readonly bound: RiskBound;
  /** Path of threshold vectors. Default 'budget'. */
  readonly path: 'budget' | 'shared';
  /** Budget path: share of calibration samples fitting the path. Default 0.5. */
  readonly pathFraction: number;
  /** Points on the path (budget path: budgets; shared path: grid values of a [0, 1] score). Default 100. */
  readonly points: number;
}

/** Parameters of `risk-gap`. */
export interface RiskGapParams extends RiskControlledParams {
  /** Target ε ∈ [0, 1] of the performance-gap risk. Default 0.02. */
  readonly epsilon: number;
}

const COMMON_DEFAULTS: RiskControlledParams = {
  score: 'maxprob',
  method: 'ltt',
  delta: 0.1,
  bound: GUARANTEE_DEFAULTS.bound,
  path: 'budget',
  pathFraction: GUARANTEE_DEFAULTS.pathFraction,
  points: GUARANTEE_DEFAULTS.points,
};

function readCommon(r: ParamReader, d: RiskControlledParams): RiskControlledParams {
  return {
    score: r.choice('score', undefined, d.score),
    method: r.choice('method', ['ltt', 'crc', 'naive'] as const, d.method),
    delta: r.number('delta', d.delta, { min: 1e-12, max: 1 - 1e-12 }),
    bound: r.choice('bound', ['wsr', 'hb'] as const, d.bound),
    path: r.choice('path', ['budget', 'shared'] as const, d.path),
    pathFraction: r.number('pathFraction', d.pathFraction, { min: 0.01, max: 0.99 }),
    points: r.number('points', d.points, { min: 2, max: 100000, integer: true }),
  };
}

function checkScore(src: string, params: RiskControlledParams, model: ModelInfo): void {
  checkScoreName(src, 'params.score', params.score, model.scoreNames);
}

function settingsOf(p: RiskControlledParams): RiskControlSettings {
  return { method: p.method, delta: p.delta, bound: p.bound, path: p.path, pathFraction: p.pathFraction, points: p.points };
}

function methodLabel(p: RiskControlledParams): string {
  const how = p.method === 'ltt' ? `ltt-${p.bound} δ=${p.delta}` : p.method;
  return `${how}, ${p.path} path`;
}

/** A threshold policy whose thresholds come from `fitRiskControlled` for the target the fit builds. */
function thresholdPolicy(src: string, params: RiskControlledParams, ctx: PolicyContext, targetOf: (objective: { budgetMs?: number }) => RiskTarget, labelOf: (target: RiskTarget) => string): Policy {
  let t: Float64Array | undefined;
  let label = `${src} (unfitted)`;
  const score = params.score;
  return {
    get name() {
      return label;
    },
    fit(validation: ScoredTrace, objective) {
      const target = targetOf(objective);
      const fit = fitRiskControlled(validation, score, target, settingsOf(params), ctx.rng);
      t = fit.thresholds;
      label = labelOf(target);
      const exits = exitsByThresholds(validation.scores.get(score), validation.trace.nExits, t);
      let cost = 0;
      for (let n = 0; n < exits.length; n++) cost += validation.trace.costMs[exits[n]];
      return {
        expectedCostMs: cost / exits.length,
        details: { thresholds: Array.from(t), pathIndex: fit.pathIndex, pathParameter: fit.parameter, alpha: fit.alpha, nPath: fit.nPath, nTest: fit.nTest },
      };
    },
    decide(view) {
      if (!t) throw new InputError(src, 'fit', 'fit(validation, …) before the first decision', 'an unfitted policy');
      return view.score(score) >= t[view.exit] ? 'exit' : 'continue';
    },
  };
}

const testCommon = (model: ModelInfo): RawParams[] => [
  {},
  { method: 'crc', score: 'entropy' },
  { method: 'naive', points: 10 },
  { bound: 'hb', delta: 0.05, pathFraction: 0.3 },
  { path: 'shared', score: 'margin', points: 20 },
  ...(model.nExits > 2 ? [{ path: 'shared', score: 'patience' }] : []),
];

/** Registry entry `risk-cost`: thresholds whose mean cost on new data is ≤ the fit's budget, w.p. ≥ 1 − δ (`ltt`), in expectation (`crc`) or on the calibration data only (`naive`). */
export const riskCost: PolicySpec<RiskControlledParams> = {
  name: 'risk-cost',
  description: 'Risk-controlled thresholds for a mean-cost budget: Learn-then-Test (WSR/HB), CRC or naive along a threshold path (Jazbec et al., NeurIPS 2024).',
  defaults: COMMON_DEFAULTS,
  testParams: testCommon,
  budgeted: true,
  parse(raw) {
    const r = new ParamReader('policy "risk-cost"', raw);
    const p = readCommon(r, this.defaults);
    r.done();
    return p;
  },
  create(params, ctx): Policy {
    const src = 'policy "risk-cost"';
    checkScore(src, params, ctx.model);
    return thresholdPolicy(
      src,
      params,
      ctx,
      (objective) => {
        if (objective.budgetMs === undefined) throw new InputError(src, 'budgetMs', 'a budget in milliseconds for fit()', 'none');
        return { kind: 'cost', budgetMs: objective.budgetMs };
      },
      (target) => `risk-cost ${params.score} (B=${target.kind === 'cost' ? +target.budgetMs.toFixed(4) : '?'} ms, ${methodLabel(params)})`,
    );
  },
};

/** Registry entry `risk-gap`: thresholds whose performance-gap risk (early exit wrong, full network right) on new data is ≤ ε, w.p. ≥ 1 − δ (`ltt`), in expectation (`crc`) or on the calibration data only (`naive`). */
export const riskGap: PolicySpec<RiskGapParams> = {
  name: 'risk-gap',
  description: 'Risk-controlled thresholds for the accuracy gap to the full network (RC-EENN risk): Learn-then-Test, CRC or naive along a threshold path (Jazbec et al., NeurIPS 2024).',
  defaults: { ...COMMON_DEFAULTS, epsilon: 0.02 },
  testParams: (model) => [...testCommon(model), { epsilon: 0 }, { epsilon: 0.2, method: 'naive', path: 'shared' }],
  budgeted: false,
  parse(raw) {
    const r = new ParamReader('policy "risk-gap"', raw);
    const p = readCommon(r, this.defaults);
    const epsilon = r.number('epsilon', this.defaults.epsilon, { min: 0, max: 1 });
    r.done();
    return { ...p, epsilon };
  },
  create(params, ctx): Policy {
    const src = 'policy "risk-gap"';
    checkScore(src, params, ctx.model);
    return thresholdPolicy(
      src,
      params,
      ctx,
      () => ({ kind: 'gap', epsilon: params.epsilon }),
      () => `risk-gap ${params.score} (ε=${params.epsilon}, ${methodLabel(params)})`,
    );
  },
};
