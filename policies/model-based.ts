/**
 * Model-based single-exit scheduler (Casale & Roveri, "Scheduling Inputs in Early Exit Neural Networks", IEEE
 * TC 2024; read in imperial-qore/CEED). For the estimated arrival rate λ and system capacity K = B + 1:
 * for each mean service time p on a grid over [min t_i, max t_i], ρ = λp; find the largest squared coefficient
 * of variation c² whose M/G/1/K approximate loss (`mg1kLoss`) stays within ε; then solve the LP
 *   max Σ π_i a_i  s.t.  Σ π_i = 1,  Σ π_i t_i = p,  Σ π_i t_i² ≤ (1 + c²) p²,  0 ≤ π_i ≤ 1,
 * keep the best π over the grid (none feasible: everything at the first exit), and draw each job's exit from π.
 *
 * Deliberate differences from the reference code:
 * - one consistent c² in the loss formula and in the LP (the code mixes s and s²);
 * - ρ = 1 and K = ∞ guarded (see `mg1kLoss`);
 * - π is re-solved only when the rate estimate leaves its bucket: λ is snapped to a log-spaced grid
 *   (`rateBucket` relative width, default 5%), and each (bucket, K) solution is cached — a table over λ built
 *   lazily and shared by every instance with the same profile, so sweeps pay for each LP once.
 * The LP has K variables and three rows, so it is solved exactly by vertex enumeration (`solveMomentLp`,
 * policies/moment-lp.ts) in microseconds; test/moment-lp.test.ts checks it against HiGHS (npm `highs`) on random
 * profiles and on the fixtures' profiles over the whole grid (same objective to 1e-12).
 */
import { mg1kLoss } from './mg1k.ts';
import type { Policy } from '../lib/policy.ts';
import { ParamReader, type PolicySpec } from '../lib/registry.ts';
import { solveMomentLp } from './moment-lp.ts';
import { mostAccurateExit, oneHot, profileExits, requireProfile, sampleExit, type ExitProfile } from './scheduler-common.ts';

/** Parameters of `model-based`. */
export interface ModelBasedParams {
  /** Loss target ε: the largest acceptable predicted loss probability. */
  readonly lossTarget: number;
  /** Points on the grid of mean service times p. */
  readonly gridPoints: number;
  /** Relative width of the λ buckets π is cached for. */
  readonly rateBucket: number;
}

/** Largest c² searched; beyond it the second-moment constraint no longer binds for realistic exit costs. */
const C2_MAX = 100;

const cache = new Map<string, Float64Array>();

/**
 * Empty the module-level table of solved π (shared by every instance with the same profile). Benchmarks call it
 * to time a cold start; results never depend on it, since a cached π equals a freshly solved one.
 */
export function resetModelBasedCache(): void {
  cache.clear();
}

/**
 * The largest c² in [0, C2_MAX] with mg1kLoss(ρ, c², K) ≤ ε, given loss(0) ≤ ε < loss(C2_MAX) (the loss grows
 * with c²). Regula falsi with the Illinois modification on the bracket: superlinear, about 10 evaluations to
 * 1e-13 where plain bisection takes 50, and the returned end is always on the feasible side, as bisection's `lo`.
 */
function largestC2Within(rho: number, capacity: number, lossTarget: number): number {
  let lo = 0;
  let hi = C2_MAX;
  let flo = mg1kLoss(rho, lo, capacity) - lossTarget;
  let fhi = mg1kLoss(rho, hi, capacity) - lossTarget;
  let side = 0;
  for (let i = 0; i < 100 && hi - lo > 1e-13 * (1 + hi); i++) {
    let x = (lo * fhi - hi * flo) / (fhi - flo);
    // Fall back to the midpoint when the secant leaves the bracket or stalls at an end (round-off).
    if (!(x > lo && x < hi)) x = (lo + hi) / 2;
    const fx = mg1kLoss(rho, x, capacity) - lossTarget;
    if (fx <= 0) {
      lo = x;
      flo = fx;
      if (side === -1) fhi /= 2;
      side = -1;
    } else {
      hi = x;
      fhi = fx;
      if (side === 1) flo /= 2;
      side = 1;
    }
  }
  return lo;
}

/**
 * Solve the model-based scheduler's problem for one arrival rate.
 * @param ratePerMs λ, jobs per ms.
 * @param capacity K = B + 1.
 * @returns π, length = number of exits.
 */
export function solveModelBased(profile: ExitProfile, ratePerMs: number, capacity: number, lossTarget: number, gridPoints: number): Float64Array {
  const { timeMs: t, accuracy: a } = profile;
  const K = t.length;
  const tMin = Math.min(...t);
  const tMax = Math.max(...t);
  let bestObj = -Infinity;
  let best: Float64Array | undefined;
  for (let g = 0; g < gridPoints; g++) {
    const p = gridPoints === 1 ? tMax : tMin + ((tMax - tMin) * g) / (gridPoints - 1);
    const rho = ratePerMs * p;
    if (mg1kLoss(rho, 0, capacity) > lossTarget) continue;
    const c2 = mg1kLoss(rho, C2_MAX, capacity) <= lossTarget ? C2_MAX : largestC2Within(rho, capacity, lossTarget);
    const pi = solveMomentLp(t, a, p, (1 + c2) * p * p);
    if (!pi) continue;
    let obj = 0;
    for (let i = 0; i < K; i++) obj += pi[i] * a[i];
    if (obj > bestObj + 1e-12) {
      bestObj = obj;
      best = pi;
    }
  }
  if (!best) {
    best = new Float64Array(K);
    best[0] = 1;
  }
  return best;
}

/** Registry entry `model-based`: the backlog scheduler of Casale & Roveri built on the M/G/1/K blocking approximation and an LP over exit shares. */
export const modelBased: PolicySpec<ModelBasedParams> = {
  name: 'model-based',
  description: 'Backlog scheduler: M/G/1/K loss approximation + LP over exit shares (exact vertex enumeration), cached per rate bucket.',
  defaults: { lossTarget: 0.01, gridPoints: 100, rateBucket: 0.05 },
  testParams: () => [{}, { lossTarget: 0.1, gridPoints: 20 }],
  budgeted: false,
  stochastic: true,
  parse(raw) {
    const r = new ParamReader('policy "model-based"', raw);
    const lossTarget = r.number('lossTarget', this.defaults.lossTarget, { min: 0, max: 1 });
    const gridPoints = r.number('gridPoints', this.defaults.gridPoints, { min: 1, max: 10000, integer: true });
    const rateBucket = r.number('rateBucket', this.defaults.rateBucket, { min: 1e-6, max: 1 });
    r.done();
    return { lossTarget, gridPoints, rateBucket };
  },
  create(params, { rng }): Policy {
    let profile: ExitProfile | undefined;
    let profileKey = '';
    const logBase = Math.log(1 + params.rateBucket);
    // Per-instance view of the shared cache for the current capacity, keyed by bucket number: the hot path
    // does one Math.log and one numeric Map lookup per job.
    let local = new Map<number, Float64Array>();
    let localCapacity = NaN;
    /** π of the latest job (for `exitDistribution`). */
    let current: ArrayLike<number> | undefined;
    return {
      name: `model-based scheduler (ε=${params.lossTarget})`,
      fit(validation) {
        profile = profileExits(validation);
        profileKey = JSON.stringify([profile.timeMs, profile.accuracy, params.lossTarget, params.gridPoints, params.rateBucket]);
        local = new Map();
        return { details: { ...profile } };
      },
      commit(state) {
        const prof = requireProfile(profile, 'model-based');
        const rate = state.arrivalRatePerMs;
        if (rate === undefined || !(rate > 0)) {
          const e = mostAccurateExit(prof);
          // Rare (no rate estimate yet): a one-hot distribution.
          current = oneHot(e, prof.timeMs.length);
          return e;
        }
        const capacity = state.bufferCapacity + 1;
        if (capacity !== localCapacity) {
          local = new Map();
          localCapacity = capacity;
        }
        const bucket = Math.round(Math.log(rate) / logBase);
        let pi = local.get(bucket);
        if (!pi) {
          const key = `${profileKey}|${capacity}|${bucket}`;
          pi = cache.get(key);
          if (!pi) {
            pi = solveModelBased(prof, Math.exp(bucket * logBase), capacity, params.lossTarget, params.gridPoints);
            cache.set(key, pi);
          }
          local.set(bucket, pi);
        }
        current = pi;
        return sampleExit(pi, rng);
      },
      exitDistribution: () => (current ? Array.from(current) : undefined),
    };
  },
};
