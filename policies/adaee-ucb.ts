/**
 * AdaEE-style threshold bandit (after Pacheco et al., "AdaEE: Adaptive Early-Exit DNN Inference Through
 * Multi-Armed Bandits", ICC 2023, which picks a confidence threshold online by UCB): UCB1 over a finite set of
 * threshold vectors. At each job's first decision (exit 0, which every uncommitted job reaches) it picks the arm
 * argmax_a mean_a + α·√(2 ln t / n_a) (every arm played once first, in order); the job then leaves at the first m
 * with c_m ≥ t_a[m]. The arm's reward is r at the exit taken, c − β·L, label-free. Arms: `thresholds`, each one
 * number (the same at every exit) or K−1 numbers; default 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 0.999
 * and "never exit early".
 */
import { InputError, describe } from '../lib/errors.ts';
import type { Policy } from '../lib/policy.ts';
import { ParamReader, type PolicySpec } from '../lib/registry.ts';
import { readReward, rewardSetup, ucb1Arm, REWARD_DEFAULTS, type RewardParams } from './bandit-common.ts';

/** Parameters of `adaee-ucb`. */
export interface AdaeeUcbParams extends RewardParams {
  /** α ≥ 0, scale of the UCB1 bonus. */
  readonly exploration: number;
  /** The arms: each a threshold shared by all exits, or one per exit 0..K−2. `null`/absent: the default set. */
  readonly thresholds: readonly (number | readonly number[])[];
}

const DEFAULT_ARMS: readonly number[] = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 0.999, Infinity];

/** Registry entry `adaee-ucb`: AdaEE-style UCB1 over a finite set of shared confidence thresholds (the arms), online and label-free; see the file comment. */
export const adaeeUcb: PolicySpec<AdaeeUcbParams> = {
  name: 'adaee-ucb',
  description: 'AdaEE-style UCB1 over a finite set of confidence-threshold vectors, one arm per job, reward c − β·L.',
  defaults: { ...REWARD_DEFAULTS, exploration: 0.5, thresholds: DEFAULT_ARMS },
  testParams: (model) => [{}, { beta: 0, thresholds: [0.5, [0.9, ...new Array<number>(Math.max(0, model.nExits - 2)).fill(0.6)]] }, { beta: 4, exploration: 0 }],
  budgeted: false,
  parse(raw) {
    const src = 'policy "adaee-ucb"';
    // ParamReader has no reader for arrays of vectors: take `thresholds` out and check it here.
    const isObj = typeof raw === 'object' && raw !== null && !Array.isArray(raw);
    const { thresholds: rawArms, ...rest } = (isObj ? raw : {}) as Record<string, unknown>;
    const r = new ParamReader(src, isObj ? rest : raw);
    const reward = readReward(r, this.defaults);
    const exploration = r.number('exploration', this.defaults.exploration, { min: 0, max: 1e6 });
    r.done();
    const arms = rawArms ?? this.defaults.thresholds;
    const okNum = (x: unknown): x is number => typeof x === 'number' && !Number.isNaN(x);
    if (!Array.isArray(arms) || arms.length === 0 || !arms.every((a) => okNum(a) || (Array.isArray(a) && a.length > 0 && a.every(okNum)))) {
      throw new InputError(src, 'params.thresholds', 'a non-empty array of arms, each a number or an array of numbers', describe(arms));
    }
    return { ...reward, exploration, thresholds: arms.map((a) => (Array.isArray(a) ? [...(a as number[])] : (a as number))) };
  },
  create(p, { model }): Policy {
    const src = 'policy "adaee-ucb"';
    const reward = rewardSetup(src, model, p);
    const K = model.nExits;
    const A = p.thresholds.length;
    const t = new Float64Array(A * (K - 1)); // [arm][exit]
    p.thresholds.forEach((a, j) => {
      if (typeof a !== 'number' && a.length !== K - 1) throw new InputError(src, `params.thresholds[${j}]`, `one number or ${K - 1} numbers`, `${a.length} numbers`);
      for (let m = 0; m < K - 1; m++) t[j * (K - 1) + m] = typeof a === 'number' ? a : a[m];
    });
    const { score, beta } = p;
    const alpha2 = 2 * p.exploration * p.exploration;
    const n = new Float64Array(A);
    const mean = new Float64Array(A);
    let jobs = 0;
    let arm = 0;
    return {
      name: `adaee-ucb(${score}, β=${beta}, ${A} arms, α=${p.exploration})`,
      decide(view) {
        const m = view.exit;
        if (m === 0) arm = ucb1Arm(n, mean, ++jobs, alpha2);
        return view.score(score) >= t[arm * (K - 1) + m] ? 'exit' : 'continue';
      },
      observe(fb) {
        if (fb.committed) return;
        const m = fb.exit;
        const r = reward.value(fb.view.score(score, m), m);
        const k = ++n[arm];
        mean[arm] += (r - mean[arm]) / k;
      },
    };
  },
};
