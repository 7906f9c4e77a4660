/**
 * Rate-based single-exit scheduler (imperial-qore/CEED `single_exit`, beside Casale & Roveri, IEEE TC 2024).
 * At every job start, with q jobs waiting, it plans the next k = q + 1 jobs: the time until the buffer would
 * fill is T = (mean inter-arrival time) × (K − q), K = B + 1; it picks integer exit counts n_i (Σ n_i = k)
 * maximising Σ n_i a_i subject to Σ n_i t_i ≤ T — a bounded knapsack, solved exactly here (`ExitKnapsack`,
 * instead of the reference's branch-and-bound whose bound can prune the optimum) — and draws this job's exit
 * from π_i = n_i / k. If nothing fits, the first exit. With no rate estimate yet (first job), T = ∞.
 * t_i and a_i are profiled on the validation trace by `fit`.
 */
import { ExitKnapsack } from './knapsack.ts';
import type { Policy } from '../lib/policy.ts';
import { ParamReader, type PolicySpec } from '../lib/registry.ts';
import { mostAccurateExit, oneHot, profileExits, requireProfile, type ExitProfile } from './scheduler-common.ts';

/** `rate-based` has no parameters: everything comes from the profile and the system state. */
export type RateBasedParams = Record<string, never>;

/** Registry entry `rate-based`: the backlog scheduler of Casale & Roveri that plans the next jobs by an exact bounded knapsack within the time until the buffer fills. */
export const rateBased: PolicySpec<RateBasedParams> = {
  name: 'rate-based',
  description: 'Backlog scheduler: exact bounded knapsack over the next q+1 jobs within the time until the buffer fills.',
  defaults: {},
  testParams: () => [{}],
  budgeted: false,
  stochastic: true,
  parse(raw) {
    new ParamReader('policy "rate-based"', raw).done();
    return {};
  },
  create(_params, { rng }): Policy {
    let profile: ExitProfile | undefined;
    const solvers = new Map<number, ExitKnapsack>();
    // The latest plan, for `exitDistribution`: exit counts over k jobs, or a single exit. Kept as references and
    // turned into shares only when asked, so the per-job path allocates nothing.
    let planCounts: ArrayLike<number> | undefined;
    let planK = 1;
    let planExit = -1;
    const planned = (i: number): number => {
      planCounts = undefined;
      planExit = i;
      return i;
    };
    return {
      name: 'rate-based scheduler',
      fit(validation) {
        profile = profileExits(validation);
        solvers.clear();
        return { details: { ...profile } };
      },
      commit(state) {
        const prof = requireProfile(profile, 'rate-based');
        const capacity = state.bufferCapacity + 1;
        const rate = state.arrivalRatePerMs;
        const T = rate === undefined || !Number.isFinite(capacity) ? Infinity : (capacity - state.queueLength) / rate;
        if (T === Infinity) return planned(mostAccurateExit(prof));
        let solver = solvers.get(capacity);
        if (!solver) {
          solver = new ExitKnapsack(prof.timeMs, prof.accuracy, capacity);
          solvers.set(capacity, solver);
        }
        const k = state.queueLength + 1;
        const counts = solver.solve(k, T);
        if (!counts) return planned(0);
        planCounts = counts;
        planK = k;
        // Draw uniformly among the k planned slots: exit i with probability n_i / k.
        let u = rng.int(k);
        for (let i = 0; i < counts.length; i++) {
          u -= counts[i];
          if (u < 0) return i;
        }
        return counts.length - 1;
      },
      exitDistribution() {
        if (planCounts) return Array.from(planCounts, (n) => n / planK);
        return planExit < 0 || !profile ? undefined : oneHot(planExit, profile.timeMs.length);
      },
    };
  },
};
