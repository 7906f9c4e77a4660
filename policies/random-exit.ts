/**
 * Random exit: each job's exit is drawn at job start, uniformly or from a fixed exit distribution. A sanity
 * baseline: any policy that uses scores should beat the random exit with the same exit shares.
 */
import { geometricShares } from '../lib/calibrate.ts';
import { InputError } from '../lib/errors.ts';
import type { Policy } from '../lib/policy.ts';
import { ParamReader, type PolicySpec } from '../lib/registry.ts';

/** Parameters of `random-exit`. */
export interface RandomExitParams {
  /** Relative weight of each exit, length K; omitted = uniform. Normalised to shares. */
  readonly shares: readonly number[] | undefined;
  /**
   * Instead of `shares`: the MSDNet geometric exit shares for a budget this fraction of the way from the first
   * exit's cost (0) to the last's (1) — the exit distribution an ordinary EEN targets, drawn score-blind.
   */
  readonly geometricBudgetFraction: number | undefined;
}

/** Registry entry `random-exit`: an exit drawn per job from uniform or given shares with the policy's seeded stream; commits at job start. */
export const randomExit: PolicySpec<RandomExitParams> = {
  name: 'random-exit',
  description: 'Exit drawn per job at start from a fixed distribution (uniform by default); seeded.',
  defaults: { shares: undefined, geometricBudgetFraction: undefined },
  testParams: (model) => [{}, { shares: Array.from({ length: model.nExits }, (_, k) => k + 1) }, { geometricBudgetFraction: 0.5 }],
  budgeted: false,
  stochastic: true,
  parse(raw) {
    const r = new ParamReader('policy "random-exit"', raw);
    const shares = r.optionalWeights('shares');
    const geometricBudgetFraction = r.optionalNumber('geometricBudgetFraction', { min: 0, max: 1 });
    r.done();
    if (shares && geometricBudgetFraction !== undefined) {
      throw new InputError('policy "random-exit"', 'params.geometricBudgetFraction', 'either shares or geometricBudgetFraction, not both');
    }
    return { shares, geometricBudgetFraction };
  },
  create(params, { model, rng }): Policy {
    const K = model.nExits;
    const c = model.costMs;
    const f = params.geometricBudgetFraction;
    const w = params.shares ?? (f === undefined ? new Array<number>(K).fill(1) : geometricShares(c, c[0] + f * (c[K - 1] - c[0])));
    if (w.length !== K) throw new InputError('policy "random-exit"', 'params.shares', `${K} weights, one per exit`, `${w.length}`);
    const total = w.reduce((a, b) => a + b, 0);
    const cdf = new Float64Array(K);
    let acc = 0;
    for (let k = 0; k < K; k++) cdf[k] = acc += w[k] / total;
    const label = params.shares || f !== undefined ? `[${w.map((x) => +(x / total).toFixed(3)).join(', ')}]` : 'uniform';
    return {
      name: `random exit (${label})`,
      commit: () => {
        const u = rng.float();
        let k = 0;
        while (k < K - 1 && !(u < cdf[k])) k++;
        return k;
      },
    };
  },
};
