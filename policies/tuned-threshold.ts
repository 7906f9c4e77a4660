/**
 * A fixed confidence threshold tuned offline for the online reward: `fit` picks the one threshold t (shared by
 * all exits) that maximises the mean reward r_exit = c_exit − β·L_exit on the validation split, where a sample
 * leaves at the first exit with c_m ≥ t (else the last). Candidates: `gridSize` quantiles of the pooled scores at
 * exits 0..K−2, plus "never exit early" (t = ∞); ties go to the larger threshold (the more accurate rule). After
 * fitting it never changes (the static baseline DEE must beat online). Before any fit it runs to the last exit.
 * Labels are not needed for the reward, but fitting on validation keeps test data unseen.
 */
import type { Policy } from '../lib/policy.ts';
import { ParamReader, type PolicySpec } from '../lib/registry.ts';
import { readReward, rewardSetup, REWARD_DEFAULTS, type RewardParams } from './bandit-common.ts';

/** Parameters of `tuned-threshold`. */
export interface TunedThresholdParams extends RewardParams {
  /** Number of candidate thresholds (quantiles of the validation scores), in [2, 10000]. */
  readonly gridSize: number;
}

/** Registry entry `tuned-threshold`: one confidence threshold fitted on validation to maximise the online reward c − β·L. */
export const tunedThreshold: PolicySpec<TunedThresholdParams> = {
  name: 'tuned-threshold',
  description: 'One confidence threshold for all exits, chosen on validation to maximise the mean reward c − β·L (the offline-tuned static baseline of DEE).',
  defaults: { ...REWARD_DEFAULTS, gridSize: 256 },
  testParams: () => [{}, { beta: 0 }, { beta: 5, score: 'entropy', gridSize: 8 }],
  budgeted: false,
  parse(raw) {
    const r = new ParamReader('policy "tuned-threshold"', raw);
    const reward = readReward(r, this.defaults);
    const gridSize = r.number('gridSize', this.defaults.gridSize, { min: 2, max: 10000, integer: true });
    r.done();
    return { ...reward, gridSize };
  },
  create(p, { model }): Policy {
    const reward = rewardSetup('policy "tuned-threshold"', model, p);
    const K = model.nExits;
    const { score, beta } = p;
    let t = Infinity;
    const policy: Policy = {
      name: `tuned-threshold(${score}, β=${beta}, unfitted)`,
      fit(validation) {
        const N = validation.trace.nSamples;
        const c = validation.scores.get(score);
        const pooled = new Float64Array(N * (K - 1));
        for (let n = 0; n < N; n++) for (let m = 0; m < K - 1; m++) pooled[n * (K - 1) + m] = c[n * K + m];
        pooled.sort();
        const candidates = new Set<number>([Infinity]);
        for (let g = 0; g < p.gridSize; g++) candidates.add(pooled[Math.min(pooled.length - 1, Math.floor((g * pooled.length) / (p.gridSize - 1)))]);
        let best = -Infinity;
        let bestT = Infinity;
        for (const cand of [...candidates].sort((a, b) => b - a)) {
          let s = 0;
          for (let n = 0; n < N; n++) {
            let m = 0;
            while (m < K - 1 && c[n * K + m] < cand) m++;
            s += reward.value(c[n * K + m], m);
          }
          if (s > best) {
            best = s;
            bestT = cand;
          }
        }
        t = bestT;
        (policy as { name: string }).name = `tuned-threshold(${score}≥${Number.isFinite(t) ? t.toFixed(4) : '∞'}, β=${beta})`;
        return { details: { threshold: t, validationMeanReward: best / N } };
      },
      decide: (view) => (view.score(score) >= t ? 'exit' : 'continue'),
    };
    return policy;
  },
};
