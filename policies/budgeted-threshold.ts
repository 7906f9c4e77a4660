/**
 * Budgeted thresholds, the MSDNet way (Huang et al., ICLR 2018, §4 "budgeted batch classification"; the same
 * procedure as the baselines of git-disl/EENet): for a mean-cost budget B, choose geometric exit shares
 * share_k ∝ q^k with expected cost ≤ B (q solved exactly), then set per-exit thresholds on a score by the
 * sorting procedure on the validation trace. Test time: exit at the first k with score_k ≥ t_k.
 *
 * With `maxprob` this is the MSDNet/SDN baseline, with `entropy` BranchyNet's, with `patience` a budgeted PABEE.
 * On the data it was fitted on, its mean cost is at most B (see `lib/calibrate.ts` for why, and for the two
 * deliberate differences from the reference code). On new data it is over B about half the time.
 *
 * `guarantee: { kind: 'cost', delta }` makes the budget hold on new data: with probability ≥ 1 − δ over an
 * exchangeable calibration set, the mean cost per new sample is ≤ B. The validation samples are split at random
 * (the policy's seeded stream): `pathFraction` of them (default 0.5) fit this same budget → thresholds map at
 * budgets from the first exit's cost up to B, the rest test those points from the cheapest end with
 * Learn-then-Test fixed-sequence testing and a Waudby-Smith–Ramdas (default) or Hoeffding–Bentkus p-value
 * (lib/risk.ts, lib/guarantee.ts). The price is a lower budget on the path, hence a little accuracy.
 */
import { calibratorFor, exitsByThresholds, geometricShares } from '../lib/calibrate.ts';
import { InputError } from '../lib/errors.ts';
import { fitRiskControlled, parseCostGuarantee, type CostGuarantee } from '../lib/guarantee.ts';
import type { Policy } from '../lib/policy.ts';
import { checkScoreName } from '../lib/reward.ts';
import { ParamReader, type PolicySpec } from '../lib/registry.ts';

/** Parameters of `budgeted-threshold`. The budget itself is the fit objective, not a parameter. */
export interface BudgetedThresholdParams {
  /** Score the thresholds apply to. */
  readonly score: string;
  /** Optional: make the budget hold on new data with probability ≥ 1 − δ (module comment). */
  readonly guarantee?: CostGuarantee;
}

/** Registry entry `budgeted-threshold`: MSDNet budgeted thresholds on any core score, fitted to a mean-cost budget (ms) on validation; never over budget on the fitting data. */
export const budgetedThreshold: PolicySpec<BudgetedThresholdParams> = {
  name: 'budgeted-threshold',
  description: 'MSDNet budgeted thresholds: geometric exit shares for the budget, thresholds by sorting validation scores.',
  defaults: { score: 'maxprob' },
  testParams: () => [
    { score: 'maxprob' },
    { score: 'entropy' },
    { score: 'margin' },
    { score: 'patience' },
    { score: 'maxprob', guarantee: { kind: 'cost', delta: 0.1 } },
    { score: 'entropy', guarantee: { kind: 'cost', delta: 0.05, bound: 'hb', points: 20 } },
  ],
  budgeted: true,
  parse(raw) {
    const r = new ParamReader('policy "budgeted-threshold"', raw);
    const score = r.choice('score', undefined, this.defaults.score);
    const guarantee = parseCostGuarantee('policy "budgeted-threshold"', r.optionalObject('guarantee'));
    r.done();
    return guarantee ? { score, guarantee } : { score };
  },
  create(params, { model, rng }): Policy {
    const src = 'policy "budgeted-threshold"';
    checkScoreName(src, 'params.score', params.score, model.scoreNames);
    const score = params.score;
    let t: Float64Array | undefined;
    let label = `budgeted ${score}`;
    return {
      get name() {
        return label;
      },
      fit(validation, objective) {
        const B = objective.budgetMs;
        if (B === undefined) throw new InputError(src, 'budgetMs', 'a budget in milliseconds for fit()', 'none');
        const K = validation.trace.nExits;
        const values = validation.scores.get(score);
        let details: Record<string, unknown>;
        let cost = 0;
        const g = params.guarantee;
        if (g) {
          const fit = fitRiskControlled(validation, score, { kind: 'cost', budgetMs: B }, { method: 'ltt', path: 'budget', ...g }, rng);
          t = fit.thresholds;
          label = `budgeted ${score} (B=${+B.toFixed(4)} ms, ≤ B w.p. ≥ ${1 - g.delta})`;
          details = { thresholds: Array.from(t), pathBudgetMs: fit.parameter, pathIndex: fit.pathIndex, nPath: fit.nPath, nTest: fit.nTest, pValues: fit.selection.pValues.slice(-2) };
          const exits = exitsByThresholds(values, K, t);
          for (let n = 0; n < exits.length; n++) cost += validation.trace.costMs[exits[n]];
        } else {
          const shares = geometricShares(validation.trace.costMs, B);
          // One sort per exit of the validation scores serves every budget fitted on them (a sweep, a ladder).
          const fitted = calibratorFor(values, K).fit(shares);
          t = fitted.thresholds;
          for (let k = 0; k < K; k++) cost += fitted.counts[k] * validation.trace.costMs[k];
          label = `budgeted ${score} (B=${+B.toFixed(4)} ms)`;
          details = { targetShares: shares, thresholds: Array.from(t) };
        }
        return { expectedCostMs: cost / validation.trace.nSamples, details };
      },
      decide(view) {
        if (!t) throw new InputError(src, 'fit', 'fit(validation, {budgetMs}) before the first decision', 'an unfitted policy');
        return view.score(score) >= t[view.exit] ? 'exit' : 'continue';
      },
      // The same rule over the whole score column at once; unfitted, the per-decision path raises the error.
      decideAll(scored) {
        if (!t || scored.trace.nExits !== t.length) return undefined;
        return exitsByThresholds(scored.scores.get(score), t.length, t);
      },
    };
  },
};
