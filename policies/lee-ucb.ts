/**
 * LEE-style multi-armed bandit (after Ju et al., "Learning Early Exit for DNN Inference on Mobile Devices through
 * Multi-Armed Bandits", CCGrid 2021; known from its abstract only): the arms are the exits, no context. At each
 * job start UCB1 picks an exit and commits to it: argmax_m mean_m + α·√(2 ln t / n_m), every arm played once
 * first (in exit order); t = jobs so far. The reward of the pulled arm is observed label-free after the job:
 * r_m = c_m − β·L_m at the exit taken (same definition as the harness). One decision per job, so it cannot
 * adapt to the input — the gap DEE's contexts close.
 */
import type { Policy } from '../lib/policy.ts';
import { ParamReader, type PolicySpec } from '../lib/registry.ts';
import { readReward, rewardSetup, ucb1Arm, REWARD_DEFAULTS, type RewardParams } from './bandit-common.ts';

/** Parameters of `lee-ucb`. */
export interface LeeUcbParams extends RewardParams {
  /** α ≥ 0, scale of the UCB1 bonus. */
  readonly exploration: number;
}

/** Registry entry `lee-ucb`: LEE-style UCB1 over exits, one exit committed per job, no context. */
export const leeUcb: PolicySpec<LeeUcbParams> = {
  name: 'lee-ucb',
  description: 'LEE-style UCB1 over exits (no context): one exit committed per job, reward c − β·L observed after it.',
  defaults: { ...REWARD_DEFAULTS, exploration: 0.5 },
  testParams: () => [{}, { beta: 0, exploration: 0 }, { beta: 3, score: 'margin', exploration: 2 }],
  budgeted: false,
  parse(raw) {
    const r = new ParamReader('policy "lee-ucb"', raw);
    const reward = readReward(r, this.defaults);
    const exploration = r.number('exploration', this.defaults.exploration, { min: 0, max: 1e6 });
    r.done();
    return { ...reward, exploration };
  },
  create(p, { model }): Policy {
    const reward = rewardSetup('policy "lee-ucb"', model, p);
    const K = model.nExits;
    const { score, beta } = p;
    const alpha2 = 2 * p.exploration * p.exploration;
    const n = new Float64Array(K);
    const mean = new Float64Array(K);
    let t = 0;
    return {
      name: `lee-ucb(${score}, β=${beta}, α=${p.exploration})`,
      commit: () => ucb1Arm(n, mean, ++t, alpha2),
      observe(fb) {
        const m = fb.exit;
        const r = reward.value(fb.view.score(score, m), m);
        const k = ++n[m];
        mean[m] += (r - mean[m]) / k;
      },
    };
  },
};
