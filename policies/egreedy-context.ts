/**
 * ε-greedy on DEE's contexts: the same per-(exit, bin of c_m) value of continuing V̂(m, x), learned the same way
 * (running mean of max(r_{m+1}, V̂(m+1, x_{m+1})) from inputs that continued past m, see `policies/dee.ts`), but
 * explored by chance instead of by optimism: with probability ε a decision is a fair coin (exit or continue),
 * otherwise greedy — continue iff V̂(m, x) > r_m, and continue from a context never continued from. The
 * bootstrapped target uses the plain mean (no optimism to propagate). Randomness only from the policy's Rng.
 */
import type { Policy } from '../lib/policy.ts';
import { ParamReader, type PolicySpec } from '../lib/registry.ts';
import { ContinueValues, readContext, readReward, rewardSetup, CONTEXT_DEFAULTS, REWARD_DEFAULTS, type ContextParams, type RewardParams } from './bandit-common.ts';

/** Parameters of `egreedy-context`. */
export interface EgreedyContextParams extends RewardParams, ContextParams {
  /** ε in [0, 1]: probability that a decision is random. */
  readonly epsilon: number;
  /** γ in (0, 1]: discount of old targets (1 = sample mean). */
  readonly forgetting: number;
}

/** Registry entry `egreedy-context`: ε-greedy exit/continue on DEE's per-exit contexts and value table (the bandit baseline without optimism). */
export const egreedyContext: PolicySpec<EgreedyContextParams> = {
  name: 'egreedy-context',
  description: 'ε-greedy on DEE’s per-exit binned-confidence contexts with the same backward value of continuing.',
  defaults: { ...REWARD_DEFAULTS, ...CONTEXT_DEFAULTS, epsilon: 0.05, forgetting: 1 },
  testParams: () => [{}, { beta: 0, epsilon: 0 }, { beta: 2, epsilon: 1, bins: 3, binScale: 'linear' }],
  budgeted: false,
  stochastic: true,
  parse(raw) {
    const r = new ParamReader('policy "egreedy-context"', raw);
    const reward = readReward(r, this.defaults);
    const ctx = readContext(r, this.defaults);
    const epsilon = r.number('epsilon', this.defaults.epsilon, { min: 0, max: 1 });
    const forgetting = r.number('forgetting', this.defaults.forgetting, { min: 1e-6, max: 1 });
    r.done();
    return { ...reward, ...ctx, epsilon, forgetting };
  },
  create(p, { model, rng }): Policy {
    const reward = rewardSetup('policy "egreedy-context"', model, p);
    const table = new ContinueValues(model.nExits, p, p.forgetting);
    const { mean, n } = table;
    const { score, beta, epsilon } = p;
    const r = rng.fork('egreedy');
    const plainMean = (i: number): number => (n[i] > 0 ? mean[i] : -Infinity);
    return {
      name: `egreedy-context(${score}, β=${beta}, ε=${epsilon})`,
      decide(view) {
        const m = view.exit;
        const c = view.score(score);
        if (epsilon > 0 && r.float() < epsilon) return r.float() < 0.5 ? 'exit' : 'continue';
        const i = table.index(m, c);
        if (n[i] === 0) return 'continue';
        return mean[i] > reward.value(c, m) ? 'continue' : 'exit';
      },
      observe(fb) {
        if (fb.committed || fb.exit === 0) return;
        table.learn(fb.view, reward, fb.exit, plainMean);
      },
    };
  },
};
