/**
 * Static thresholds: leave at the first exit k whose score reaches t_k. With `maxprob` this is SDN/MSDNet's
 * rule, with `entropy` BranchyNet's (as a confidence 1 − H/log C), with `patience` PABEE's (exit once that many
 * consecutive earlier exits agreed), with `margin` the top-1/top-2 gap. Thresholds are given, not fitted; for
 * thresholds calibrated to a cost budget use `budgeted-threshold`.
 */
import { InputError } from '../lib/errors.ts';
import type { Policy } from '../lib/policy.ts';
import { checkScoreName } from '../lib/reward.ts';
import { ParamReader, type PolicySpec } from '../lib/registry.ts';

/** Parameters of `threshold`. */
export interface ThresholdParams {
  /** Any score of the core (`maxprob`, `margin`, `entropy`, `patience`, or a learned one). */
  readonly score: string;
  /** One threshold shared by all exits, or one per exit 0..K−2 (the last exit always exits). */
  readonly thresholds: number | readonly number[];
}

/** Registry entry `threshold`: static thresholds, exit at the first k with score_k ≥ t_k (shared or per-exit t, any core score). */
export const threshold: PolicySpec<ThresholdParams> = {
  name: 'threshold',
  description: 'Exit at the first k with score_k ≥ t_k (SDN/MSDNet maxprob, BranchyNet entropy, PABEE patience, margin).',
  defaults: { score: 'maxprob', thresholds: 0.9 },
  testParams: (model) => [
    { score: 'maxprob', thresholds: 0.9 },
    { score: 'entropy', thresholds: 0.6 },
    { score: 'margin', thresholds: Array.from({ length: model.nExits - 1 }, (_, k) => 0.9 - 0.1 * k) },
    { score: 'patience', thresholds: 2 },
  ],
  budgeted: false,
  parse(raw) {
    const r = new ParamReader('policy "threshold"', raw);
    const score = r.choice('score', undefined, this.defaults.score);
    const thresholds = r.numberOrArray('thresholds', this.defaults.thresholds);
    r.done();
    return { score, thresholds };
  },
  create(params, { model }): Policy {
    const K = model.nExits;
    checkScoreName('policy "threshold"', 'params.score', params.score, model.scoreNames);
    const t = typeof params.thresholds === 'number' ? new Array<number>(K - 1).fill(params.thresholds) : [...params.thresholds];
    if (t.length !== K - 1) {
      throw new InputError('policy "threshold"', 'params.thresholds', `one number, or ${K - 1} (one per exit but the last)`, `${t.length} numbers`);
    }
    const score = params.score;
    const shown = typeof params.thresholds === 'number' ? String(params.thresholds) : `[${t.join(', ')}]`;
    return {
      name: `threshold(${score}≥${shown})`,
      decide: (view) => (view.score(score) >= t[view.exit] ? 'exit' : 'continue'),
    };
  },
};
