/**
 * Budgeted thresholds, the MSDNet way (Huang et al., ICLR 2018, §4 "budgeted batch classification"; the same
 * procedure as the baselines of git-disl/EENet): for a mean-cost budget B, choose geometric exit shares
 * share_k ∝ q^k with expected cost ≤ B (q solved exactly), then set per-exit thresholds on a score by the
 * sorting procedure on the validation trace. Test time: exit at the first k with score_k ≥ t_k.
 *
 * With `maxprob` this is the MSDNet/SDN baseline, with `entropy` BranchyNet's, with `patience` a budgeted PABEE.
 * On the data it was fitted on, its mean cost is at most B (see `lib/calibrate.ts` for why, and for the two
 * deliberate differences from the reference code).
 */
import { exitsByThresholds, geometricShares, thresholdsBySorting } from '../lib/calibrate.ts';
import { InputError } from '../lib/errors.ts';
import type { Policy } from '../lib/policy.ts';
import { checkScoreName } from '../lib/reward.ts';
import { ParamReader, type PolicySpec } from '../lib/registry.ts';

/** Parameters of `budgeted-threshold`. The budget itself is the fit objective, not a parameter. */
export interface BudgetedThresholdParams {
  /** Score the thresholds apply to. */
  readonly score: string;
}

/** Registry entry `budgeted-threshold`: MSDNet budgeted thresholds on any core score, fitted to a mean-cost budget (ms) on validation; never over budget on the fitting data. */
export const budgetedThreshold: PolicySpec<BudgetedThresholdParams> = {
  name: 'budgeted-threshold',
  description: 'MSDNet budgeted thresholds: geometric exit shares for the budget, thresholds by sorting validation scores.',
  defaults: { score: 'maxprob' },
  testParams: () => [{ score: 'maxprob' }, { score: 'entropy' }, { score: 'margin' }, { score: 'patience' }],
  budgeted: true,
  parse(raw) {
    const r = new ParamReader('policy "budgeted-threshold"', raw);
    const score = r.choice('score', undefined, this.defaults.score);
    r.done();
    return { score };
  },
  create(params, { model }): Policy {
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
        const shares = geometricShares(validation.trace.costMs, B);
        const values = validation.scores.get(score);
        t = thresholdsBySorting(values, K, shares);
        const exits = exitsByThresholds(values, K, t);
        let cost = 0;
        for (let n = 0; n < exits.length; n++) cost += validation.trace.costMs[exits[n]];
        label = `budgeted ${score} (B=${+B.toFixed(4)} ms)`;
        return { expectedCostMs: cost / exits.length, details: { targetShares: shares, thresholds: Array.from(t) } };
      },
      decide(view) {
        if (!t) throw new InputError(src, 'fit', 'fit(validation, {budgetMs}) before the first decision', 'an unfitted policy');
        return view.score(score) >= t[view.exit] ? 'exit' : 'continue';
      },
    };
  },
};
